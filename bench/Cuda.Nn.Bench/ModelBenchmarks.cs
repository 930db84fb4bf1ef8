// Whole-model throughput on the CPU: training steps (forward, cross-entropy, backward, SGD with Nesterov
// momentum and weight decay) and inference, for the models and batches of ../shared/ANCHORS.md, whose
// libtorch figures these are compared with (libtorch cannot run in the same process here).
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*ModelBenchmarks*'
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Bench;

[Config(typeof(ModelConfig))]
public class ModelBenchmarks
{
    /// <summary>model/workload/batch, as in ANCHORS.md's table.</summary>
    [Params("resnet18-train-64", "resnet18-infer-128", "resnet18-infer-1", "resnet20-train-128", "resnet20-infer-128", "resnet20-infer-1")]
    public string Case = "";

    private Module _model = null!;
    private Optimizer? _opt;
    private Tensor _x = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        BenchEnvironment.Apply(threads: 2);
        var parts = Case.Split('-');
        int batch = int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
        bool resnet18 = parts[0] == "resnet18";
        _model = resnet18 ? ResNet.ResNet18(10, 3, new Generator(0)) : ResNet.ResNet20(10, 1, new Generator(0));
        _x = DisposeScope.Detach(Tensor.Randn(resnet18 ? [batch, 3, 32, 32] : [batch, 1, 28, 28], new Generator(1)));
        _y = DisposeScope.Detach(Tensor.FromArray(Enumerable.Range(0, batch).Select(i => (long)(i % 10)).ToArray(), batch));
        if (parts[1] == "train") _opt = new Sgd(_model.Parameters(), 0.01, 0.9, 0, 5e-4, nesterov: true);
        else _model.Eval();
    }

    [Benchmark]
    public void Step()
    {
        using var scope = new DisposeScope();
        if (_opt is null)
        {
            using var noGrad = AutogradMode.NoGrad();
            _model.Forward(_x);
            return;
        }
        F.CrossEntropy(_model.Forward(_x), _y).Backward();
        _opt.Step();
        _opt.ZeroGrad();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _opt?.Dispose();
        _model.Dispose();
        _x.Dispose();
        _y.Dispose();
    }
}

public sealed class ModelConfig : ManualConfig
{
    public ModelConfig()
    {
        // BenchmarkDotNet picks the calls per iteration (about 0.5 s each). A job of one call per iteration measured
        // ResNet-18 batch-1 inference at 18-20 ms against 2.6-3.1 ms in a plain loop and 2.9 ms in this job (same
        // build, same machine): every first call after BenchmarkDotNet's between-iteration work paid ~15 ms, for a
        // reason we have not found (not the forced GC, process priority or an idle gap, each tried alone).
        AddJob(Job.Default.WithWarmupCount(10).WithIterationCount(10));
        AddColumnProvider(BenchmarkDotNet.Columns.DefaultColumnProviders.Instance);
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub);
    }
}

/// <summary>
/// Stopwatch timing of ModelBenchmarks' cases (30 warm-up steps, then the median and minimum of reps steps), for
/// quick before/after comparisons while tuning; BenchmarkDotNet's run is the one to report.
/// </summary>
public static class ModelProfile
{
    public static readonly string[] CaseNames =
        ["resnet18-train-64", "resnet18-infer-128", "resnet18-infer-1", "resnet20-train-128", "resnet20-infer-128", "resnet20-infer-1"];

    public static void Run(string[] args)
    {
        string which = args.Length > 0 ? args[0] : "all";
        if (BenchEnvironment.HighPriority) // what BenchmarkDotNet does to its process
        {
            System.Diagnostics.Process.GetCurrentProcess().PriorityClass = System.Diagnostics.ProcessPriorityClass.High;
            Thread.CurrentThread.Priority = ThreadPriority.Highest;
        }
        int reps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        foreach (var name in which == "all" ? CaseNames : which.Split(','))
        {
            var b = new ModelBenchmarks { Case = name };
            b.Setup();
            int warm = BenchEnvironment.Warmup is { } wu ? wu
                : name.EndsWith("-1", StringComparison.Ordinal) ? 100 : 5;
            for (int i = 0; i < warm; i++) b.Step();
            var times = new double[reps];
            bool collect = BenchEnvironment.GcEachStep; // what BenchmarkDotNet does between iterations
            for (int i = 0; i < reps; i++)
            {
                if (collect) { GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect(); }
                if (BenchEnvironment.SleepMs is { } ms) Thread.Sleep(ms);
                long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                b.Step();
                times[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(times);
            Console.WriteLine($"{name,-20} median {times[reps / 2],8:F2} ms   min {times[0],8:F2} ms");
            if (args.Length > 2 && args[2] == "ops")
            {
                OpTimingProxy.Install();
                for (int i = 0; i < reps; i++) b.Step();
                Cuda.Nn.Backends.Register(CpuBackend.Instance);
                OpTimingProxy.Print(reps);
            }
            b.Cleanup();
        }
    }
}

/// <summary>
/// Per-op time of the CPU backend: a DispatchProxy registered in place of CpuBackend times every backend call
/// (name plus the first shape-like argument), so `model-profile CASE REPS ops` shows where a step's time goes.
/// </summary>
public class OpTimingProxy : System.Reflection.DispatchProxy
{
    public static readonly Dictionary<string, (double Ms, int Calls)> Totals = new();
    internal Cuda.Nn.Kernels.IBackend Inner = null!;

    protected override object? Invoke(System.Reflection.MethodInfo? method, object?[]? args)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        object? result;
        try { result = method!.Invoke(Inner, args); }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
        double ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        string key = method!.Name;
        var geo = args?.OfType<Cuda.Nn.Kernels.Conv2dGeometry>().FirstOrDefault();
        if (geo is { } g && g.N > 0) key += $" {g.C}->{g.O} {g.H}x{g.W} k{g.KH} s{g.SH} g{g.Groups}";
        lock (Totals)
        {
            Totals.TryGetValue(key, out var v);
            Totals[key] = (v.Ms + ms, v.Calls + 1);
        }
        return result;
    }

    public static void Install()
    {
        var proxy = Create<Cuda.Nn.Kernels.IBackend, OpTimingProxy>();
        ((OpTimingProxy)(object)proxy).Inner = CpuBackend.Instance;
        Cuda.Nn.Backends.Register(proxy);
    }

    public static void Print(int steps)
    {
        double total = Totals.Values.Sum(v => v.Ms);
        Console.WriteLine($"  backend time per step {total / steps:F2} ms");
        foreach (var (k, v) in Totals.OrderByDescending(kv => kv.Value.Ms).Take(25))
            Console.WriteLine($"  {v.Ms / steps,8:F3} ms {100 * v.Ms / total,5:F1}%  {v.Calls / steps,4} calls  {k}");
        Totals.Clear();
    }
}
