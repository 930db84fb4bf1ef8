// Bad input to every cudann command, as a user gives it (issue 26): each row runs the command as a child process and
// checks the exit code (2 for a usage error, 1 for anything else), that stderr is one line "cudann COMMAND: ..."
// naming the file or option at fault, that no stack trace is printed, and that every file already in the work folder
// is byte-identical afterwards (and that nothing new appeared).
using System.Security.Cryptography;
using Cuda.Nn.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Cuda.Nn.Tests;

/// <summary>A work folder with a finished tiny run, broken files of each kind, a class-per-folder tree whose classes
/// are not the run's, a folder, a link to it, and (apart, since reading it would block) a named pipe.</summary>
public sealed class BadInputFixture : IDisposable
{
    /// <summary>The model the fixture's run trains (the rows that load it with another model expect this name).</summary>
    public const string RunModel = "mlp";

    public string Work { get; } = Directory.CreateTempSubdirectory("cli-bad-input").FullName;
    public string Special { get; }
    public string? RunError { get; }

    public BadInputFixture()
    {
        Special = Directory.CreateTempSubdirectory("cli-bad-input-special").FullName;
        File.WriteAllText(Path.Combine(Work, "unknown-key.json"), "{\"epochs\": 2, \"nosuch_option\": 1}");
        File.WriteAllText(Path.Combine(Work, "broken.json"), "{\"epochs\": ");
        File.WriteAllText(Path.Combine(Work, "plain.txt"), "a file, not a folder\n");
        File.WriteAllText(Path.Combine(Work, "broken.csv"), "item,a1\nx\n");
        File.WriteAllBytes(Path.Combine(Work, "corrupt.safetensors"), [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 37))]);
        File.WriteAllBytes(Path.Combine(Work, "corrupt.onnx"), [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 11))]);
        Directory.CreateDirectory(Path.Combine(Work, "dir"));
        File.CreateSymbolicLink(Path.Combine(Work, "link-to-dir"), Path.Combine(Work, "dir"));
        foreach (var cls in new[] { "cat", "dog" })
        {
            var d = Directory.CreateDirectory(Path.Combine(Work, "tree", cls)).FullName;
            for (int i = 0; i < 3; i++)
            {
                using var img = new Image<L8>(28, 28, new L8((byte)(40 * i + (cls == "cat" ? 0 : 120))));
                img.SaveAsPng(Path.Combine(d, $"{i}.png"));
            }
        }
        if (OperatingSystem.IsLinux()) _ = SpecialFiles.MakeFifo(Path.Combine(Special, "fifo.onnx"));
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) { RunError = "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"; return; }
        var (code, _, err) = CudannProcess.Run("train", "--model", RunModel, "--epochs", "1", "--train-limit", "300", "--test-limit", "100",
            "--batch-size", "50", "--threads", "1", "--out", Path.Combine(Work, "run"));
        if (code != 0) RunError = $"the fixture's training run failed ({code}): {err}";
    }


    /// <summary>Every regular file under the work folder (links not followed) with its SHA-256, and every folder.</summary>
    public SortedDictionary<string, string> Snapshot()
    {
        var r = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var e in new DirectoryInfo(Work).EnumerateFileSystemInfos("*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(Work, e.FullName);
            if (e.LinkTarget is not null) r[rel] = "link -> " + e.LinkTarget;
            else if (e is DirectoryInfo) r[rel] = "folder";
            else r[rel] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(e.FullName)));
        }
        return r;
    }

    public void Dispose()
    {
        Directory.Delete(Work, true);
        Directory.Delete(Special, true);
    }
}

public class CliBadInputTests(BadInputFixture fixture) : IClassFixture<BadInputFixture>
{
    private const string Ckpt = "{W}/run/checkpoint.safetensors";

