using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Tests;

[CollectionDefinition("memory", DisableParallelization = true)]
public sealed class MemoryCollection;

/// <summary>Native memory is released deterministically; these run alone because the pool's counters are process-wide.</summary>
[Collection("memory")]
public class MemoryTests
{
    [Fact]
    public void ThousandTrainingStepsKeepNativeAndManagedMemoryFlat()
    {
        using var model = new Sequential(new Linear(32, 64, generator: new Generator(1)), Activation.ReLU(), new Linear(64, 10, generator: new Generator(2)));
        using var opt = new Sgd(model.Parameters(), 0.05, momentum: 0.9);
        using var x = Tensor.Randn([32, 32], new Generator(3));
        using var y = Tensor.FromArray(Enumerable.Range(0, 32).Select(i => (long)(i % 10)).ToArray(), 32);
        long native100 = 0, managed100 = 0;
        for (int step = 1; step <= 1000; step++)
        {
            using (var scope = new DisposeScope())
            {
                F.CrossEntropy(model.Forward(x), y).Backward();
                opt.Step();
                opt.ZeroGrad();
            }
            if (step == 100)
            {
                native100 = CpuMemoryPool.LiveBytes;
                managed100 = GC.GetTotalMemory(forceFullCollection: true);
            }
        }
        long native1000 = CpuMemoryPool.LiveBytes, managed1000 = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(native100, native1000);
        Assert.True(managed1000 - managed100 < 2 << 20, $"managed memory grew by {(managed1000 - managed100) / 1024} KiB over 900 steps");
    }

    [Fact]
    public void ScopesGraphsAndBackwardReleaseEverything()
    {
        long before = CpuMemoryPool.LiveBytes;
        using (var scope = new DisposeScope())
        {
            var a = Tensor.Randn([100, 100]);
            _ = a.MatMul(a).Exp().Sum();
        }
        Assert.Equal(before, CpuMemoryPool.LiveBytes);

        using var w = Tensor.Randn([50, 50]).RequiresGrad_();
        long withW = CpuMemoryPool.LiveBytes;
        // A forward pass that is never differentiated frees its saved tensors once its output is disposed.
        Tensor y;
        using (var scope = new DisposeScope()) y = scope.MoveToOuter(w.MatMul(w).Tanh().Sum());
        Assert.True(CpuMemoryPool.LiveBytes > withW); // the graph still holds what tanh and matmul saved
        y.Dispose();
        Assert.Equal(withW, CpuMemoryPool.LiveBytes);

        // Backward frees the graph's saved tensors; a second Backward explains retainGraph.
        Tensor z;
        using (var scope = new DisposeScope()) z = scope.MoveToOuter(w.Sigmoid().Sum());
        z.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => z.Backward());
        Assert.Contains("retainGraph", e.Message);
        z.Dispose();
        w.ZeroGrad();
        Assert.Equal(withW, CpuMemoryPool.LiveBytes);

        // With retainGraph, a second pass accumulates: the gradient doubles.
        using var v = Tensor.FromArray([1f, 2f]).RequiresGrad_();
        using var s = v.Square().Sum();
        s.Backward(retainGraph: true);
        s.Backward();
        Assert.Equal([4f, 8f], v.Grad!.ToArray<float>());
    }

    [Fact]
    public void UsingADisposedTensorThrowsInsteadOfCrashing()
    {
        var t = Tensor.Ones([3]);
        t.Dispose();
        Assert.Throws<ObjectDisposedException>(() => t.Add(1));
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
    }
}
