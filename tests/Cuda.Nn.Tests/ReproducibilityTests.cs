using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

/// <summary>The determinism contract (docs/reproducibility.md): same seed, thread count and build give the same bits,
/// and a resumed run ends where the uninterrupted one does. The thread count is process-wide (CpuWorkers), so these
/// run alone: a test beside them that sets another count would change how the kernels split their sums.</summary>
[Collection(nameof(GlobalSettingsCollection))]
public class ReproducibilityTests
{
    private static Module Registry(TrainConfig c, int channels, int classes) =>
        ModelRegistry.Create(c.Model, new ModelOptions(classes, channels, c.ImageSize, new Generator(c.Seed)));

    private static void RequireFashionMnist()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }

    private static string NewDir(string name) => Directory.CreateTempSubdirectory(name).FullName;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TwoRunsWithOneSeedEndWithTheSameBits(int threads)
    {
        RequireFashionMnist();
        // ResNet-20 so the convolutions' weight gradients (summed over images by several threads) are in the run.
        var c = new TrainConfig { Model = "resnet20", Epochs = 1, BatchSize = 32, Lr = 0.05, TrainLimit = 192, TestLimit = 64, Threads = threads, Workers = 1, Seed = 11 };
        string a = NewDir("same-seed-a"), b = NewDir("same-seed-b");
        var ra = new Trainer(c with { Out = a }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        var rb = new Trainer(c with { Out = b }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        Assert.NotNull(ra.WeightsSha256);
        Assert.Equal(ra.WeightsSha256, rb.WeightsSha256);
        Assert.Equal(ra.History[0].TrainLoss, rb.History[0].TrainLoss);
        Assert.Equal(ra.History[0].TestAccuracy, rb.History[0].TestAccuracy);
        var other = new Trainer(c with { Out = NewDir("other-seed"), Seed = 12 }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        Assert.NotEqual(ra.WeightsSha256, other.WeightsSha256); // the hash does see the weights
    }

    [Fact]
    public void ConvolutionWeightGradientsAreTheSameBitsOnEveryCall()
    {
        // The kernel that once summed its per-thread partial sums in whatever order threads finished.
        using (CpuKernelOptions.UseThreads(2))
        {
            var g = new Generator(5);
            using var x = Tensor.Randn([16, 8, 12, 12], g);
            using var w = Tensor.Randn([16, 8, 3, 3], g).RequiresGrad_();
            using var gy = Tensor.Randn([16, 16, 12, 12], g);
            float[]? first = null;
            for (int i = 0; i < 30; i++)
            {
                using var scope = new DisposeScope();
                F.Conv2d(x, w, null, 1, 1).Backward(gy);
                var grad = w.Grad!.ToArray<float>();
                w.Grad = null;
                if (first is null) first = grad;
                else Assert.True(first.AsSpan().SequenceEqual(grad), $"call {i}: the weight gradient differs from the first call's");
            }
        }
    }

    private static TrainConfig Small(string outDir) => new()
    {
        Model = "mlp", Epochs = 3, BatchSize = 40, Lr = 0.05, TrainLimit = 280, TestLimit = 80, Threads = 2, Workers = 1, Seed = 3,
        CheckpointEvery = 3, Patience = 0, Out = outDir,
    };

    [Fact]
    public void ResumingFromEveryCheckpointEndsWithTheUninterruptedWeights()
    {
        RequireFashionMnist();
        var reference = NewDir("resume-ref");
        var kept = new List<(string File, int Epoch, int Step)>();
        var keep = NewDir("resume-kept");
        var full = new Trainer(Small(reference), Registry, TextWriter.Null)
        {
            AfterCheckpoint = (path, epoch, step) =>
            {
                // The folder as a kill right after this checkpoint would leave it: the checkpoint and best weights so far.
                var copy = Path.Combine(keep, $"e{epoch}s{step}.safetensors");
                File.Copy(path, copy);
                var best = Path.Combine(Path.GetDirectoryName(path)!, RunFolder.BestFile);
                if (File.Exists(best)) File.Copy(best, copy + ".best");
                kept.Add((copy, epoch, step));
            },
        }.Run(TestContext.Current.CancellationToken);
        // 7 steps an epoch, a checkpoint after steps 3 and 6 and at each epoch's end.
        Assert.Equal(9, kept.Count);
        Assert.Contains(kept, k => k.Step > 0);
        foreach (var (file, epoch, step) in kept)
        {
            var dir = NewDir($"resume-e{epoch}s{step}");
            File.Copy(file, Path.Combine(dir, RunFolder.CheckpointFile));
            if (File.Exists(file + ".best")) File.Copy(file + ".best", Path.Combine(dir, RunFolder.BestFile));
            // No flags: the run continues as stored (Workers only changes the loader's threads, not the bits).
            var config = Trainer.ResumeConfig(dir) with { Workers = 0 };
            var resumed = new Trainer(config, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
            Assert.True(full.WeightsSha256 == resumed.WeightsSha256, $"resumed after epoch {epoch} step {step}: weights {resumed.WeightsSha256} vs {full.WeightsSha256}");
            Assert.Equal(full.History.Select(h => (h.Epoch, h.TrainLoss, h.TestLoss)), resumed.History.Select(h => (h.Epoch, h.TrainLoss, h.TestLoss)));
            Assert.Equal(3, File.ReadAllLines(Path.Combine(dir, RunFolder.MetricsFile)).Length);
            Assert.True(File.Exists(Path.Combine(dir, RunFolder.BestFile)), "best.safetensors rebuilt or written");
            Assert.Equal(full.BestEpoch, resumed.BestEpoch);
        }
    }

    [Fact]
    public void AResumeThatChangesTheRunIsRefusedNamingTheOption()
    {
        RequireFashionMnist();
        var dir = NewDir("resume-change");
        new Trainer(Small(dir) with { Epochs = 1 }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        var stored = Trainer.ResumeConfig(dir);
        var e = Assert.Throws<ArgumentException>(() => new Trainer(stored with { BatchSize = 20, Lr = 0.1 }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken));
        Assert.Contains("--batch-size was 40, now 20", e.Message);
        Assert.Contains("--lr was 0.05, now 0.1", e.Message);
        var before = File.ReadAllBytes(Path.Combine(dir, RunFolder.CheckpointFile));
        var data = Assert.Throws<ArgumentException>(() => new Trainer(stored with { TestLimit = 40 }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken));
        Assert.Contains("--test-limit was 80, now 40", data.Message);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(dir, RunFolder.CheckpointFile))); // a refusal leaves the run as it was
        // Extending the run is allowed and says what it does to the schedule.
        var log = new StringWriter();
        var extended = new Trainer(stored with { Epochs = 2 }, Registry, log).Run(TestContext.Current.CancellationToken);
        Assert.Equal(2, extended.Epochs);
        Assert.Contains("stretches the cosine schedule", log.ToString());
    }

    [Fact]
    public void ARunFolderHoldingARunIsRefusedUnlessResumedOrOverwritten()
    {
        RequireFashionMnist();
        var dir = NewDir("owned");
        new Trainer(Small(dir) with { Epochs = 1 }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        var metrics = File.ReadAllBytes(Path.Combine(dir, RunFolder.MetricsFile));
        var e = Assert.Throws<IOException>(() => new Trainer(Small(dir) with { Epochs = 1, Model = "resnet20" }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken));
        Assert.Contains("holds a previous run", e.Message);
        Assert.Contains("--overwrite", e.Message);
        Assert.Equal(metrics, File.ReadAllBytes(Path.Combine(dir, RunFolder.MetricsFile)));
        var again = new Trainer(Small(dir) with { Epochs = 1, Seed = 4, Overwrite = true }, Registry, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        Assert.Single(File.ReadAllLines(Path.Combine(dir, RunFolder.MetricsFile)));
        Assert.Equal(4UL, again.Config.Seed);
    }

    [Fact]
    public void ASecondWriterIntoARunFolderIsRefused()
    {
        var dir = NewDir("locked");
        using (RunFolder.Open(dir, resuming: false, overwrite: false))
        {
            var e = Assert.Throws<IOException>(() => RunFolder.Open(dir, resuming: false, overwrite: false));
            Assert.Contains("another cudann process", e.Message);
            Assert.Contains($"pid {Environment.ProcessId}", e.Message);
        }
        using (RunFolder.Open(dir, resuming: false, overwrite: false)) { } // released with its holder
    }
}
