// cudann train under mpirun: 2 ranks at batch B/2 each against one process at batch B, on the same samples (the
// distributed sampler shards the single process's order) for K steps; rank 0 alone writes; resume and its world size.
using Cuda.Nn.Data;
using Cuda.Nn.Distributed;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public sealed class DataParallelTrainingTests
{
    // 256 samples at batch 64: 4 steps per epoch, 2 epochs = K 8 optimizer steps. The MLP has no batch norm, and
    // augmentation draws per (seed, epoch, sample), so both runs see the same inputs.
    private static string[] Args(string outDir, params string[] more) =>
        ["train", "--model", "mlp", "--epochs", "2", "--train-limit", "256", "--test-limit", "128", "--batch-size", "64", "--threads", "1", "--out", outDir, .. more];

    private static void Require()
    {
        MpiRun.SkipUnlessAvailable();
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }

    private static string NewDir(string name) => Path.Combine(Directory.CreateTempSubdirectory("data-parallel").FullName, name);

    /// <summary>The largest |a - b| / (1 + |a|) over every model tensor of two checkpoints.</summary>
    private static double MaxRelativeDifference(string a, string b)
    {
        var x = TensorFile.Load(Path.Combine(a, "checkpoint.safetensors"));
        var y = TensorFile.Load(Path.Combine(b, "checkpoint.safetensors"));
        try
        {
            var keys = x.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(keys);
            Assert.Equal(keys.Order(), y.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).Order());
            double max = 0;
            foreach (var k in keys)
            {
                if (x[k].DType != DType.F32)
                {
                    // num_batches_tracked
                    using Tensor ai = x[k].To(DType.F64), bi = y[k].To(DType.F64);
                    Assert.Equal(ai.ToArray<double>(), bi.ToArray<double>());
                    continue;
                }
                var p = x[k].ToArray<float>();
                var q = y[k].ToArray<float>();
                for (int i = 0; i < p.Length; i++) max = Math.Max(max, Math.Abs(p[i] - q[i]) / (1 + Math.Abs(p[i])));
            }
            return max;
        }
        finally
        {
            foreach (var t in x.Values.Concat(y.Values)) t.Dispose();
        }
    }

    // Measured: SGD 3.2e-8 (float rounding), AdamW 1.1e-5. Adam divides by sqrt(v), so an element whose gradient is
    // near zero turns a rounding difference into a step difference of up to lr: its tolerance is wider.
    [Theory]
    [InlineData("sgd", "0.1", 1e-6)]
    [InlineData("adamw", "0.001", 1e-4)]
    public void TwoRanksAtHalfTheBatchEndWithOneProcesssWeights(string optimizer, string lr, double tolerance)
    {
        Require();
        string one = NewDir("one"), two = NewDir("two");
        var single = CudannProcess.Run(Args(one, "--optimizer", optimizer, "--lr", lr));
        Assert.True(single.Code == 0, single.Err);
        var (code, stdout, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(4), Args(two, "--optimizer", optimizer, "--lr", lr));
        Assert.True(code == 0, $"mpirun exited {code}\n{stdout}\n{stderr}");
        Assert.Contains("2 ranks (Open MPI", stdout);
        Assert.Contains("batch 32 per rank", stdout);

        // Same samples per step; the gradient is (g0 + g1) / 2 instead of one mean over 64, so equal within rounding.
        double diff = MaxRelativeDifference(one, two);
        Assert.True(diff < tolerance, $"after 8 {optimizer} steps the 2-rank weights differ from the 1-process weights by {diff:G3} (relative)");
        // And the weights moved: the comparison is not between two untrained models.
        Assert.True(MaxRelativeDifferenceToInit(one) > 1e-3);
        // Evaluation is sharded over the ranks and summed: the same accuracy over the same 128 test images, and the
        // train metrics are the ranks' sums over the same 256 samples.
        var m1 = Metrics(one);
        var m2 = Metrics(two);
        Assert.Equal(m1.Length, m2.Length);
        for (int e = 0; e < m1.Length; e++)
            foreach (var field in new[] { "test_accuracy", "test_loss", "train_accuracy", "train_loss" })
                Assert.True(Math.Abs(m1[e].GetProperty(field).GetDouble() - m2[e].GetProperty(field).GetDouble()) < 1e-4,
                    $"epoch {e + 1} {field}: 1 process {m1[e].GetProperty(field)}, 2 ranks {m2[e].GetProperty(field)}");
    }

    [Fact]
    public void WithSyncBnTwoRanksTrainABatchNormNetLikeOneProcess()
    {
        Require();
        // ResNet-20 (batch norm in every block), 2 SGD steps of batch 64. Early training amplifies rounding: one
        // process at 1 and at 2 threads already differs by 4e-6 after 2 steps (1.7e-4 after 4), so K is 2 here.
        // Measured: 2 ranks with --sync-bn 2.9e-6; without it (per-rank statistics) 1.6e-2.
        string[] Resnet(string dir, params string[] more) =>
            ["train", "--model", "resnet20", "--epochs", "1", "--train-limit", "128", "--test-limit", "64", "--batch-size", "64", "--threads", "1",
             "--lr", "0.01", "--augment", "false", "--out", dir, .. more];
        string one = NewDir("bn-one"), synced = NewDir("bn-sync"), perRank = NewDir("bn-per-rank");
        var single = CudannProcess.Run(Resnet(one));
        Assert.True(single.Code == 0, single.Err);
        foreach (var (dir, extra) in new[] { (synced, new[] { "--sync-bn", "true" }), (perRank, Array.Empty<string>()) })
        {
            var (code, stdout, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(4), Resnet(dir, extra));
            Assert.True(code == 0, $"mpirun exited {code}\n{stdout}\n{stderr}");
        }
        double withSync = MaxRelativeDifference(one, synced), without = MaxRelativeDifference(one, perRank);
        Assert.True(withSync < 1e-4, $"--sync-bn: the 2-rank weights and statistics differ from 1 process's by {withSync:G3}");
        Assert.True(without > 1e-3, $"without --sync-bn the difference should be that of per-rank statistics, got {without:G3}: the comparison cannot tell");
    }

    private static System.Text.Json.JsonElement[] Metrics(string run) =>
        [.. File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)];

    private static double MaxRelativeDifferenceToInit(string run)
    {
        // A fresh model from the run's seed, as train builds it.
        using var fresh = Models.ModelRegistry.Create("mlp", new Models.ModelOptions(10, 1, 28, new Generator(0)));
        var trained = TensorFile.Load(Path.Combine(run, "checkpoint.safetensors"));
        try
        {
            double max = 0;
            foreach (var (k, t) in fresh.StateDict())
            {
                var p = t.ToArray<float>();
                var q = trained["model." + k].ToArray<float>();
                for (int i = 0; i < p.Length; i++) max = Math.Max(max, Math.Abs(p[i] - q[i]) / (1 + Math.Abs(p[i])));
            }
            return max;
        }
        finally { foreach (var t in trained.Values) t.Dispose(); }
    }

    [Fact]
    public void RankZeroAloneWritesAndTheRunResumesOnlyWithItsWorldSize()
    {
        Require();
        string run = NewDir("run");
        var (code, stdout, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(4), Args(run));
        Assert.True(code == 0, $"mpirun exited {code}\n{stdout}\n{stderr}");
        // One log, not one per rank; one run folder with the usual files.
        Assert.Single(stdout.Split('\n'), l => l.StartsWith("done in", StringComparison.Ordinal));
        foreach (var f in new[] { "checkpoint.safetensors", "best.safetensors", "metrics.jsonl", "report.json", "config.json", "split.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        Assert.Equal(2, Cuda.Nn.Training.Checkpoint.ReadInfo(Path.Combine(run, "checkpoint.safetensors")).WorldSize);

        var alone = CudannProcess.Run("train", "--resume", run, "--epochs", "3");
        Assert.Equal(1, alone.Code);
        Assert.Contains("the run was trained on 2 rank(s) and this is 1: resume it with as many (mpirun -n 2)", alone.Err);

        (code, stdout, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(4), "train", "--resume", run, "--epochs", "3");
        Assert.True(code == 0, $"mpirun resume exited {code}\n{stdout}\n{stderr}");
        Assert.Contains("resumed from", stdout);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Length);
    }

    [Fact]
    public void AGlobalBatchThatTheRanksCannotShareIsNamedAndEndsTheJob()
    {
        Require();
        var (code, _, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(2), Args(NewDir("odd"), "--batch-size", "63"));
        Assert.NotEqual(0, code);
        // Every rank finds the same fault; whichever reports first aborts the job, so the other may never print.
        Assert.Matches(@"cudann train: rank [01] of 2: --batch-size \(config: batch_size\) 63 is the global batch and must be a multiple of the 2 ranks", stderr);
    }

    [Fact]
    public void NprocStartsTheRanksThroughMpirun()
    {
        Require();
        string run = NewDir("nproc");
        var (code, stdout, stderr) = CudannProcess.Run(Args(run, "--nproc", "2", "--epochs", "1"));
        Assert.True(code == 0, $"cudann train --nproc 2 exited {code}\n{stdout}\n{stderr}");
        Assert.Contains("2 ranks (Open MPI", stdout);
        Assert.Equal(2, Cuda.Nn.Training.Checkpoint.ReadInfo(Path.Combine(run, "checkpoint.safetensors")).WorldSize);
    }

    [Fact]
    public void NprocSaysWhatItNeeds()
    {
        // No mpirun on PATH (dotnet itself is found by the test's own PATH).
        var (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["PATH"] = "/nonexistent" }, Args(NewDir("no-mpirun"), "--nproc", "2"));
        Assert.Equal(1, code);
        Assert.Equal("cudann train: --nproc 2 starts the ranks with Open MPI's mpirun, which is not on PATH: install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)", err.Trim());
        // Inside a launched job the launcher already chose the ranks.
        (code, _, err) = CudannProcess.RunWith(new Dictionary<string, string> { ["OMPI_COMM_WORLD_RANK"] = "0", ["OMPI_COMM_WORLD_SIZE"] = "2" }, Args(NewDir("nested"), "--nproc", "2"));
        Assert.Equal(2, code);
        Assert.Contains("--nproc 2 inside a launched job (rank 0 of 2", err);
        Assert.Equal(2, CudannProcess.Run(Args(NewDir("zero"), "--nproc", "0")).Code);
    }

    [Fact]
    public void NprocsMpirunLineShareTheCoresAndAllowsRootOnlyForRoot()
    {
        Assert.Equal(["-n", "3", "--oversubscribe", "--bind-to", "none", "dotnet", "cudann.dll", "train", "--epochs", "1"],
            Cuda.Nn.Cli.LocalRanks.MpirunArguments(3, root: false, ["dotnet", "cudann.dll", "train", "--epochs", "1"]));
        Assert.Contains("--allow-run-as-root", Cuda.Nn.Cli.LocalRanks.MpirunArguments(2, root: true, ["cudann", "train"]));
        var o = Cuda.Nn.Cli.Options.Parse(["--nproc", "2", "--epochs", "1", "--nproc=3", "--lr", "0.1"], ["nproc", "epochs", "lr"]);
        Assert.Equal(["--epochs", "1", "--lr", "0.1"], o.ArgsWithout("nproc"));
    }

    /// <summary>Halves every buffer: an average with a rank that holds zeros. Records each call's dtype and count.</summary>
    private sealed unsafe class HalvingCollectives : ICollectives
    {
        public List<(DType, long)> Calls { get; } = [];
        public int Rank => 0;
        public int WorldSize => 2;
        public string Description => "halving";
        public void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op)
        {
            Assert.Equal(AllReduceOp.Average, op);
            Calls.Add((dtype, count));
            if (dtype == DType.F32) for (long i = 0; i < count; i++) ((float*)buffer)[i] /= 2;
            else for (long i = 0; i < count; i++) ((double*)buffer)[i] /= 2;
        }
        public void Broadcast(nint buffer, long bytes, int root) { }
        public void Barrier() { }
        public double[] AllGather(ReadOnlySpan<double> values) => [.. values.ToArray(), .. values.ToArray()];
        public void Dispose() { }
    }

    [Fact]
    public void GradientsAreAveragedInBucketsLastParameterFirst()
    {
        int[] sizes = [10, 20, 30, 5, 7];
        var parameters = sizes.Select((n, i) => Tensor.FromArray([.. Enumerable.Range(0, n).Select(j => (float)(j + 100 * i))], n)).ToArray();
        for (int i = 0; i < parameters.Length; i++)
            if (i != 3) parameters[i].Grad = Tensor.FromArray([.. Enumerable.Range(0, sizes[i]).Select(j => (float)(j + i))], sizes[i]);
        var comm = new HalvingCollectives();
        using var sync = new GradientAllReduce(comm, parameters, bucketBytes: 30 * sizeof(float));
        Span<double> loss = [3.0];
        sync.Run(loss);
        // Reverse order; parameter 3 has no gradient: [4, 3] (7), [2] (30, the cap), [1, 0] (20 + 10), then the loss alone.
        Assert.Equal([(3, 2, 7L * 4), (2, 1, 30L * 4), (0, 2, 30L * 4)], sync.LastBuckets);
        Assert.Equal([(DType.F32, 7L), (DType.F32, 30L), (DType.F32, 30L), (DType.F64, 1L)], comm.Calls);
        Assert.Equal(1.5, loss[0]);
        for (int i = 0; i < parameters.Length; i++)
        {
            if (i == 3) { Assert.Null(parameters[i].Grad); continue; }
            Assert.Equal(Enumerable.Range(0, sizes[i]).Select(j => (j + i) / 2f), parameters[i].Grad!.ToArray<float>());
        }
        foreach (var p in parameters) { p.Grad?.Dispose(); p.Dispose(); }
    }
}
