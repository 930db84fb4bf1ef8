// Collectives across processes: cudann dist-check under mpirun on loopback. Every rank computes the whole reduction
// from all ranks' inputs itself and compares (CollectivesCheck); here we check that each rank ran every check.
namespace Cuda.Nn.Tests;

public sealed class MpiRunTests
{
    private const int ChecksPerRank = 44; // 4 dtypes x 2 ops x 5 sizes, broadcast, barrier, all-gather, signals

    [Theory]
    [InlineData(2)]
    [InlineData(3)] // an odd world: the average divides by 3 and MPI may add in another order (checked within rounding)
    public void AllReduceBroadcastBarrierAndAllGatherAgreeWithOneRanksComputation(int ranks)
    {
        MpiRun.SkipUnlessAvailable();
        // Sizes: 1 and 2, odd 7 and 1001, and 2 buckets + 3 of the F16/BF16 widening (bucket 4096).
        var (code, stdout, stderr) = MpiRun.Run(ranks, TimeSpan.FromMinutes(3), "dist-check", "--bucket-elements", "4096");
        Assert.True(code == 0, $"mpirun exited {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        for (int r = 0; r < ranks; r++)
        {
            Assert.Contains($"rank {r}/{ranks}: {ChecksPerRank} checks passed, 0 failed", stdout);
            Assert.Contains($"rank {r}/{ranks}: all-reduce average BF16 n=8195: max error", stdout);
        }
        Assert.DoesNotContain("FAILED", stdout);
        Assert.Contains($"dist-check: rank 0 of {ranks} (OpenMpi, local rank 0 of {ranks}), over Open MPI", stdout);
        Assert.Contains($"dist-check: all checks passed on {ranks} rank(s)", stdout);
        if (ranks == 2) Assert.DoesNotMatch("max error [1-9]", stdout); // two ranks add once: exact
    }

    [Fact]
    public void ABadOptionOnEveryRankEndsTheJobWithTheOneLineError()
    {
        MpiRun.SkipUnlessAvailable();
        var (code, _, stderr) = MpiRun.Run(2, TimeSpan.FromMinutes(2), "dist-check", "--sizes", "3,x");
        Assert.NotEqual(0, code);
        Assert.Contains("cudann dist-check: --sizes expects comma-separated element counts", stderr);
    }
}
