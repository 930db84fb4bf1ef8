// SyncBatchNorm against the framework's batch norm: on one rank it is batch norm (forward, running statistics and
// every gradient, in float64); on two ranks holding the same batch it is batch norm of the doubled batch.
using Cuda.Nn.Autograd;
using Cuda.Nn.Distributed;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public sealed unsafe class SyncBatchNormTests
{
    /// <summary>Two ranks with identical data: every sum comes back doubled.</summary>
    private sealed class TwinCollectives : ICollectives
    {
        public int Rank => 0;
        public int WorldSize => 2;
        public string Description => "twin";
        public void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op)
        {
            Assert.Equal(DType.F64, dtype);
            Assert.Equal(AllReduceOp.Sum, op);
            for (long i = 0; i < count; i++) ((double*)buffer)[i] *= 2;
        }
        public void Broadcast(nint buffer, long bytes, int root) { }
        public void Barrier() { }
        public double[] AllGather(ReadOnlySpan<double> values) => [.. values.ToArray(), .. values.ToArray()];
        public void Dispose() { }
    }

    private static (double[] Y, double[] Gx, double[] Gw, double[] Gb, double[] Rm, double[] Rv) Run(bool sync, ICollectives comm, int batchCopies = 1)
    {
        using var scope = new DisposeScope();
        var g = new Generator(5);
        var x0 = Tensor.Randn([3, 4, 5, 6], generator: g).To(DType.F64).Mul(2).Add(0.5);
        var x = (batchCopies == 1 ? x0 : Tensor.Cat([x0, x0], 0)).Detach().RequiresGrad_();
        var w = Tensor.Randn([4], generator: g).To(DType.F64).Detach().RequiresGrad_();
        var b = Tensor.Randn([4], generator: g).To(DType.F64).Detach().RequiresGrad_();
        var rm = Tensor.Zeros([4], DType.F64);
        var rv = Tensor.Ones([4], DType.F64);
        var upstream = Tensor.Randn([3, 4, 5, 6], generator: g).To(DType.F64);
        if (batchCopies > 1) upstream = Tensor.Cat([upstream, upstream], 0);
        var y = sync ? SyncBatchNorm.Apply(x, rm, rv, w, b, 0.1, 1e-5, comm) : F.BatchNorm2d(x, rm, rv, w, b, training: true, 0.1, 1e-5);
        y.Mul(upstream).Sum().Backward();
        // With the batch doubled, the first copy's gradient is what one twin rank computes.
        var gx = x.Grad!.ToArray<double>();
        if (batchCopies > 1) gx = gx[..(gx.Length / 2)];
        var yv = y.ToArray<double>();
        if (batchCopies > 1) yv = yv[..(yv.Length / 2)];
        return (yv, gx, w.Grad!.ToArray<double>(), b.Grad!.ToArray<double>(), rm.ToArray<double>(), rv.ToArray<double>());
    }

    private static void Close(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Fact]
    public void OnOneRankItIsBatchNorm()
    {
        using var one = new SingleProcessCollectives();
        var bn = Run(sync: false, one);
        var sbn = Run(sync: true, one);
        Close(bn.Y, sbn.Y, 1e-12, "y");
        Close(bn.Gx, sbn.Gx, 1e-12, "grad x");
        Close(bn.Gw, sbn.Gw, 1e-12, "grad weight");
        Close(bn.Gb, sbn.Gb, 1e-12, "grad bias");
        Close(bn.Rm, sbn.Rm, 1e-12, "running mean");
        Close(bn.Rv, sbn.Rv, 1e-12, "running var");
    }

    [Fact]
    public void OnTwoRanksItIsBatchNormOfBothBatches()
    {
        // Batch norm of [x; x] on one process against SyncBatchNorm of x on each of two twin ranks.
        var doubled = Run(sync: false, new SingleProcessCollectives(), batchCopies: 2);
        var twin = Run(sync: true, new TwinCollectives());
        Close(doubled.Y, twin.Y, 1e-12, "y");
        Close(doubled.Gx, twin.Gx, 1e-12, "grad x");                 // the sum over both copies' losses, per copy
        Close(doubled.Rv, twin.Rv, 1e-12, "running var (unbiased over 2M values)");
        Close(doubled.Rm, twin.Rm, 1e-12, "running mean");
        // Weight and bias gradients stay the rank's own (data parallelism averages them): half of the doubled batch's.
        Close([.. doubled.Gw.Select(v => v / 2)], twin.Gw, 1e-12, "grad weight");
        Close([.. doubled.Gb.Select(v => v / 2)], twin.Gb, 1e-12, "grad bias");
    }
}
