// The CPU thread pool: For hands chunks to whichever thread asks; ForEachThread pins part i to the same thread on every
// call, which the blocked inference path relies on to read rows its own core wrote.
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public class CpuWorkersTests
{
    [Fact]
    public void ForEachThreadRunsEachPartOnTheSameThreadEveryCall()
    {
        int saved = CpuWorkers.ThreadCount;
        CpuWorkers.ThreadCount = 3;
        try
        {
            int caller = Environment.CurrentManagedThreadId;
            int[]? first = null;
            for (int call = 0; call < 50; call++)
            {
                var ids = new int[3];
                CpuWorkers.ForEachThread(3, p => ids[p] = Environment.CurrentManagedThreadId);
                Assert.Equal(caller, ids[0]);
                Assert.Equal(3, ids.Distinct().Count());
                first ??= ids;
                Assert.Equal(first, ids);
            }
            // Fewer parts than threads: still part 0 on the caller, part 1 on the first worker.
            var two = new int[2];
            CpuWorkers.ForEachThread(2, p => two[p] = Environment.CurrentManagedThreadId);
            Assert.Equal(first![..2], two);
        }
        finally { CpuWorkers.ThreadCount = saved; }
    }

    [Fact]
    public void ForEachThreadInsideARegionRunsEveryPartOnTheCallingThread()
    {
        int saved = CpuWorkers.ThreadCount;
        CpuWorkers.ThreadCount = 2;
        try
        {
            var inner = new int[2][];
            CpuWorkers.For(2, c =>
            {
                inner[c] = new int[2];
                CpuWorkers.ForEachThread(2, p => inner[c][p] = Environment.CurrentManagedThreadId);
                Assert.All(inner[c], id => Assert.Equal(Environment.CurrentManagedThreadId, id));
            });
            Assert.All(inner, ids => Assert.NotEqual(0, ids[0]));
        }
        finally { CpuWorkers.ThreadCount = saved; }
    }

    [Fact]
    public void ForEachThreadRunsPartsPastTheThreadsOnTheCallerAndReportsFailures()
    {
        int saved = CpuWorkers.ThreadCount;
        CpuWorkers.ThreadCount = 2;
        try
        {
            var ids = new int[4];
            CpuWorkers.ForEachThread(4, p => ids[p] = Environment.CurrentManagedThreadId);
            Assert.Equal(Environment.CurrentManagedThreadId, ids[0]);
            Assert.NotEqual(ids[0], ids[1]);
            Assert.Equal(ids[0], ids[2]);
            Assert.Equal(ids[0], ids[3]);
            var failed = Assert.Throws<AggregateException>(() =>
                CpuWorkers.ForEachThread(2, p => { if (p == 1) throw new InvalidOperationException("part 1 failed"); }));
            Assert.Equal("part 1 failed", failed.InnerException!.Message);
            int ran = 0; // the pool still works afterwards
            CpuWorkers.ForEachThread(2, _ => Interlocked.Increment(ref ran));
            Assert.Equal(2, ran);
        }
        finally { CpuWorkers.ThreadCount = saved; }
    }
}
