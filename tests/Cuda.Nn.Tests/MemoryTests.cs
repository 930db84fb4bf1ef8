// Native memory accounting: CpuMemoryPool's counters are process-wide, so these tests run in a collection
// that xunit runs alone (after the parallel ones) and measure deltas.
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeMemoryCollection
{
    public const string Name = "native memory (not parallel)";
}

[Collection(NativeMemoryCollection.Name)]
public class MemoryTests
{
    private static long Live => CpuMemoryPool.LiveBytes;

    [Fact]
    public void TrainingLoopMemoryIsFlat()
    {
        var g = new Generator(2024);
        using var w1 = Tensor.Randn([64, 32], g, std: 0.2).RequiresGrad_();
        using var b1 = Tensor.Zeros([64]).RequiresGrad_();
        using var w2 = Tensor.Randn([10, 64], g, std: 0.2).RequiresGrad_();
        using var b2 = Tensor.Zeros([10]).RequiresGrad_();
        // a fixed, learnable task: the class is the argmax of a fixed projection of the input
        using var proj = Tensor.Randn([10, 32], g);
        Tensor[] parameters = [w1, b1, w2, b2];
        long live100 = 0, pooled100 = 0, managed100 = 0;
        double firstLoss = 0, lastLoss = 0;
        for (int step = 1; step <= 1000; step++)
        {
            using (new DisposeScope())
            {
                var x = Tensor.Randn([32, 32], g);
                Tensor target;
                using (AutogradMode.NoGrad()) target = F.Linear(x, proj).ArgMax(-1);
                var h = F.Linear(x, w1, b1).Relu();
                var logits = F.Linear(h, w2, b2);
                var loss = F.CrossEntropy(logits, target);
                loss.Backward();
                if (step <= 20) firstLoss += loss.Item() / 20;
                if (step > 980) lastLoss += loss.Item() / 20;
                using (AutogradMode.NoGrad())
                    foreach (var p in parameters)
                    {
                        p.CopyFrom(p.Sub(p.Grad!.Mul(0.1)));
                        p.ZeroGrad();
                    }
            }
            if (step == 100)
            {
                managed100 = GC.GetTotalMemory(forceFullCollection: true);
                live100 = Live;
                pooled100 = CpuMemoryPool.PooledBytes;
            }
        }
        long managed1000 = GC.GetTotalMemory(forceFullCollection: true);
        long live1000 = Live, pooled1000 = CpuMemoryPool.PooledBytes;
        Assert.True(live1000 == live100, $"native live bytes grew from {live100} (step 100) to {live1000} (step 1000)");
        Assert.True(pooled1000 <= pooled100, $"pooled bytes grew from {pooled100} to {pooled1000}: blocks are not being reused");
        Assert.True(managed1000 - managed100 < 2 << 20, $"managed heap grew from {managed100} to {managed1000} bytes");
        Assert.True(double.IsFinite(lastLoss) && lastLoss < firstLoss * 0.8, $"loss went from {firstLoss} to {lastLoss}");
    }

    [Fact]
    public void DisposeScopeReturnsEverythingItOwned()
    {
        long before = Live;
        using (new DisposeScope())
        {
            var a = Tensor.Randn([100, 50], new Generator(1));
            var b = a.Permute(1, 0).Contiguous();
            var c = a.Sum(0).Add(1).Exp();
            using (new DisposeScope())
            {
                var inner = c.Mul(b.Sum(1));
                Assert.True(Live > before);
            }
            Assert.True(Live > before);
        }
        Assert.Equal(before, Live);
    }

    [Fact]
    public void MoveToOuterAndDetachKeepATensorAliveAfterItsScope()
    {
        long before = Live;
        Tensor moved, detached;
        using (new DisposeScope())
        {
            using (var inner = new DisposeScope())
            {
                moved = inner.MoveToOuter(Tensor.Ones([1000]).Mul(3));
                detached = DisposeScope.Detach(Tensor.Ones([2000]));
            }
            Assert.False(moved.IsDisposed);
            Assert.Equal(3000, moved.Sum().Item());
        }
        Assert.True(moved.IsDisposed); // the outer scope owned it
        Assert.False(detached.IsDisposed);
        Assert.Equal(before + 8192, Live);
        detached.Dispose();
        Assert.Equal(before, Live);
    }

    /// <summary>x [1000] (4 KiB block) requires grad; a = cat(x, x) has an 8 KiB block that exp saves for backward.</summary>
    private static (Tensor X, Tensor B) ForwardWithSavedBlock()
    {
        var x = Tensor.Randn([1000], new Generator(3)).RequiresGrad_();
        var a = Tensor.Cat([x, x]);
        var b = a.Exp(); // saves a
        a.Dispose(); // only the graph keeps a's storage now
        return (x, b);
    }

