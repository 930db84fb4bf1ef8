// Inference against ONNX Runtime on the same ONNX file, in the same run: our inference plan compiled from that
// file (InferencePlan: batch norms folded, conv + residual + relu fused, weights packed once), ORT's CPU provider
// (graph optimisations on, intra-op threads equal to ours), and for reference our eager module (eval mode, no
// autograd, batch norms folded). InferenceBenchmarks: batch-1 latency and batch-64 throughput for resnet18
// (3x32x32) and resnet20 (1x28x28); ZooInferenceBenchmarks: the zoo models at the sizes users run (issue 20).
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*InferenceBenchmarks*'       (both)
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*ZooInferenceBenchmarks*'
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Cuda.Nn.Autograd;
using Cuda.Nn.Inference;
using Cuda.Nn.Onnx;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cuda.Nn.Bench;

[Config(typeof(InferenceComparison.InferenceConfig))]
public class InferenceBenchmarks : InferenceComparison
{
    [Params("resnet18-1", "resnet18-64", "resnet20-1", "resnet20-64")]
    public string Case = "";

    protected override string CaseName => Case;
}

[Config(typeof(InferenceComparison.InferenceConfig))]
public class ZooInferenceBenchmarks : InferenceComparison
{
    [Params("mobilenet_v3_small-1", "mobilenet_v3_small-16", "efficientnet_b0-1", "efficientnet_b0-16", "efficientnet_b3-1", "vit_t_16-1", "resnet50-1", "resnet50-16")]
    public string Case = "";

    protected override string CaseName => Case;
}

/// <summary>MODEL-BATCH: our plan, ORT and our eager module on one model's ONNX file. resnet18 and resnet20 are
/// the CIFAR/Fashion-MNIST forms (10 classes); the zoo models are ImageNet-shaped (1000 classes, 3 channels) at
/// the sizes in <see cref="ZooSizes"/>.</summary>
public abstract class InferenceComparison
{
    public static readonly Dictionary<string, int> ZooSizes = new()
    {
        ["mobilenet_v3_small"] = 224, ["efficientnet_b0"] = 224, ["efficientnet_b3"] = 256, ["vit_t_16"] = 224, ["resnet50"] = 224,
    };

    protected abstract string CaseName { get; }

    [Params(2)]
    public int Threads;

    private Module _model = null!;
    private InferencePlan _plan = null!;
    private Tensor _x = null!;
    private InferenceSession _session = null!;
    private NamedOnnxValue[] _inputs = null!;
    private string _path = "";

