// The fine-tuning brief's industrial recipe step on the CPU: efficientnet_b3 at 256 x 256, batch 32, forward,
// cross-entropy, backward and an AdamW step (lr 1e-4, weight decay 1e-4), in images/s. Peak working set is
// reported beside it. A step takes seconds here, so the job runs few iterations.
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*FineTuneBenchmarks*'
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Bench;

[Config(typeof(FineTuneConfig))]
public class FineTuneBenchmarks
{
    public const int Batch = 32, Size = 256;

    private Module _model = null!;
    private Optimizer _opt = null!;
    private Tensor _x = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        BenchEnvironment.Apply(threads: 2);
        _model = ModelRegistry.Create("efficientnet_b3", new ModelOptions(10, 3, Size, new Generator(0)));
        _opt = Adam.AdamW(_model.Parameters(), 1e-4, weightDecay: 1e-4);
        _x = DisposeScope.Detach(Tensor.Randn([Batch, 3, Size, Size], new Generator(1)));
        _y = DisposeScope.Detach(Tensor.FromArray(Enumerable.Range(0, Batch).Select(i => (long)(i % 10)).ToArray(), Batch));
    }

    /// <summary>One training step of 32 images (divide 32 by the mean for images/s).</summary>
    [Benchmark]
    public void EfficientNetB3Step256()
    {
        using var scope = new DisposeScope();
        F.CrossEntropy(_model.Forward(_x), _y).Backward();
        _opt.Step();
        _opt.ZeroGrad();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// peak working set {Environment.WorkingSet / (1 << 20)} MiB (process, at cleanup); peak {System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
        _opt.Dispose();
        _model.Dispose();
        _x.Dispose();
        _y.Dispose();
    }

    private sealed class FineTuneConfig : ManualConfig
    {
        public FineTuneConfig()
        {
            AddJob(Job.Default.WithWarmupCount(1).WithIterationCount(3).WithInvocationCount(1).WithUnrollFactor(1).WithLaunchCount(1));
            AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
        }
    }
}
