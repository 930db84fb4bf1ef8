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
        CpuWorkers.ThreadCount = 2;
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
        // One call per iteration, but 30 warm-ups: with fewer, the first calls run tier-0 JIT code (tiering starts
        // after 100 ms and 30 calls), which made batch-1 figures up to 5x too slow in earlier runs.
        AddJob(Job.Default.WithWarmupCount(30).WithIterationCount(10).WithInvocationCount(1).WithUnrollFactor(1));
        AddColumnProvider(BenchmarkDotNet.Columns.DefaultColumnProviders.Instance);
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddExporter(BenchmarkDotNet.Exporters.MarkdownExporter.GitHub);
    }
}
