// cudann dist-check: run under a launcher (mpirun -n 2 cudann dist-check) to check that every rank can reach the
// others and that each collective gives what this rank computes alone (docs/distributed.md).
using Cuda.Nn.Distributed;

namespace Cuda.Nn.Cli;

public static class DistCheckCommand
{
    public static readonly string[] OptionNames = ["bucket-elements", "seed", "sizes"];

    public static int Run(Options o)
    {
        var env = DistributedEnvironment.Current();
        long bucket = o.Int("bucket-elements", 4096, 1);
        var sizes = o.String("sizes") is { } s ? ParseSizes(s) : [1, 2, 7, 1001, 2 * bucket + 3];
        using var collectives = env.CreateCollectives(bucket);
        if (collectives.Rank == 0)
            Console.WriteLine($"dist-check: {env}, over {collectives.Description}; F16/BF16 widened to F32 in buckets of {bucket} elements");
        var check = new CollectivesCheck(collectives, Console.Out, (ulong)o.Int("seed", 1, 0));
        bool ok = check.Run(sizes);
        // Every rank learns whether any failed, so all exit alike and mpirun reports one outcome.
        double failedEverywhere = collectives.AllGather(check.Failed).Sum();
        if (failedEverywhere > 0) throw new InvalidOperationException($"{failedEverywhere} check(s) failed across the ranks ({check.Failed} on rank {collectives.Rank}); see the FAILED lines");
        if (collectives.Rank == 0) Console.WriteLine($"dist-check: all checks passed on {collectives.WorldSize} rank(s)");
        return ok ? 0 : 1;
    }

    private static long[] ParseSizes(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var sizes = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], out sizes[i]) || sizes[i] < 0 || sizes[i] > 1L << 28)
                throw new UsageException($"--sizes expects comma-separated element counts in [0, 268435456], got '{text}'");
        return sizes;
    }
}
