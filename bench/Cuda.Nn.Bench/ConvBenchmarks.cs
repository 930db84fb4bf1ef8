// conv2d FP32 NCHW on the four ANCHORS.md shapes, forward and forward + backward (grad input + grad weight),
// on 1 and 2 threads, calling the CPU backend directly on preallocated tensors. Run with
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*ConvBenchmarks*'
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Bench;

[Config(typeof(ConvConfig))]
public class ConvBenchmarks
{
    /// <summary>The ANCHORS.md cases: (a) 3x3 64->64, (b) 1x1 64->256, (c) depthwise 144, (d) 7x7 s2 stem.</summary>
    public static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["a_3x3_64to64"] = new(32, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1),
        ["b_1x1_64to256"] = new(32, 64, 56, 56, 256, 1, 1),
        ["c_dw3x3_144"] = new(32, 144, 56, 56, 144, 3, 3, 1, 1, 1, 1, 1, 1, 144),
        ["d_7x7s2_3to64"] = new(8, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3),
        // Batch-1 inference shapes of ResNet-20 (28x28) and ResNet-18 (32x32), for conv-profile only.
        ["r20_b1_16"] = new(1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1),
        ["r20_b1_32"] = new(1, 32, 14, 14, 32, 3, 3, 1, 1, 1, 1),
        ["r20_b1_64"] = new(1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1),
        ["r18_b1_64"] = new(1, 64, 8, 8, 64, 3, 3, 1, 1, 1, 1),
        ["r18_b1_256"] = new(1, 256, 2, 2, 256, 3, 3, 1, 1, 1, 1),
        ["r18_b1_512"] = new(1, 512, 1, 1, 512, 3, 3, 1, 1, 1, 1),
        ["r18_b1_stem"] = new(1, 3, 32, 32, 64, 7, 7, 2, 2, 3, 3),
        ["r20_b1_s2_16to32"] = new(1, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1),
        ["r20_b1_s2_32to64"] = new(1, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1),
        // Stride-2 3x3 downsampling convs (direct stride-2 kernel or im2col), for conv-profile only.
        ["s2_3x3_64to128_56"] = new(8, 64, 56, 56, 128, 3, 3, 2, 2, 1, 1),
        ["r20_b128_s2_16to32"] = new(128, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1),
        ["r20_b128_s2_32to64"] = new(128, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1),
        ["r18_b64_s2_64to128"] = new(64, 64, 8, 8, 128, 3, 3, 2, 2, 1, 1),
    };

    [ParamsSource(nameof(CaseNames))] public string Case = "";
    [Params(1, 2)] public int Threads;

    /// <summary>The four ANCHORS.md shapes (BenchmarkDotNet's cases; conv-profile also takes the batch-1 ones).</summary>
    public static IEnumerable<string> CaseNames => Cases.Keys.Take(4);

    private Conv2dGeometry _g;
    private Storage _x = null!, _w = null!, _b = null!, _y = null!, _gy = null!, _gx = null!, _gw = null!;
    private Layout _xl = null!, _wl = null!, _bl = null!, _gyl = null!;
    private readonly CpuBackend _cpu = CpuBackend.Instance;

    [GlobalSetup]
    public void Setup()
    {
        BenchEnvironment.Apply(Threads);
        _g = Cases[Case];
        var g = _g;
        _xl = Layout.Contiguous([g.N, g.C, g.H, g.W]);
        _wl = Layout.Contiguous([g.O, g.C / g.Groups, g.KH, g.KW]);
        _bl = Layout.Contiguous([g.O]);
        _gyl = Layout.Contiguous([g.N, g.O, g.OH, g.OW]);
        _x = Filled(_xl.Numel, 1, 1);
        _w = Filled(_wl.Numel, 2, 1 / Math.Sqrt(g.C / g.Groups * g.KH * g.KW));
        _b = Filled(g.O, 3, 1);
        _gy = Filled(_gyl.Numel, 4, 1);
        _y = _cpu.Allocate(DType.F32, _gyl.Numel);
        _gx = _cpu.Allocate(DType.F32, _xl.Numel);
        _gw = _cpu.Allocate(DType.F32, _wl.Numel);
        Console.WriteLine($"// {Case}: {g}, {2.0 * g.Macs / 1e9:F2} GFLOP forward, gemm {Gemm.ActiveKernel}, threads {Threads}");
    }

    private Storage Filled(int n, ulong seed, double std)
    {
        var s = _cpu.Allocate(DType.F32, n);
        _cpu.FillRandom(s, n, seed, 0, normal: true, 0, std);
        return s;
    }

    private PackedConv2d? _frozen;

    /// <summary>The same forward through a frozen PackedConv2d (weights packed once, bias fused), for conv-profile.</summary>
    internal unsafe Action? FrozenForward()
    {
        if (!PackedConv2d.Applies(_g)) return null;
        var conv = _frozen = new PackedConv2d(((CpuStorage)_w).Ptr<float>(), ((CpuStorage)_b).Ptr<float>(), _g);
        float* x = ((CpuStorage)_x).Ptr<float>(), y = ((CpuStorage)_y).Ptr<float>();
        int n = _g.N;
        Console.WriteLine($"//   frozen: {conv.Describe}");
        return () => conv.Run(x, null, y, n, FusedActivation.None);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in new[] { _x, _w, _b, _y, _gy, _gx, _gw }) s.Release();
        _frozen?.Dispose();
    }

    [Benchmark]
    public void Forward() => _cpu.Conv2d(_x, _xl, _w, _wl, _b, _bl, _y, _g);

    public void BackwardData() => _cpu.Conv2dBackwardData(_gy, _gyl, _w, _wl, _gx, _g);

    public void BackwardFilter() => _cpu.Conv2dBackwardFilter(_x, _xl, _gy, _gyl, _gw, null, _g);

    [Benchmark]
    public void ForwardBackward()
    {
        _cpu.Conv2d(_x, _xl, _w, _wl, _b, _bl, _y, _g);
        _cpu.Conv2dBackwardData(_gy, _gyl, _w, _wl, _gx, _g);
        _cpu.Conv2dBackwardFilter(_x, _xl, _gy, _gyl, _gw, null, _g);
    }
}

