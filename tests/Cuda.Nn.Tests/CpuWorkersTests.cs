// The CPU thread pool: For hands chunks to whichever thread asks; ForEachThread pins part i to the same thread on every
// call (the blocked inference path relies on it to read rows its own core wrote), unless a worker has not started its
// part soon after the caller finished its own: then the caller runs it.
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public class CpuWorkersTests
{
    [Fact]
    public void ForEachThreadRunsEachPartOnTheSameThreadEveryCall()
    {
        var threadScope = CpuKernelOptions.UseThreads(3);
        try
        {
            int caller = Environment.CurrentManagedThreadId;
            int[]? first = null;
            for (int call = 0; call < 50; call++)
            {
                var ids = new int[3];
                CpuWorkers.ForEachThread(3, Recording(ids));
                Assert.Equal(caller, ids[0]);
                Assert.Equal(3, ids.Distinct().Count());
                first ??= ids;
                Assert.Equal(first, ids);
            }
            // Fewer parts than threads: still part 0 on the caller, part 1 on the first worker.
            var two = new int[2];
            CpuWorkers.ForEachThread(2, Recording(two));
            Assert.Equal(first![..2], two);
        }
        finally { threadScope.Dispose(); }
    }

    /// <summary>A body that records each part's thread; part 0 waits until the workers' parts have started, so the
    /// caller never takes one over (it does when a worker has not started 5 µs after the caller's part ends).</summary>
    private static Action<int> Recording(int[] ids, int? workers = null)
    {
        int started = 0, expected = workers ?? ids.Length - 1;
        return p =>
        {
            ids[p] = Environment.CurrentManagedThreadId;
            if (p != 0 && p <= expected) Interlocked.Increment(ref started);
            var wait = System.Diagnostics.Stopwatch.StartNew();
            while (p == 0 && Volatile.Read(ref started) < expected && wait.ElapsedMilliseconds < 5000) Thread.SpinWait(10);
        };
    }

    [Fact]
    public void ForEachThreadRunsEveryPartOnceWhenWorkersAreSlowToStart()
    {
        // Workers that block at once take tens of µs to wake, so the caller takes over many of their parts: each part
        // must still run exactly once per call, and none be waited for forever.
        using var options = CpuKernelOptions.Use(CpuKernelOptions.Current with { Threads = 3, SpinMicroseconds = 0 });
        var runs = new int[3];
        for (int call = 0; call < 300; call++)
        {
            if (call % 50 == 0) Thread.Sleep(2); // let the workers block
            CpuWorkers.ForEachThread(3, p => Interlocked.Increment(ref runs[p]));
            Assert.Equal([call + 1, call + 1, call + 1], runs);
        }
    }

    [Fact]
    public void ForEachThreadInsideARegionRunsEveryPartOnTheCallingThread()
    {
        var threadScope = CpuKernelOptions.UseThreads(2);
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
        finally { threadScope.Dispose(); }
    }

    [Fact]
    public void ForEachThreadRunsPartsPastTheThreadsOnTheCallerAndReportsFailures()
    {
        var threadScope = CpuKernelOptions.UseThreads(2);
        try
        {
            var ids = new int[4];
            CpuWorkers.ForEachThread(4, Recording(ids, workers: 1));
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
        finally { threadScope.Dispose(); }
    }
}