    [GlobalSetup]
    public void Setup()
    {
        BenchEnvironment.Apply(Threads);
        int dash = CaseName.LastIndexOf('-');
        string name = CaseName[..dash];
        int batch = int.Parse(CaseName[(dash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        int[] shape;
        (_model, shape) = name switch
        {
            "resnet18" => (ResNet.ResNet18(10, 3, new Generator(0)), new[] { 3, 32, 32 }),
            "resnet20" => (ResNet.ResNet20(10, 1, new Generator(0)), new[] { 1, 28, 28 }),
            _ => (ModelRegistry.Create(name, new ModelOptions(1000, 3, ZooSizes[name], new Generator(0))), new[] { 3, ZooSizes[name], ZooSizes[name] }),
        };
        _model.Eval();
        _path = Path.Combine(Path.GetTempPath(), $"cudann-bench-{CaseName}.onnx");
        OnnxExporter.Export(_model, shape, _path);
        using (var graph = OnnxImporter.Load(_path)) _plan = InferencePlan.Compile(graph);
        Compression.Quantization.FoldBatchNorms(_model);
        _x = DisposeScope.Detach(Tensor.Randn([batch, .. shape], new Generator(1)));
        var options = OrtOptions();
        _session = new InferenceSession(_path, options);
        _inputs = [NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, new DenseTensor<float>(_x.ToFloatArray(), _x.Shape))];
    }

    [Benchmark(Baseline = true)]
    public float OnnxRuntime()
    {
        using var results = _session.Run(_inputs);
        return results.First().AsTensor<float>().GetValue(0);
    }

    [Benchmark]
    public float CudaNn()
    {
        using var scope = new DisposeScope();
        return _plan.Run(_x).ToFloatArray()[0];
    }

    [Benchmark]
    public float CudaNnEager()
    {
        using var noGrad = AutogradMode.NoGrad();
        using var scope = new DisposeScope();
        return _model.Forward(_x).ToFloatArray()[0];
    }

    /// <summary>Median milliseconds of each plan step over reps calls (inference-profile CASE REPS steps).</summary>
    internal void PrintSteps(int reps)
    {
        var times = new Dictionary<string, List<double>>();
        _plan.StepTimer = (name, ms) => (times.TryGetValue(name, out var l) ? l : times[name] = []).Add(ms);
        for (int i = 0; i < reps; i++) CudaNn();
        _plan.StepTimer = null;
        PrintMedians(times);
        foreach (var line in _plan.Describe()) Console.WriteLine($"  {line}");
    }

    /// <summary>ORT's CPU provider as the benchmark runs it: all graph optimisations, intra-op threads equal to ours.</summary>
    private SessionOptions OrtOptions() => new SessionOptions { IntraOpNumThreads = Threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };

    private static void PrintMedians(Dictionary<string, List<double>> times)
    {
        foreach (var (name, l) in times.OrderByDescending(kv => kv.Value.Order().ElementAt(kv.Value.Count / 2)))
            Console.WriteLine($"  {l.Order().ElementAt(l.Count / 2),8:F4} ms  {name}");
    }

    /// <summary>ONNX Runtime's own per-node profile (median microseconds over reps calls), for comparison with PrintSteps.</summary>
    internal void PrintOrtSteps(int reps)
    {
        var options = OrtOptions();
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "cudann-ort-profile");
        using var session = new InferenceSession(_path, options);
        for (int i = 0; i < reps; i++) session.Run(_inputs).Dispose();
        string file = session.EndProfiling();
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
        File.Delete(file);
        var times = new Dictionary<string, List<double>>();
        foreach (var e in doc.RootElement.EnumerateArray())
            if (e.GetProperty("cat").GetString() == "Node" && e.GetProperty("name").GetString() is { } name && name.EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                string op = e.TryGetProperty("args", out var a) && a.TryGetProperty("op_name", out var o) ? o.GetString()! : "";
                (times.TryGetValue($"{name[..^12]} ({op})", out var l) ? l : times[$"{name[..^12]} ({op})"] = []).Add(e.GetProperty("dur").GetDouble() / 1000);
            }
        PrintMedians(times);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _plan.Dispose();
        _model.Dispose();
        _x.Dispose();
        File.Delete(_path);
    }

    internal sealed class InferenceConfig : ManualConfig
    {
        public InferenceConfig() => AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10));
    }
}

/// <summary>Stopwatch comparison of InferenceBenchmarks' cases (median of reps calls after 2 s of warm-up), for quick tuning.</summary>
public static class InferenceProfile
{
    public static void Run(string[] args)
    {
        string which = args.Length > 0 ? args[0] : "all";
        int reps = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200;
        string[] names = which switch
        {
            "all" => ["resnet18-1", "resnet18-64", "resnet20-1", "resnet20-64"],
            "zoo" => [.. InferenceComparison.ZooSizes.Keys.Select(m => m + "-1")],
            _ => which.Split(','),
        };
        foreach (var name in names)
        {
            InferenceComparison b = name.StartsWith("resnet18-", StringComparison.Ordinal) || name.StartsWith("resnet20-", StringComparison.Ordinal)
                ? new InferenceBenchmarks { Case = name, Threads = BenchEnvironment.Threads }
                : new ZooInferenceBenchmarks { Case = name, Threads = BenchEnvironment.Threads };
            b.Setup();
            double Time(Func<float> f)
            {
                // At least 2 s of calls: the plan's managed steps stay at tier-0 JIT code while new methods keep
                // compiling, and 200 batch-1 calls (0.2 s) measured the plan at 1.6 ms against 0.7 ms once warm.
                var warm = System.Diagnostics.Stopwatch.StartNew();
                for (int i = 0; i < 5 || warm.ElapsedMilliseconds < 2000; i++) f();
                var t = new double[reps];
                for (int i = 0; i < reps; i++)
                {
                    long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    f();
                    t[i] = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                }
                Array.Sort(t);
                return t[reps / 2];
            }
            // ORT's intra-op threads spin after each run; measure ours first so they are asleep.
            double ours = Time(b.CudaNn), eager = Time(b.CudaNnEager), ort = Time(b.OnnxRuntime);
            if (args.Length > 2 && args[2] == "steps") b.PrintSteps(reps);
            if (args.Length > 2 && args[2] == "ortsteps") b.PrintOrtSteps(reps);
            Console.WriteLine($"{name,-22} ORT {ort,8:F3} ms   plan {ours,8:F3} ms   eager {eager,8:F3} ms   plan/ORT {ours / ort,5:F2}");
            b.Cleanup();
        }
    }
}
