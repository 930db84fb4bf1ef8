// A rank that dies or hangs must end the job with an error naming a rank, never leave the others waiting: kill -9
// (mpirun notices and names the rank) and SIGSTOP (our collectives' timeout names the rank that waited, and where).
using Cuda.Nn.Data;

namespace Cuda.Nn.Tests;

public sealed class DistributedFaultTests
{
    // Long enough to be killed in the middle: an MLP on 20,000 images for many epochs (the job is ended early).
    private static readonly string[] LongRun =
        ["train", "--model", "mlp", "--epochs", "500", "--train-limit", "20000", "--test-limit", "128", "--batch-size", "64", "--threads", "1", "--overwrite", "true"];

    private static void Require()
    {
        MpiRun.SkipUnlessAvailable();
        if (!OperatingSystem.IsLinux()) Assert.Skip("finding a rank's pid reads /proc");
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
    }

    private static string Out() => Path.Combine(Directory.CreateTempSubdirectory("dist-fault").FullName, "run");

    private static int TrainingRank1(MpiRun.Job job)
    {
        Assert.True(job.WaitForOutput("training mlp", TimeSpan.FromMinutes(2)), $"the job did not start training:\n{job.Out}\n{job.Err}");
        Thread.Sleep(1000); // into the steps
        return job.RankPid(1) ?? throw new InvalidOperationException($"rank 1 of job {job.Marker} not found in /proc");
    }

    [Fact]
    public void KillingARankEndsTheJobNamingIt()
    {
        Require();
        using var job = new MpiRun.Job(2, [.. LongRun, "--out", Out()]);
        int pid = TrainingRank1(job);
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        var exit = job.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.True(exit is not null, "the job still runs 60 s after rank 1 was killed");
        Assert.NotEqual(0, exit.Value.Code);
        Assert.Contains("rank 1", job.Err);
        Assert.Contains("signal 9", job.Err);
    }

    [Fact]
    public void ARankThatHangsEndsTheJobAfterTheTimeoutNamingTheRankThatWaited()
    {
        Require();
        using var job = new MpiRun.Job(2, [.. LongRun, "--out", Out(), "--dist-timeout", "3"]);
        int pid = TrainingRank1(job);
        using (var stop = System.Diagnostics.Process.Start("kill", ["-STOP", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])) stop.WaitForExit();
        var exit = job.WaitForExit(TimeSpan.FromSeconds(90));
        Assert.True(exit is not null, "the job still runs 90 s after rank 1 was stopped, with a 3 s timeout");
        Assert.NotEqual(0, exit.Value.Code);
        Assert.Matches(@"cudann: rank 0 of 2: no answer from the other ranks for \d+ s in MPI_\w+ ", job.Err);
        Assert.Contains("(timeout 3 s): another rank has died or hangs", job.Err);
    }
}