    [Fact]
    public void AForwardPassThatIsNeverDifferentiatedFreesItsGraphWhenOutputsAreDisposed()
    {
        long before = Live;
        var (x, b) = ForwardWithSavedBlock();
        long withGraph = Live;
        var s = b.Sum();
        b.Dispose();
        Assert.Equal(withGraph - 8192 + 64, Live); // b's own block is gone (s is new); the saved block is still held by s's graph
        s.Dispose(); // last output: the graph and its saved tensors go
        Assert.Equal(before + 4096, Live); // only x remains
        x.Dispose();
        Assert.Equal(before, Live);
    }

    [Fact]
    public void BackwardWithoutRetainGraphFreesSavedTensors()
    {
        long before = Live;
        var (x, b) = ForwardWithSavedBlock();
        var s = b.Sum();
        long beforeBackward = Live; // x + saved a + b + s
        s.Backward();
        // the saved 8 KiB block is freed; x.Grad (4 KiB) is new
        Assert.Equal(beforeBackward - 8192 + 4096, Live);
        Assert.NotNull(x.Grad);
        var e = Assert.Throws<InvalidOperationException>(() => s.Backward());
        Assert.Contains("retainGraph", e.Message);
        s.Dispose();
        b.Dispose();
        x.Dispose(); // disposes x.Grad too
        Assert.Equal(before, Live);
    }

    [Fact]
    public void RetainGraphAllowsASecondBackwardThatAccumulates()
    {
        long before = Live;
        var (x, b) = ForwardWithSavedBlock();
        var s = b.Sum();
        s.Backward(retainGraph: true);
        var once = x.Grad!.ToArray<float>();
        long afterFirst = Live;
        s.Backward(retainGraph: true);
        var twice = x.Grad!.ToArray<float>();
        Assert.Equal(afterFirst, Live); // accumulation is in place, the graph is still held
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-6f * Math.Abs(twice[i]));
        s.Backward(); // a third, releasing pass is still allowed
        Assert.Throws<InvalidOperationException>(() => s.Backward());
        s.Dispose();
        b.Dispose();
        x.Dispose();
        Assert.Equal(before, Live);
    }

    [Fact]
    public void FailedIndexOpsDoNotLeakTheirOutput()
    {
        using var t = Tensor.Zeros([4, 5]);
        using var badIndex = Tensor.FromArray([0L, 9L], 2);
        using var badGather = Tensor.FromArray([0L, 9L, 1L, 2L, 3L], 1, 5);
        using var src = Tensor.Ones([1, 5]);
        long before = Live;
        Assert.ThrowsAny<Exception>(() => t.IndexSelect(0, badIndex));
        Assert.ThrowsAny<Exception>(() => t.Gather(0, badGather));
        Assert.ThrowsAny<Exception>(() => t.ScatterAdd(0, badGather, src));
        Assert.Equal(before, Live);
    }

    [Fact]
    public void UsingADisposedTensorThrowsObjectDisposedException()
    {
        using var scope = new DisposeScope(); // outputs allocated before an op hits the disposed input are freed here
        var t = Tensor.Ones([2, 3]);
        using var other = Tensor.Ones([2, 3]);
        t.Dispose();
        t.Dispose(); // a second Dispose is a no-op
        Assert.True(t.IsDisposed);
        Assert.Equal([2, 3], t.Shape); // metadata stays readable
        Assert.Throws<ObjectDisposedException>(() => t.Add(other));
        Assert.Throws<ObjectDisposedException>(() => other.Add(t));
        Assert.Throws<ObjectDisposedException>(() => t.Sum());
        Assert.Throws<ObjectDisposedException>(() => t.Reshape(6));
        Assert.Throws<ObjectDisposedException>(() => t.Permute(1, 0));
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
        var scalar = Tensor.Scalar(2);
        scalar.Dispose();
        Assert.Throws<ObjectDisposedException>(() => scalar.Item());
        Assert.Throws<ObjectDisposedException>(() => t.To(DType.F64));
        Assert.Throws<ObjectDisposedException>(() => t.MatMul(other.T()));
        Assert.Throws<ObjectDisposedException>(() => t.CopyFrom(other));
        Assert.Throws<ObjectDisposedException>(() => other.CopyFrom(t));
        Assert.Throws<ObjectDisposedException>(() => t.Fill_(1));
        Assert.Throws<ObjectDisposedException>(() => F.Softmax(t));
        Assert.Contains("[2, 3]", t.ToString());

        // a view keeps the storage alive after its base is disposed
        var b = Tensor.FromArray([1f, 2, 3, 4], 2, 2);
        using var v = b.T();
        b.Dispose();
        Assert.Equal([1f, 3, 2, 4], v.ToArray<float>());
    }
}
