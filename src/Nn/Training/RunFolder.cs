// A run folder belongs to one run: a second process writing into it is refused (a lock file), a folder holding a
// previous run is refused unless the run is resumed or Overwrite is set, and after a crash the files that the
// checkpoint supersedes (metrics.jsonl, best.safetensors) are rebuilt from it, so no failure point leaves them
// disagreeing.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cuda.Nn.IO;

namespace Cuda.Nn.Training;

public sealed class RunFolder : IDisposable
{
    public const string CheckpointFile = "checkpoint.safetensors", BestFile = "best.safetensors", MetricsFile = "metrics.jsonl",
        ReportFile = "report.json", ConfigFile = "config.json", SplitFile = "split.json", CurvesFile = "curves.png", LockFile = ".lock";

    /// <summary>The files a run writes; Overwrite deletes them before a new run starts.</summary>
    public static readonly string[] RunFiles = [CheckpointFile, BestFile, MetricsFile, ReportFile, ConfigFile, SplitFile, CurvesFile];

    private readonly FileStream _lock;

    public string Dir { get; }

    private RunFolder(string dir, FileStream lockStream) { Dir = dir; _lock = lockStream; }

    public string PathOf(string file) => Path.Combine(Dir, file);

    /// <summary>
    /// Takes the folder for a run: creates it, locks it (an advisory lock the OS drops when the process dies, so a
    /// killed run leaves no stale lock), and refuses a previous run's folder unless resuming or overwriting.
    /// </summary>
    public static RunFolder Open(string dir, bool resuming, bool overwrite)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--out {dir}: cannot create the run folder ({e.Message})", e);
        }
        if (File.Exists(dir)) throw new IOException($"--out {dir}: is a file, not a folder");
        var lockPath = Path.Combine(dir, LockFile);
        FileStream fs;
        try { fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException e) when (File.Exists(lockPath))
        {
            string holder = "";
            try { holder = File.ReadAllText(lockPath + ".owner").Trim(); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw new IOException($"--out {dir}: another cudann process{(holder.Length > 0 ? $" ({holder})" : "")} is writing into this run folder; wait for it to finish or give another --out", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--out {dir}: cannot write into the run folder ({e.Message})", e);
        }
        var run = new RunFolder(dir, fs);
        try
        {
            var previous = RunFiles.Where(f => f != ConfigFile && f != SplitFile && File.Exists(Path.Combine(dir, f))).ToList();
            if (!resuming && previous.Count > 0 && !overwrite)
                throw new IOException($"--out {dir}: holds a previous run ({string.Join(", ", previous)}); give --resume {Path.Combine(dir, CheckpointFile)} to continue it, --overwrite true to replace it, or another --out");
            // Accepted: from here on the folder is this process's. Who holds it goes beside the lock, for another
            // process's refusal message (the locked file itself cannot be read by another process).
            AtomicFile.WriteAllText(lockPath + ".owner", $"pid {Environment.ProcessId}\n");
            // Temp files of a writer that was killed mid-write (nobody else writes here while we hold the lock).
            foreach (var tmp in Directory.EnumerateFiles(dir, ".*.tmp")) File.Delete(tmp);
            if (!resuming && previous.Count > 0)
                foreach (var f in RunFiles) File.Delete(Path.Combine(dir, f));
            return run;
        }
        catch { run.Dispose(); throw; }
    }

    /// <summary>metrics.jsonl as the checkpoint has it: one line per finished epoch (lines a crash left past the
    /// checkpoint are dropped, missing ones restored).</summary>
    public void WriteMetrics(IReadOnlyList<EpochMetrics> history) =>
        AtomicFile.WriteAllText(PathOf(MetricsFile), string.Concat(history.Select(m => JsonText.Serialize(m, TrainConfig.Json).ReplaceLineEndings(" ") + "\n")));

    public static IReadOnlyList<EpochMetrics> ReadMetrics(string path, int upToEpoch)
    {
        if (!File.Exists(path)) return [];
        var lines = File.ReadAllLines(path);
        var list = new List<EpochMetrics>();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try { list.Add(JsonText.Deserialize<EpochMetrics>(lines[i], TrainConfig.Json)!); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: line {i + 1} is not an epoch's metrics ({e.Message})", e); }
        }
        return [.. list.Where(m => m.Epoch <= upToEpoch)];
    }

    /// <summary>The hex SHA-256 of a text (split.json's content).</summary>
    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public void Dispose() => _lock.Dispose(); // the lock file stays: deleting it would race a process opening it
}
