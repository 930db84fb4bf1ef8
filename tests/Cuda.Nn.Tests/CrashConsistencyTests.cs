using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

/// <summary>
/// cudann train as a child process, killed (SIGKILL, through CUDANN_FAULT) or failed (ENOSPC) at points spread over
/// steps, evaluation and every file write. After each, every file in the run folder is whole, and the resumed run
/// ends with the uninterrupted run's weights.
/// </summary>
public class CrashConsistencyTests
{
    private static readonly string[] Run =
    [
        "train", "--model", "mlp", "--epochs", "3", "--batch-size", "50", "--lr", "0.05", "--train-limit", "300", "--test-limit", "100",
        "--threads", "1", "--workers", "1", "--seed", "5", "--checkpoint-every", "2",
    ];

    private static void RequireFashionMnist()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }

    private static string[] Into(string dir, params string[] more) => [.. Run, "--out", dir, .. more];

    private static string WeightsHash(string dir)
    {
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, RunFolder.ReportFile)));
        return report.RootElement.GetProperty("weights_sha256").GetString()!;
    }

    /// <summary>Every file a run left is complete: JSON parses, each metrics line is an epoch, safetensors open, and
    /// the metrics agree with the checkpoint.</summary>
    private static void AssertWhole(string dir, string what)
    {
        foreach (var f in Directory.GetFiles(dir))
        {
            var name = Path.GetFileName(f);
            if (name.EndsWith(".json", StringComparison.Ordinal)) JsonDocument.Parse(File.ReadAllText(f)).Dispose();
            else if (name.EndsWith(".safetensors", StringComparison.Ordinal)) SafeTensorsFile.Open(f).Dispose();
            else if (name == RunFolder.MetricsFile) RunFolder.ReadMetrics(f, int.MaxValue);
            else if (name.EndsWith(".tmp", StringComparison.Ordinal) || name.StartsWith(".lock", StringComparison.Ordinal) || name == RunFolder.CurvesFile) continue;
            else Assert.Fail($"{what}: unexpected file {name}");
        }
        var checkpoint = Path.Combine(dir, RunFolder.CheckpointFile);
        var metrics = Path.Combine(dir, RunFolder.MetricsFile);
        if (File.Exists(checkpoint) && File.Exists(metrics))
        {
            int epochs = Checkpoint.ReadInfo(checkpoint).Epoch, lines = RunFolder.ReadMetrics(metrics, int.MaxValue).Count;
            // The checkpoint commits an epoch before its metrics line is written: at most one line behind, never ahead.
            Assert.True(lines == epochs || lines == epochs - 1, $"{what}: metrics.jsonl has {lines} epochs, the checkpoint {epochs}");
        }
    }

    /// <summary>What a user does after a failure: resume the run if it has a checkpoint, else start it again; it ends
    /// whole, with the uninterrupted run's weights and each epoch's metrics line once.</summary>
    private static void ContinueAndAssertUninterrupted(string dir, string what, string hash)
    {
        if (File.Exists(Path.Combine(dir, RunFolder.CheckpointFile))) CudannProcess.Ok("train", "--resume", dir);
        else CudannProcess.Ok(Into(dir));
        AssertWhole(dir, what + ", resumed");
        Assert.Equal(hash, WeightsHash(dir));
        Assert.Equal([1, 2, 3], RunFolder.ReadMetrics(Path.Combine(dir, RunFolder.MetricsFile), int.MaxValue).Select(m => m.Epoch));
    }

    public static TheoryData<string> KillPoints => new(
        "kill@step#1", "kill@step#4", "kill@step#7", "kill@step#10", "kill@step#13", "kill@step#17",
        "kill@eval#1", "kill@eval#2", "kill@eval#3",
        "kill@write-partial:checkpoint.safetensors#1", "kill@write-partial:checkpoint.safetensors#4", "kill@write-partial:checkpoint.safetensors#9",
        "kill@write:checkpoint.safetensors#3", "kill@write:checkpoint.safetensors#6",
        "kill@write:metrics.jsonl#1", "kill@write-partial:metrics.jsonl#2",
        "kill@write:best.safetensors#1", "kill@write-partial:best.safetensors#1",
        "kill@write:report.json#1", "kill@write:config.json#1");

    private static readonly Lazy<(string Dir, string Hash)> Uninterrupted = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("crash-ref").FullName;
        CudannProcess.Ok(Into(dir));
        return (dir, WeightsHash(dir));
    });

    [Theory]
    [MemberData(nameof(KillPoints))]
    public void AKilledRunResumesToTheUninterruptedWeights(string fault)
    {
        RequireFashionMnist();
        var reference = Uninterrupted.Value;
        var dir = Directory.CreateTempSubdirectory("crash").FullName;
        var (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["CUDANN_FAULT"] = fault }, Into(dir));
        Assert.True(code == 137, $"{fault}: expected the run to be killed (exit 137), got {code}: {err}");
        AssertWhole(dir, fault);
        ContinueAndAssertUninterrupted(dir, fault, reference.Hash);
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));
    }

    [Fact]
    public void ADiskFullAtACheckpointIsAClearErrorAndTheRunResumes()
    {
        RequireFashionMnist();
        var reference = Uninterrupted.Value;
        var dir = Directory.CreateTempSubdirectory("enospc").FullName;
        var (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["CUDANN_FAULT"] = "enospc@write:checkpoint.safetensors#4" }, Into(dir));
        Assert.Equal(1, code);
        Assert.Contains("checkpoint.safetensors: cannot write (No space left on device", err);
        Assert.Contains("the previous file is kept", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
        AssertWhole(dir, "ENOSPC");
        var kept = Checkpoint.ReadInfo(Path.Combine(dir, RunFolder.CheckpointFile));
        Assert.Equal((1, 0), (kept.Epoch, kept.Step)); // the 4th checkpoint (epoch 2, step 2) failed; the 3rd (end of epoch 1) is kept
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));
        CudannProcess.Ok("train", "--resume", dir);
        Assert.Equal(reference.Hash, WeightsHash(dir));
    }

    [Fact]
    public void AKilledRunResumedIntoAnotherFolderEndsThereAndLeavesTheFirstAsItWas()
    {
        RequireFashionMnist();
        var reference = Uninterrupted.Value;
        var first = Directory.CreateTempSubdirectory("resume-from").FullName;
        var second = Path.Combine(Directory.CreateTempSubdirectory("resume-into").FullName, "run");
        var (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["CUDANN_FAULT"] = "kill@step#10" }, Into(first));
        Assert.True(code == 137, $"expected the run to be killed (exit 137), got {code}: {err}");
        var firstCheckpoint = File.ReadAllBytes(Path.Combine(first, RunFolder.CheckpointFile));
        CudannProcess.Ok("train", "--resume", first, "--out", second);
        Assert.Equal(reference.Hash, WeightsHash(second));
        Assert.Equal([1, 2, 3], RunFolder.ReadMetrics(Path.Combine(second, RunFolder.MetricsFile), int.MaxValue).Select(m => m.Epoch));
        Assert.Equal(firstCheckpoint, File.ReadAllBytes(Path.Combine(first, RunFolder.CheckpointFile)));
        // The new folder is a whole run: resuming it finds nothing left to do and keeps its weights.
        CudannProcess.Ok("train", "--resume", second);
        Assert.Equal(reference.Hash, WeightsHash(second));
    }

    public static TheoryData<string> DiskFullPoints => new(
        "enospc@write:config.json#1", "enospc@write:split.json#1", "enospc@write:best.safetensors#2",
        "enospc@write:metrics.jsonl#2", "enospc@write-partial:metrics.jsonl#3", "enospc@write:curves.png#1", "enospc@write:report.json#1");

    /// <summary>A full disk at every other file of a run: one line naming the file, every file whole and agreeing
    /// with the checkpoint, and the run, resumed (or restarted where no checkpoint was written), ends with the
    /// uninterrupted weights and each epoch's metrics line once.</summary>
    [Theory]
    [MemberData(nameof(DiskFullPoints))]
    public void ADiskFullAtAnyRunFileKeepsTheRunConsistent(string fault)
    {
        RequireFashionMnist();
        var reference = Uninterrupted.Value;
        var dir = Directory.CreateTempSubdirectory("enospc-any").FullName;
        var (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["CUDANN_FAULT"] = fault }, Into(dir));
        var file = fault[(fault.IndexOf(':') + 1)..fault.IndexOf('#')];
        Assert.True(code == 1, $"{fault}: expected exit 1, got {code}: {err}");
        var line = Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"{file}: cannot write (No space left on device", line);
        Assert.DoesNotContain(".tmp", line);
        AssertWhole(dir, fault);
        Assert.Empty(Directory.GetFiles(dir, ".*.tmp"));
        ContinueAndAssertUninterrupted(dir, fault, reference.Hash);
    }

    /// <summary>A real full disk: a tmpfs just large enough for the first checkpoint (needs mount(2), as root).</summary>
    [Fact]
    public void ARealFullDiskKeepsThePreviousCheckpoint()
    {
        RequireFashionMnist();
        var reference = Uninterrupted.Value;
        long checkpoint = new FileInfo(Path.Combine(reference.Dir, RunFolder.CheckpointFile)).Length;
        long best = new FileInfo(Path.Combine(reference.Dir, RunFolder.BestFile)).Length;
        var mount = Directory.CreateTempSubdirectory("tmpfs").FullName;
        // Room for the small files, best weights and one checkpoint, not for a second checkpoint beside it.
        long size = (checkpoint + best + (256 << 10)) / 4096 * 4096 + checkpoint / 2;
        if (!TryMount(mount, $"size={size}")) Assert.Skip("cannot mount a tmpfs here (needs root and mount(2)); ADiskFullAtACheckpointIsAClearErrorAndTheRunResumes covers ENOSPC with an injected failure");
        try
        {
            var dir = Path.Combine(mount, "run");
            var (code, _, err) = CudannProcess.Run(Into(dir, "--checkpoint-every", "0"));
            Assert.True(code == 1, $"expected a disk-full error, got exit {code}: {err}");
            Assert.Contains("No space left on device", err);
            Assert.Contains(RunFolder.CheckpointFile, err);
            Assert.DoesNotContain("   at ", err);
            AssertWhole(dir, "tmpfs full");
            Assert.True(Checkpoint.ReadInfo(Path.Combine(dir, RunFolder.CheckpointFile)).Epoch >= 1, "the previous checkpoint is intact");
            Assert.True(Sh("mount", "-o", $"remount,size={checkpoint * 8}", mount) == 0, "remount larger");
            CudannProcess.Ok("train", "--resume", dir);
            AssertWhole(dir, "tmpfs resumed");
        }
        finally { Sh("umount", mount); }
    }

    [Fact]
    public void AReadOnlyFolderIsAClearErrorAndNothingInItChanges()
    {
        var mount = Directory.CreateTempSubdirectory("rofs").FullName;
        if (!TryMount(mount, "size=1m")) Assert.Skip("cannot mount a tmpfs here (needs root and mount(2)); root ignores file permissions, so a read-only mount is the only honest read-only folder");
        try
        {
            File.WriteAllText(Path.Combine(mount, "keep.json"), "{\"kept\": true}");
            Assert.True(Sh("mount", "-o", "remount,ro", mount) == 0, "remount read-only");
            var (code, _, err) = CudannProcess.Run(Into(Path.Combine(mount, "run")));
            Assert.Equal(1, code);
            Assert.Contains($"--out {Path.Combine(mount, "run")}: cannot create the run folder", err);
            Assert.Contains("Read-only file system", err);
            var (exportCode, _, exportErr) = CudannProcess.Run("export", "--checkpoint", Path.Combine(mount, "keep.json"), "--out", Path.Combine(mount, "keep.json"));
            Assert.NotEqual(0, exportCode);
            Assert.DoesNotContain("   at ", exportErr);
            Assert.Equal("{\"kept\": true}", File.ReadAllText(Path.Combine(mount, "keep.json")));
        }
        finally { Sh("umount", mount); }
    }

    private static bool TryMount(string dir, string options) =>
        OperatingSystem.IsLinux() && Environment.UserName == "root" && Sh("mount", "-t", "tmpfs", "-o", options, "tmpfs", dir) == 0;

    private static int Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }
    }
}
