// Reductions over any set of dims with keepdim, and their gradients.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn;

public sealed partial class Tensor
{
    private int[] NormalizeDims(int[]? dims)
    {
        if (dims is null || dims.Length == 0) return Enumerable.Range(0, Rank).ToArray();
        var r = dims.Select(Layout.NormalizeDim).Distinct().OrderBy(d => d).ToArray();
        if (r.Length != dims.Length) throw new ArgumentException($"repeated dimension in {Layout.ShapeString(dims)}");
        return r;
    }

    private int[] ReducedShape(int[] dims, bool keepDim)
    {
        var shape = new List<int>();
        for (int i = 0; i < Rank; i++)
        {
            if (Array.IndexOf(dims, i) >= 0) { if (keepDim) shape.Add(1); }
            else shape.Add(ShapeRef[i]);
        }
        return [.. shape];
    }

    private Tensor ReduceRaw(ReduceOp op, int[] dims, bool keepDim, DType outType, Tensor? argOut = null)
    {
        var y = Empty(ReducedShape(dims, keepDim), outType, Device);
        if (outType == DType)
            Backend.Reduce(op, Storage, Layout, dims, y.Storage, argOut?.Storage);
        else
        {
            using var x = To(outType);
            Backend.Reduce(op, x.Storage, x.Layout, dims, y.Storage, argOut?.Storage);
        }
        return y;
    }

    /// <summary>Sum over dims (all when null). Integer and Bool inputs sum in I64.</summary>
    public Tensor Sum(int[]? dims = null, bool keepDim = false)
    {
        var d = NormalizeDims(dims);
        var outType = DType.IsFloatingPoint() ? DType : DType.I64;
        var y = ReduceRaw(ReduceOp.Sum, d, keepDim, outType);
        if (AutogradMode.ShouldRecord(this))
        {
            var inShape = ShapeRef;
            var kept = ReducedShape(d, keepDim: true);
            AutogradMode.Record(y, "sum", [this], g =>
            {
                using var r = g.Reshape(kept);
                using var e = r.Expand(inShape);
                return [e.Contiguous()];
            });
        }
        return y;
    }

    public Tensor Sum(int dim, bool keepDim = false) => Sum([dim], keepDim);

    /// <summary>Mean over dims (all when null).</summary>
    public Tensor Mean(int[]? dims = null, bool keepDim = false)
    {
        var d = NormalizeDims(dims);
        long count = 1;
        foreach (var i in d) count *= ShapeRef[i];
        var x = FloatInput();
        try
        {
            using var s = x.Sum(d, keepDim);
            return s.Div(count);
        }
        finally { if (!ReferenceEquals(x, this)) x.Dispose(); }
    }

    public Tensor Mean(int dim, bool keepDim = false) => Mean([dim], keepDim);

    /// <summary>Variance with Bessel-style correction (1 = unbiased, torch's default).</summary>
    public Tensor Var(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        var d = NormalizeDims(dims);
        long count = 1;
        foreach (var i in d) count *= ShapeRef[i];
        using var mean = Mean(d, keepDim: true);
        using var centred = Sub(mean);
        using var sq = centred.Square();
        using var s = sq.Sum(d, keepDim);
        return s.Div(Math.Max(0, count - correction));
    }

    public Tensor Var(int dim, int correction = 1, bool keepDim = false) => Var([dim], correction, keepDim);

    public Tensor Std(int[]? dims = null, int correction = 1, bool keepDim = false)
    {
        using var v = Var(dims, correction, keepDim);
        return v.Sqrt();
    }

    public Tensor Std(int dim, int correction = 1, bool keepDim = false) => Std([dim], correction, keepDim);

    /// <summary>Max along one dim: values and I64 indices (first maximum on ties).</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepDim = false) => MaxMin(ReduceOp.Max, dim, keepDim);

    public (Tensor Values, Tensor Indices) Min(int dim, bool keepDim = false) => MaxMin(ReduceOp.Min, dim, keepDim);

