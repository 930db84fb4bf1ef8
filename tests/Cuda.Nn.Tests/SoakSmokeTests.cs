// A short version of the bench's soak (bench/Cuda.Nn.Bench/SoakRun.cs): ResNet-20 training steps and batch-1 runs of
// its inference plan hold exactly the same pool blocks after a warm-up as at its end. The pool's counters are exact
// and process-wide, so this runs in the native memory collection (alone) and compares values sampled between steps.
using Cuda.Nn.Autograd;
using Cuda.Nn.Inference;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Tests;

[Collection(NativeMemoryCollection.Name)]
public class SoakSmokeTests
{
    private const int Warmup = 20, Steps = 200;

    [Fact]
    public void ResNet20TrainingAndPlanRunsHoldNoMorePoolMemoryAfterWarmup()
    {
        // One thread: with two, which worker takes which part varies, and the pool's high-water mark can rise by a
        // block long after warm-up when two workers' scratch buffers happen to be alive at once (seen: +32 KiB once).
        var threadScope = CpuKernelOptions.UseThreads(1);
        try { Run(); }
        finally { threadScope.Dispose(); }
    }

    private static void Run()
    {
        var g = new Generator(19);
        using var model = ResNet.ResNet20(10, 1, new Generator(0));
        using var sgd = new Sgd(model.Parameters(), 0.02, 0.9, 0, 5e-4, nesterov: true);
        // Batch 2 keeps a step at a few milliseconds; the shapes are the same every step, as in an epoch.
        using var x = DisposeScope.Detach(Tensor.Randn([2, 1, 28, 28], g));
        using var y = DisposeScope.Detach(Tensor.FromArray(new long[] { 3, 7 }, 2));
        long live = 0, pooled = 0;
        for (int step = 1; step <= Warmup + Steps; step++)
        {
            using (new DisposeScope())
            {
                F.CrossEntropy(model.Forward(x), y).Backward();
                sgd.Step();
                sgd.ZeroGrad();
            }
            if (step == Warmup) (live, pooled) = (CpuMemoryPool.LiveBytes, CpuMemoryPool.PooledBytes);
        }
        Assert.True(CpuMemoryPool.LiveBytes == live, $"training: live bytes went from {live} (step {Warmup}) to {CpuMemoryPool.LiveBytes} (step {Warmup + Steps})");
        Assert.True(CpuMemoryPool.PooledBytes <= pooled, $"training: pooled bytes went from {pooled} to {CpuMemoryPool.PooledBytes}: blocks are not being reused");

        using var plan = InferencePlan.Compile(model, [1, 28, 28]);
        using var one = DisposeScope.Detach(Tensor.Randn([1, 1, 28, 28], g));
        for (int run = 1; run <= Warmup + Steps; run++)
        {
            using (new DisposeScope()) plan.Run(one).ToFloatArray();
            if (run == Warmup) (live, pooled) = (CpuMemoryPool.LiveBytes, CpuMemoryPool.PooledBytes);
        }
        Assert.True(CpuMemoryPool.LiveBytes == live, $"plan: live bytes went from {live} (run {Warmup}) to {CpuMemoryPool.LiveBytes} (run {Warmup + Steps})");
        Assert.True(CpuMemoryPool.PooledBytes <= pooled, $"plan: pooled bytes went from {pooled} to {CpuMemoryPool.PooledBytes}");
    }
}