/// <summary>Few iterations (these calls take tens of milliseconds), one invocation each, plus a GFLOP/s column.</summary>
public sealed class ConvConfig : ManualConfig
{
    public ConvConfig()
    {
        AddJob(Job.Default.WithWarmupCount(10).WithIterationCount(7).WithLaunchCount(1).WithInvocationCount(1).WithUnrollFactor(1)); // 10 warm-ups: past tier-0 JIT code
        // On the shared machine the minimum is the best estimate of uncontended speed; the median shows the spread.
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, new ConvGflopsColumn(), new ConvGflopsColumn(fromMin: true));
    }
}

/// <summary>FLOPs = 2 MACs per forward; forward + backward counts 3x (ANCHORS.md's convention).</summary>
public sealed class ConvGflopsColumn(bool fromMin = false) : IColumn
{
    public string Id => fromMin ? "ConvGFLOPSMin" : "ConvGFLOPS";
    public string ColumnName => fromMin ? "GFLOP/s (min)" : "GFLOP/s (median)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"2 MACs (x3 with backward) / {(fromMin ? "min" : "median")} time";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats || benchmarkCase.Parameters["Case"] is not string c) return "-";
        double flops = 2.0 * ConvBenchmarks.Cases[c].Macs * (benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(ConvBenchmarks.ForwardBackward) ? 3 : 1);
        return (flops / (fromMin ? stats.Min : stats.Median)).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Minimum time of each pass (forward, backward-data, backward-filter) per case: where the time goes.</summary>
public static class ConvProfile
{
    public static void Run(string[] args)
    {
        var names = args.Length > 0 && args[0] != "all" ? [args[0]] : ConvBenchmarks.CaseNames.ToArray();
        if (args.Length > 0 && args[0] is "b1" or "s2") // the batch-1 inference shapes, or the stride-2 ones
            names = ConvBenchmarks.Cases.Keys.Where(k => k.Contains(args[0] == "b1" ? "_b1_" : "s2_")).ToArray();
        var unknown = names.Where(n => !ConvBenchmarks.Cases.ContainsKey(n)).ToList();
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"conv-profile: unknown case {string.Join(", ", unknown)}; the cases are: all, {string.Join(", ", ConvBenchmarks.CaseNames)}");
            Environment.Exit(2);
        }
        int threads = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1;
        int reps = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 5;
        foreach (var name in names)
        {
            var b = new ConvBenchmarks { Case = name, Threads = threads };
            b.Setup();
            var g = ConvBenchmarks.Cases[name];
            double Min(Action a)
            {
                for (int i = 0; i < (g.N == 1 ? 200 : 1); i++) a();
                double best = double.MaxValue;
                for (int i = 0; i < reps; i++)
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    a();
                    best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
                }
                return best;
            }
            // CUDANN_PASS=forward (the eager forward) or frozen (the PackedConv2d forward): time that pass alone, for A/B loops.
            if (BenchEnvironment.Pass is { } pass)
            {
                var only = pass == "frozen" ? b.FrozenForward() : pass == "forward" ? b.Forward : null;
                Console.WriteLine(only is null ? $"{name}: no '{pass}' pass (forward, or frozen where PackedConv2d applies)" : $"{name} {pass} {Min(only):F3} ms");
                b.Cleanup();
                continue;
            }
            double f = Min(b.Forward), d = Min(b.BackwardData), w = Min(b.BackwardFilter);
            double gf = 2.0 * g.Macs / 1e6;
            if (b.FrozenForward() is { } frozen)
            {
                double fr = Min(frozen);
                Console.WriteLine($"{name} threads {threads} frozen forward {fr:F3} ms ({gf / fr:F0} GFLOP/s) against eager {f:F3} ms");
            }
            Console.WriteLine($"{name} threads {threads} variants {ConvVariants.Describe(g)}: forward {f:F3} ms ({gf / f:F0} GFLOP/s), " +
                $"backward-data {d:F3} ms ({gf / d:F0}), backward-filter {w:F3} ms ({gf / w:F0}), sum {f + d + w:F3} ms");
            b.Cleanup();
        }
    }
}