    /// <summary>Command line ({W}: the work folder, {S}: the folder with the pipe), exit code, and the fragments the
    /// one-line message must hold.</summary>
    public static TheoryData<string, int, string> Rows => new()
    {
        // train, distill, kfold: the configuration
        { "train --config {W}/missing.json", 1, "--config|missing.json|no such file" },
        { "train --config {W}/unknown-key.json", 1, "unknown-key.json|nosuch_option" },
        { "train --config {W}/broken.json", 1, "broken.json|invalid config" },
        { "train --model nosuchmodel --out {W}/new-run", 1, "nosuchmodel|cudann models" },
        { "train --weight-decay -1 --out {W}/new-run", 1, "--weight-decay|weight_decay|-1" },
        { "train --momentum 1.5 --out {W}/new-run", 1, "--momentum|1.5" },
        { "train --grad-clip -2 --out {W}/new-run", 1, "--grad-clip|-2" },
        { "train --train-limit -1", 2, "--train-limit|-1" },
        { "train --epochs two", 2, "--epochs|two" },
        { "train --nesterov maybe", 2, "--nesterov|maybe" },
        { "train --lr", 2, "--lr|needs a value" },
        { "train --no-such-option 1", 2, "--no-such-option" },
        { "train --dist-timeout 0 --out {W}/new-run", 2, "--dist-timeout|0" },
        { "train --data {W}/no-data --out {W}/new-run", 1, "no-data" },
        // train: run folders
        { "train --out {W}/run", 1, "--out|previous run|--resume|--overwrite" },
        { "train --out {W}/plain.txt", 1, "plain.txt" },
        { "train --resume {W}", 1, "--resume|no checkpoint" },
        { "train --resume {W}/run --lr 0.5", 1, "--lr was|0.5" },
        { "train --resume {W}/run --config {W}/broken.json", 2, "--config with --resume" },
        { "distill --out {W}/new-run", 2, "--teacher" },
        { "kfold --folds 1", 2, "--folds" },
        // eval
        { "eval", 2, "--checkpoint" },
        { "eval --checkpoint {W}/missing.safetensors", 1, "missing.safetensors|no such file" },
        { "eval --checkpoint {W}/corrupt.safetensors", 1, "corrupt.safetensors" },
        { "eval --checkpoint " + Ckpt + " --data {W}/tree", 1, "{W}/tree|cat, dog|classes" },
        { "eval --checkpoint " + Ckpt + " --out {W}/plain.txt", 1, "--out|plain.txt|not a folder" },
        // export: targets that are not regular files, unwritable folders, another model
        { "export --checkpoint " + Ckpt + " --out {S}/fifo.onnx", 1, "fifo.onnx|not a regular file" },
        { "export --checkpoint " + Ckpt + " --out {W}/dir", 1, "--out|{W}/dir|folder" },
        { "export --checkpoint " + Ckpt + " --out {W}/link-to-dir", 1, "link-to-dir|link to a folder" },
        { "export --checkpoint " + Ckpt + " --out /proc/cudann-bad-input.onnx", 1, "--out|/proc/cudann-bad-input.onnx|cannot write" },
        { "export --checkpoint " + Ckpt + " --out {W}/x.onnx --model resnet20", 1, "checkpoint.safetensors|stores a " + BadInputFixture.RunModel + " model|resnet20" },
        { "export --checkpoint {W}/corrupt.onnx --out {W}/x.onnx", 2, "--checkpoint|ONNX" },
        { "export --out {W}/x.onnx", 2, "--checkpoint" },
        // predict
        { "predict --model {W}/missing.onnx {W}/tree", 1, "missing.onnx|no such model file" },
        { "predict --model {W}/corrupt.onnx {W}/tree", 1, "corrupt.onnx" },
        { "predict --model " + Ckpt + " {W}/nothing-here", 1, "nothing-here" },
        { "predict {W}/tree", 2, "--model" },
        // compression
        { "quantize --checkpoint {W}/corrupt.safetensors --out {W}/q", 1, "corrupt.safetensors" },
        { "prune --checkpoint " + Ckpt + " --amount 1.5 --out {W}/pruned", 2, "--amount|1.5" },
        { "prune --checkpoint {W}/missing.safetensors --out {W}/pruned", 1, "missing.safetensors" },
        // data commands
        { "dataset {W}/no-data", 1, "no-data" },
        { "kappa {W}/broken.csv", 1, "broken.csv" },
        { "kappa", 2, "kappa" },
        { "audit {W}/tree --out /proc/cudann-bad-input.json", 1, "--out|/proc/cudann-bad-input.json|cannot write" },
        { "audit {W}/tree --out {W}/dir", 1, "--out|folder" },
        { "images --out {W}/run", 1, "--out|not empty" },
        { "images --out {W}/plain.txt/tree", 1, "--out|plain.txt|not a folder" },
        // the rest
        { "summary --model nosuch", 1, "nosuch" },
        { "summary", 2, "--model" },
        { "demo --steps 0", 2, "--steps" },
        { "gpu-check --out {W}/dir", 1, "--out|folder" },
        { "dist-check --sizes 3,x", 2, "--sizes|3,x" },
        { "dist-check --bucket-elements 0", 2, "--bucket-elements|0" },
        { "no-such-command", 2, "unknown command|no-such-command" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void FailsInOneLineNamingTheCauseAndChangesNoFile(string commandLine, int exitCode, string fragments)
    {
        if (commandLine.Contains("{W}/run", StringComparison.Ordinal) && fixture.RunError is { } why) Assert.Skip(why);
        if (commandLine.Contains("/proc/", StringComparison.Ordinal) && !Directory.Exists("/proc/self")) Assert.Skip("no /proc here");
        string Fill(string s) => s.Replace("{W}", fixture.Work, StringComparison.Ordinal).Replace("{S}", fixture.Special, StringComparison.Ordinal);
        var args = Fill(commandLine).Split(' ');
        var before = fixture.Snapshot();

        var (code, stdout, stderr) = CudannProcess.Run(args);

        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"cudann {commandLine}: stderr should be one line, got {lines.Length}:\n{stderr}");
        var line = lines[0];
        Assert.StartsWith($"cudann {args[0]}: ", line);
        Assert.Equal(exitCode, code);
        Assert.DoesNotContain("   at ", stdout + stderr);
        Assert.DoesNotContain("Unhandled exception", stdout + stderr);
        Assert.DoesNotContain("internal error", line);
        Assert.DoesNotContain(".tmp", line); // errors name the user's file, never a temp file
        foreach (var f in fragments.Split('|')) Assert.True(line.Contains(Fill(f), StringComparison.Ordinal), $"'{line}' should name '{Fill(f)}'");
        var after = fixture.Snapshot();
        var changed = before.Keys.Union(after.Keys).Where(k => before.GetValueOrDefault(k) != after.GetValueOrDefault(k)).ToList();
        Assert.True(changed.Count == 0, $"cudann {commandLine} changed, added or removed: {string.Join(", ", changed)}");
        if (OperatingSystem.IsLinux()) Assert.Equal("fifo", SpecialFiles.TypeOf(Path.Combine(fixture.Special, "fifo.onnx")));
    }

}
