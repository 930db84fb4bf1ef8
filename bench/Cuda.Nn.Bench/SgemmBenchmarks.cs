// Square row-major SGEMM, ours vs OpenBLAS (cblas_sgemm via P/Invoke, baseline). Run with
//   env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*Sgemm*'
// so OpenBLAS uses its AVX-512 kernels (Debian's build otherwise picks Haswell ones on Zen 5).
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Bench;

[Config(typeof(SgemmConfig))]
public unsafe class SgemmBenchmarks
{
    [Params(512, 1024, 2048)] public int N;
    [Params(1, 2)] public int Threads;

    private float* _a, _b, _c;

    [GlobalSetup]
    public void Setup()
    {
        nuint bytes = (nuint)N * (nuint)N * sizeof(float);
        _a = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        _b = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        _c = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        var rng = new Random(42);
        for (long i = 0; i < (long)N * N; i++)
        {
            _a[i] = (float)rng.NextDouble() - 0.5f;
            _b[i] = (float)rng.NextDouble() - 0.5f;
            _c[i] = 0f;
        }
        BenchEnvironment.Apply(Threads);
        OpenBlas.SetThreads(Threads);
        Console.WriteLine($"// ours: {Gemm.ActiveKernel}; OpenBLAS core: {OpenBlas.CoreName}; " +
            $"OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE")}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_b);
        NativeMemory.AlignedFree(_c);
    }

    [Benchmark(Baseline = true)]
    public void OpenBlasSgemm() => OpenBlas.Sgemm(N, N, N, _a, N, _b, N, _c, N);

    [Benchmark]
    public void CudaNnSgemm() => Gemm.Sgemm(false, false, N, N, N, 1f, _a, N, _b, N, 0f, _c, N);
}

/// <summary>A short job (3 warm-ups, 7 measured iterations) plus a GFLOP/s column.</summary>
public sealed class SgemmConfig : ManualConfig
{
    public SgemmConfig()
    {
        AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(7).WithLaunchCount(1)
            .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(300)));
        AddColumn(new GflopsColumn());
    }
}

/// <summary>2 * N^3 / mean time, for square GEMMs with an N parameter.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => "GFLOPS";
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2*N^3 / mean time";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats || benchmarkCase.Parameters["N"] is not int n) return "-";
        double flops = 2.0 * n * n * n;
        return (flops / stats.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture); // ns -> GFLOP/s
    }
}

/// <summary>OpenBLAS loaded at run time from Debian's libopenblas0-pthread (bench only).</summary>
public static unsafe class OpenBlas
{
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> SgemmFn;
    private static readonly delegate* unmanaged<int, void> SetThreadsFn;
    private static readonly delegate* unmanaged<sbyte*> CoreNameFn;

    static OpenBlas()
    {
        string[] candidates =
        [
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            "libopenblas.so.0",
        ];
        nint lib = 0;
        foreach (string path in candidates)
            if (NativeLibrary.TryLoad(path, out lib)) break;
        if (lib == 0) throw new DllNotFoundException("OpenBLAS not found: apt-get install libopenblas0-pthread");
        SgemmFn = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(lib, "cblas_sgemm");
        SetThreadsFn = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(lib, "openblas_set_num_threads");
        CoreNameFn = (delegate* unmanaged<sbyte*>)NativeLibrary.GetExport(lib, "openblas_get_corename");
    }

    public static string CoreName => new(CoreNameFn());

    public static void SetThreads(int threads) => SetThreadsFn(threads);

    /// <summary>Row-major C = A * B (no transposes).</summary>
    public static void Sgemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc) =>
        SgemmFn(101 /* CblasRowMajor */, 111 /* CblasNoTrans */, 111, m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc);
}
