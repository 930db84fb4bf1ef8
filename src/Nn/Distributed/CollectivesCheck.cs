// What `cudann dist-check` runs on every rank: each collective against the answer computed on this rank alone.
// Every rank's inputs are a pure function of (seed, rank, index), so each rank can compute the whole reduction
// itself, in rank order, and compare it with what the transport returned.
using System.Diagnostics;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Distributed;

public sealed unsafe class CollectivesCheck(ICollectives collectives, TextWriter log, ulong seed = 1)
{
    private readonly ICollectives _c = collectives;
    private int _failed, _passed;

    public int Failed => _failed;
    public int Passed => _passed;

    /// <summary>All-reduce (sum and average, F32/F64/F16/BF16) at <paramref name="sizes"/>, broadcast, barrier and
    /// all-gather; one line per check. Returns true when every check passed on this rank.</summary>
    public bool Run(IReadOnlyList<long> sizes)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64, DType.F16, DType.BF16 })
            foreach (var op in new[] { AllReduceOp.Sum, AllReduceOp.Average })
                foreach (long n in sizes)
                    AllReduce(dtype, n, op);
        Broadcast(1003);
        Barrier(TimeSpan.FromMilliseconds(300));
        AllGather();
        RuntimeSignals();
        log.WriteLine($"rank {_c.Rank}/{_c.WorldSize}: {_passed} checks passed, {_failed} failed{(_failed == 0 ? "" : ": FAILED")}");
        return _failed == 0;
    }

    private void Report(string what, bool ok)
    {
        if (ok) _passed++;
        else _failed++;
        log.WriteLine($"rank {_c.Rank}/{_c.WorldSize}: {what}: {(ok ? "ok" : "FAILED")}");
    }

    /// <summary>Element i of rank r's input, in [-4, 4): a hash of (seed, rank, i), so any rank can make any rank's input.</summary>
    private float Input(int rank, long i)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + (ulong)rank * 0xBF58476D1CE4E5B9UL + (ulong)i * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return ((z >> 40) * (1f / (1 << 24)) - 0.5f) * 8;
    }

    private void AllReduce(DType dtype, long n, AllReduceOp op)
    {
        int size = dtype.SizeOf(), world = _c.WorldSize;
        var buffer = new byte[n * size];
        var expected = new double[n];
        var sumAbs = new double[n];
        fixed (byte* p = buffer)
        {
            byte* one = stackalloc byte[8];
            for (long i = 0; i < n; i++)
            {
                // The reduction as the transport is specified to do it: in the type (F16/BF16 in F32), in rank order.
                double d = 0;
                float f = 0;
                for (int r = 0; r < world; r++)
                {
                    CpuCopy.WriteDouble(dtype, one, Input(r, i));
                    double x = CpuCopy.ReadDouble(dtype, one);
                    if (r == _c.Rank) CpuCopy.WriteDouble(dtype, p + i * size, x);
                    d += x;
                    f += (float)x;
                    sumAbs[i] += Math.Abs(x);
                }
                if (dtype == DType.F64) expected[i] = op == AllReduceOp.Average ? d / world : d;
                else
                {
                    float e = op == AllReduceOp.Average ? f / world : f;
                    CpuCopy.WriteDouble(dtype, one, e);
                    expected[i] = CpuCopy.ReadDouble(dtype, one);
                }
            }
            var sw = Stopwatch.StartNew();
            _c.AllReduce(dtype, (nint)p, n, op);
            double ms = sw.Elapsed.TotalMilliseconds;
            // Two ranks add once, so the answer is exact; more ranks may add in another order (MPI chooses).
            double eps = dtype == DType.F64 ? Math.ScaleB(1, -52) : Math.ScaleB(1, -23);
            double rounding = dtype switch { DType.F16 => Math.ScaleB(1, -10), DType.BF16 => Math.ScaleB(1, -7), _ => 0 };
            double maxError = 0;
            long bad = -1;
            for (long i = 0; i < n; i++)
            {
                double got = CpuCopy.ReadDouble(dtype, p + i * size), err = Math.Abs(got - expected[i]);
                double tol = world <= 2 ? 0 : world * eps * sumAbs[i] + rounding * Math.Abs(expected[i]);
                maxError = Math.Max(maxError, err);
                if (!(err <= tol) && bad < 0) bad = i;
            }
            Report($"all-reduce {op.ToString().ToLowerInvariant()} {dtype} n={n}: max error {maxError:G3}, {ms:F2} ms" +
                (bad >= 0 ? $"; element {bad} is {CpuCopy.ReadDouble(dtype, p + bad * size):R}, expected {expected[bad]:R}" : ""), bad < 0);
        }
    }

    private void Broadcast(int bytes)
    {
        int root = _c.WorldSize - 1;
        var buffer = new byte[bytes];
        static byte Pattern(int i) => (byte)(i * 31 + 7);
        if (_c.Rank == root)
            for (int i = 0; i < bytes; i++) buffer[i] = Pattern(i);
        _c.Broadcast<byte>(buffer, root);
        int wrong = Enumerable.Range(0, bytes).Count(i => buffer[i] != Pattern(i));
        Report($"broadcast of {bytes} bytes from rank {root}: {wrong} bytes differ", wrong == 0);
    }

    /// <summary>Rank 0 arrives late; the others must wait for it in the barrier.</summary>
    private void Barrier(TimeSpan delay)
    {
        _c.Barrier();
        if (_c.Rank == 0) Thread.Sleep(delay);
        var sw = Stopwatch.StartNew();
        _c.Barrier();
        double waited = sw.Elapsed.TotalMilliseconds;
        bool ok = _c.Rank == 0 || waited >= delay.TotalMilliseconds * 0.8;
        Report($"barrier: waited {waited:F0} ms{(_c.Rank == 0 ? " (rank 0 arrives last)" : $" for rank 0, which slept {delay.TotalMilliseconds:F0} ms")}", ok);
    }

    private void AllGather()
    {
        var all = _c.AllGather([_c.Rank + 0.25, -_c.Rank]);
        bool ok = all.Length == 2 * _c.WorldSize && Enumerable.Range(0, _c.WorldSize).All(r => all[2 * r] == r + 0.25 && all[2 * r + 1] == -r);
        Report($"all-gather of 2 values: [{string.Join(", ", all)}]", ok);
    }

    /// <summary>MPI installs signal handlers when it starts; .NET turns SIGSEGV into NullReferenceException, so a
    /// transport that replaced the runtime's handler would make any null dereference kill the process.</summary>
    private void RuntimeSignals()
    {
        bool caught = false;
        try
        {
            string? nothing = Environment.GetEnvironmentVariable("CUDANN_UNSET_" + Guid.NewGuid().ToString("N"));
            _ = nothing!.Length;
        }
        catch (NullReferenceException)
        {
            caught = true;
        }
        Report("a null dereference is still a NullReferenceException", caught);
    }
}