    private (Tensor, Tensor) MaxMin(ReduceOp op, int dim, bool keepDim)
    {
        int d = Layout.NormalizeDim(dim);
        if (ShapeRef[d] == 0) throw new ArgumentException($"{op.ToString().ToLowerInvariant()}() over the empty dimension {d} of shape {Layout.ShapeString(ShapeRef)}");
        var idx = Empty(ReducedShape([d], keepDim), DType.I64, Device);
        var y = Empty(ReducedShape([d], keepDim), DType, Device);
        Backend.Reduce(op, Storage, Layout, [d], y.Storage, idx.Storage);
        if (AutogradMode.ShouldRecord(this))
        {
            var ix = idx.Alias();
            var inShape = ShapeRef;
            var kept = ReducedShape([d], keepDim: true);
            AutogradMode.Record(y, op == ReduceOp.Max ? "max" : "min", [this], g =>
            {
                using var gk = g.Reshape(kept);
                using var ik = ix.Reshape(kept);
                using var z = Zeros(inShape, g.DType, g.Device);
                return [z.ScatterAdd(d, ik, gk)];
            }, ix);
        }
        return (y, idx);
    }

    /// <summary>Largest element over all dims; the gradient is shared evenly among ties (torch.amax).</summary>
    public Tensor Max() => AllReduce(ReduceOp.Max);

    public Tensor Min() => AllReduce(ReduceOp.Min);

    /// <summary>Max over dims (amax): gradient split evenly among the maxima.</summary>
    public Tensor Amax(int[]? dims = null, bool keepDim = false) => AllReduce(ReduceOp.Max, dims, keepDim);

    public Tensor Amin(int[]? dims = null, bool keepDim = false) => AllReduce(ReduceOp.Min, dims, keepDim);

    private Tensor AllReduce(ReduceOp op, int[]? dims = null, bool keepDim = false)
    {
        var d = NormalizeDims(dims);
        foreach (var i in d) if (ShapeRef[i] == 0) throw new ArgumentException($"max/min of an empty tensor of shape {Layout.ShapeString(ShapeRef)}");
        var y = ReduceRaw(op, d, keepDim, DType);
        if (AutogradMode.ShouldRecord(this))
        {
            var xs = Alias();
            var ys = y.Alias();
            var kept = ReducedShape(d, keepDim: true);
            AutogradMode.Record(y, op == ReduceOp.Max ? "amax" : "amin", [this], g =>
            {
                using var yk = ys.Reshape(kept);
                using var mask = xs.Eq(yk);
                using var mf = mask.To(g.DType);
                using var count = mf.Sum(d, keepDim: true);
                using var gk = g.Reshape(kept);
                using var share = gk.Div(count);
                return [mf.Mul(share)];
            }, xs, ys);
        }
        return y;
    }

    public Tensor ArgMax(int dim, bool keepDim = false)
    {
        using var noGrad = AutogradMode.NoGrad();
        var (v, i) = Max(dim, keepDim);
        v.Dispose();
        return i;
    }

    public Tensor ArgMin(int dim, bool keepDim = false)
    {
        using var noGrad = AutogradMode.NoGrad();
        var (v, i) = Min(dim, keepDim);
        v.Dispose();
        return i;
    }

    /// <summary>Index of the largest element of the flattened tensor.</summary>
    public Tensor ArgMax()
    {
        using var flat = Reshape(-1);
        return flat.ArgMax(0);
    }

    /// <summary>log(sum(exp(x))) over dims, computed stably by subtracting the max.</summary>
    public Tensor LogSumExp(int[] dims, bool keepDim = false)
    {
        var d = NormalizeDims(dims);
        Tensor m;
        using (AutogradMode.NoGrad())
        {
            m = Amax(d, keepDim: true);
            // rows of all -inf: use 0 so that -inf - -inf does not make NaN
            using var inf = m.Eq(double.NegativeInfinity);
            using var zero = ZerosLike(m);
            var fixedM = Where(inf, zero, m);
            m.Dispose();
            m = fixedM;
        }
        using (m)
        {
            using var shifted = Sub(m);
            using var e = shifted.Exp();
            using var s = e.Sum(d, keepDim: true);
            using var l = s.Log();
            var r = l.Add(m);
            if (keepDim) return r;
            using (r) return r.Reshape(ReducedShape(d, false));
        }
    }

    public Tensor LogSumExp(int dim, bool keepDim = false) => LogSumExp([dim], keepDim);
}
