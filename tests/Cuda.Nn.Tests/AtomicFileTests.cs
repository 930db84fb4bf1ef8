// The one write path (src/Nn/IO/AtomicFile.cs) and the JSON it writes (issue 26): targets that are not regular files
// are refused, a failed write keeps the previous file and names the user's target, a check before work creates
// nothing, non-finite numbers are written as null, and no other code in src/ writes a file.
using System.Text.Json;
using System.Text.RegularExpressions;
using Cuda.Nn.IO;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public class AtomicFileTests
{

    private static string TempDir() => Directory.CreateTempSubdirectory("atomic-file").FullName;

    private static string[] Leftovers(string dir) => [.. Directory.GetFiles(dir, ".*.tmp").Select(Path.GetFileName)!];

    [Fact]
    public void ReplacesAFileWholeAndLeavesNoTempFile()
    {
        var dir = TempDir();
        try
        {
            var path = Path.Combine(dir, "sub", "a.json");
            AtomicFile.WriteAllText(path, "first");
            AtomicFile.WriteAllText(path, "second");
            Assert.Equal("second", File.ReadAllText(path));
            Assert.Empty(Leftovers(Path.Combine(dir, "sub")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void AFailedWriteKeepsThePreviousFileAndNamesTheTarget()
    {
        var dir = TempDir();
        try
        {
            var path = Path.Combine(dir, "report.json");
            File.WriteAllText(path, "old");
            // A writer that fails half-way, as a full disk would.
            var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
            {
                s.Write("new, half"u8);
                throw new IOException("No space left on device");
            }));
            Assert.Contains(path, e.Message);
            Assert.Contains("the previous file is kept", e.Message);
            Assert.DoesNotContain(".tmp", e.Message);
            Assert.Equal("old", File.ReadAllText(path));
            Assert.Empty(Leftovers(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void RefusesFoldersPipesAndLinksToFolders()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("named pipes are a Linux specific here");
        var dir = TempDir();
        try
        {
            var folder = Directory.CreateDirectory(Path.Combine(dir, "folder")).FullName;
            var fifo = Path.Combine(dir, "pipe.onnx");
            Assert.Equal(0, SpecialFiles.MakeFifo(fifo));
            var linkToFolder = Path.Combine(dir, "link-to-folder");
            File.CreateSymbolicLink(linkToFolder, folder);
            var linkToFifo = Path.Combine(dir, "link-to-pipe");
            File.CreateSymbolicLink(linkToFifo, fifo);

            Assert.Contains("is a folder", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(folder, "x")).Message);
            Assert.Contains("not a regular file", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(fifo, "x")).Message);
            Assert.Contains("link to a folder", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(linkToFolder, "x")).Message);
            Assert.Contains("not a regular file", Assert.Throws<IOException>(() => AtomicFile.WriteAllText(linkToFifo, "x")).Message);
            Assert.Contains("--out", Assert.Throws<IOException>(() => AtomicFile.Preflight(fifo, "--out")).Message);

            Assert.Equal("fifo", SpecialFiles.TypeOf(fifo)); // still a pipe, not replaced
            Assert.Equal("symbolic link", SpecialFiles.TypeOf(linkToFolder));
            Assert.Empty(Directory.GetFileSystemEntries(folder));
            Assert.Empty(Leftovers(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ALinkToAFileIsFollowedAndADanglingLinkReplaced()
    {
        var dir = TempDir();
        try
        {
            var real = Path.Combine(dir, "real.json");
            File.WriteAllText(real, "old");
            var link = Path.Combine(dir, "link.json");
            File.CreateSymbolicLink(link, real);
            AtomicFile.WriteAllText(link, "new");
            Assert.Equal("new", File.ReadAllText(real));
            Assert.NotNull(new FileInfo(link).LinkTarget); // the link is kept, its file replaced

            var dangling = Path.Combine(dir, "dangling.json");
            File.CreateSymbolicLink(dangling, Path.Combine(dir, "gone.json"));
            AtomicFile.WriteAllText(dangling, "here");
            Assert.Equal("here", File.ReadAllText(dangling));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PreflightCreatesNothingAndNamesTheOption()
    {
        var dir = TempDir();
        try
        {
            AtomicFile.Preflight(Path.Combine(dir, "a", "b", "model.onnx"), "--out"); // a folder to be made: fine
            AtomicFile.PreflightFolder(Path.Combine(dir, "eval"), "--out");
            Assert.Empty(Directory.GetFileSystemEntries(dir));

            var file = Path.Combine(dir, "plain.txt");
            File.WriteAllText(file, "x");
            var e = Assert.Throws<IOException>(() => AtomicFile.PreflightFolder(Path.Combine(file, "eval"), "--out"));
            Assert.StartsWith("--out ", e.Message);
            Assert.Contains("not a folder", e.Message);
            if (Directory.Exists("/proc/self"))
            {
                e = Assert.Throws<IOException>(() => AtomicFile.Preflight("/proc/cudann-preflight.json", "--out"));
                Assert.Contains("/proc/cudann-preflight.json", e.Message);
                Assert.DoesNotContain(".tmp", e.Message);
            }
            Assert.Equal(["plain.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
        }
        finally { Directory.Delete(dir, true); }
    }

    private sealed record Scores(double Loss, float Auc, double[] PerClass, double Finite);

    [Fact]
    public void NonFiniteNumbersAreWrittenAsNullAndReadBackAsNaN()
    {
        var s = new Scores(double.PositiveInfinity, float.NaN, [0.5, double.NaN, double.NegativeInfinity], 0.25);
        // The config options with the converters under test; reflection for this test's own record (the library's
        // resolver knows only the library's types).
        var options = new JsonSerializerOptions(TrainConfig.Json) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
        var json = JsonSerializer.Serialize(s, options);
        // Plain JSON: the strict default reader parses it, and every non-finite value is null.
        using (var doc = JsonDocument.Parse(json))
        {
            var root = doc.RootElement;
            Assert.Equal(JsonValueKind.Null, root.GetProperty("loss").ValueKind);
            Assert.Equal(JsonValueKind.Null, root.GetProperty("auc").ValueKind);
            Assert.Equal([JsonValueKind.Number, JsonValueKind.Null, JsonValueKind.Null], root.GetProperty("per_class").EnumerateArray().Select(v => v.ValueKind));
            Assert.Equal(0.25, root.GetProperty("finite").GetDouble());
        }
        var back = JsonSerializer.Deserialize<Scores>(json, options)!;
        Assert.True(double.IsNaN(back.Loss) && float.IsNaN(back.Auc) && double.IsNaN(back.PerClass[1]));
        Assert.Equal(0.5, back.PerClass[0]);
        // Files from before wrote the named literals as strings; they still read.
        var old = JsonSerializer.Deserialize<Scores>("{\"loss\": \"Infinity\", \"auc\": \"NaN\", \"per_class\": [\"-Infinity\"], \"finite\": 1}", options)!;
        Assert.Equal(double.PositiveInfinity, old.Loss);
        Assert.Equal(double.NegativeInfinity, old.PerClass[0]);
    }

    /// <summary>Code in src/ that writes a file some other way than AtomicFile: File.WriteAll*, File.Move/Copy/Create,
    /// a FileStream opened for writing, a StreamWriter on a path, an ImageSharp SaveAs* outside an AtomicFile.Write.</summary>
    private static readonly Regex Writer = new(
        @"(?<![\w.])File\.(WriteAll\w*|AppendAll\w*|AppendText|Create|CreateText|OpenWrite|Move|Copy|Replace)\(|new StreamWriter\(|FileMode\.(Create|CreateNew|Append|OpenOrCreate|Truncate)|FileAccess\.(Write|ReadWrite)|\.SaveAs\w*\(",
        RegexOptions.Compiled);

    /// <summary>The places allowed to write otherwise, and why.</summary>
    private static readonly Dictionary<string, string> Allowed = new()
    {
        ["src/Nn/IO/AtomicFile.cs"] = "the write path itself",
        ["src/Nn/Training/RunFolder.cs"] = "the run folder's lock file, which holds no data (the OS lock is the point)",
        ["src/Kernels/Cuda/NvrtcCompiler.cs"] = "the PTX cache (temp + rename; the kernels assembly cannot reach Cuda.Nn.IO), not a user output",
    };

    [Fact]
    public void NoOtherCodeWritesFiles()
    {
        var root = Support.OracleFixture.RepoRoot() ?? throw new DirectoryNotFoundException("no folder holding Cuda.Nn.sln above the test binary");
        var offenders = new List<string>();
        int scanned = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (rel.Contains("/obj/", StringComparison.Ordinal) || rel.Contains("/bin/", StringComparison.Ordinal) || Allowed.ContainsKey(rel)) continue;
            scanned++;
            var lines = File.ReadAllLines(file);
            for (int i = 0; i < lines.Length; i++)
            {
                var m = Writer.Match(lines[i]);
                if (!m.Success || lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
                // An image encoder writing into the stream AtomicFile.Write hands it is the write path.
                if (m.Value.StartsWith(".SaveAs", StringComparison.Ordinal) && lines[Math.Max(0, i - 12)..(i + 1)].Any(l => l.Contains("AtomicFile.Write(", StringComparison.Ordinal))) continue;
                offenders.Add($"{rel}:{i + 1}: {lines[i].Trim()}");
            }
        }
        Assert.True(scanned > 100, $"only {scanned} source files found under {root}/src");
        Assert.True(offenders.Count == 0, "write files through Cuda.Nn.IO.AtomicFile, not:\n" + string.Join("\n", offenders));
        // The scan sees a writer where there is one: the allowed files are not empty of them.
        foreach (var rel in Allowed.Keys) Assert.Matches(Writer, File.ReadAllText(Path.Combine(root, rel)));
    }

}
