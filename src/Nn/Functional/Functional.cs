// Neural-network functions on tensors (torch.nn.functional): softmax family, linear, layer norm, dropout.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    /// <summary>Numerically stable softmax over dim.</summary>
    public static Tensor Softmax(Tensor x, int dim = -1) => SoftmaxImpl(x, dim, log: false);

    /// <summary>log(softmax(x)) computed as x - logsumexp(x) over dim.</summary>
    public static Tensor LogSoftmax(Tensor x, int dim = -1) => SoftmaxImpl(x, dim, log: true);

    private static Tensor SoftmaxImpl(Tensor x, int dim, bool log)
    {
        int d = x.Layout.NormalizeDim(dim);
        if (d != x.Rank - 1)
        {
            // The kernel works on the last dim: move dim there and back (views; the kernel gathers).
            using var moved = x.MoveDim(d, -1);
            using var r = SoftmaxImpl(moved, -1, log);
            return r.MoveDim(-1, d);
        }
        var y = Tensor.Empty(x.ShapeRef, x.DType, x.Device);
        x.Backend.Softmax(x.Storage, x.Layout, y.Storage, log);
        if (AutogradMode.ShouldRecord(x))
        {
            var ys = y.Alias();
            AutogradMode.Record(y, log ? "log_softmax" : "softmax", [x], g =>
            {
                var gx = Tensor.Empty(g.ShapeRef, g.DType, g.Device);
                g.Backend.SoftmaxBackward(ys.Storage, ys.Layout, g.Storage, g.Layout, gx.Storage, log);
                return [gx];
            }, ys);
        }
        return y;
    }

    /// <summary>y = x W^T + b over the last dim of x (any leading dims).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Rank != 2) throw new ArgumentException($"linear: weight must be [out, in], got {Layout.ShapeString(weight.ShapeRef)}");
        if (x.Rank == 0 || x.ShapeRef[^1] != weight.ShapeRef[1])
            throw new ArgumentException($"linear: input shape {Layout.ShapeString(x.ShapeRef)} does not end in weight's in_features {weight.ShapeRef[1]} (weight {Layout.ShapeString(weight.ShapeRef)})");
        // Fold leading dims into M so the whole thing is one GEMM with W used transposed in place.
        var lead = x.ShapeRef[..^1];
        using var x2 = x.Rank == 2 ? x.Share() : x.Reshape(-1, x.ShapeRef[^1]);
        using var wt = weight.T();
        using var y2 = x2.MatMul(wt);
        Tensor y = bias is null ? y2.Share() : y2.Add(bias);
        if (x.Rank == 2) return y;
        using (y) return y.Reshape([.. lead, weight.ShapeRef[0]]);
    }

    /// <summary>Layer norm over the trailing dims given by normalizedShape (biased variance, eps inside the root).</summary>
    public static Tensor LayerNorm(Tensor x, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        int k = normalizedShape.Length;
        if (k == 0 || k > x.Rank || !x.ShapeRef[^k..].AsSpan().SequenceEqual(normalizedShape))
            throw new ArgumentException($"layer_norm: normalized shape {Layout.ShapeString(normalizedShape)} does not match the end of input shape {Layout.ShapeString(x.ShapeRef)}");
        int d = 1;
        foreach (var s in normalizedShape) d *= s;
        if (x.DType != DType.F32)
        {
            // Other dtypes (F64 for gradient checks) use the composite definition; F16/BF16 compute in F32.
            if (x.DType != DType.F64)
            {
                using var xf = x.To(DType.F32);
                using var yf = LayerNorm(xf, normalizedShape, weight, bias, eps);
                return yf.To(x.DType);
            }
            var dims = Enumerable.Range(x.Rank - k, k).ToArray();
            using var mean = x.Mean(dims, keepDim: true);
            using var c = x.Sub(mean);
            using var sq = c.Square();
            using var v = sq.Mean(dims, keepDim: true);
            using var ve = v.Add(eps);
            using var rs = ve.Rsqrt();
            var yn = c.Mul(rs);
            if (weight is not null) { using var t = yn; yn = t.Mul(weight); }
            if (bias is not null) { using var t = yn; yn = t.Add(bias); }
            return yn;
        }
        int rows = x.Numel / Math.Max(1, d);
        using var xc = x.Contiguous();
        using var wc = weight?.Contiguous();
        using var bc = bias?.Contiguous();
        var y = Tensor.Empty(x.ShapeRef, DType.F32, x.Device);
        var meanT = Tensor.Empty([rows], DType.F32, x.Device);
        var rstdT = Tensor.Empty([rows], DType.F32, x.Device);
        x.Backend.LayerNorm(xc.Storage, rows, d, wc?.StorageOrNull, bc?.StorageOrNull, eps, y.Storage, meanT.Storage, rstdT.Storage);
        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        if (AutogradMode.ShouldRecord(inputs))
        {
            var xs = xc.Alias();
            var ws = wc?.Alias();
            var ms = DisposeScope.Detach(meanT);
            var rsd = DisposeScope.Detach(rstdT);
            bool hasW = weight is not null, hasB = bias is not null;
            var saved = new List<Tensor> { xs, ms, rsd };
            if (ws is not null) saved.Add(ws);
            AutogradMode.Record(y, "layer_norm", [.. inputs], g =>
            {
                using var gc = g.Contiguous();
                var gx = Tensor.Empty(xs.ShapeRef, DType.F32, g.Device);
                var gw = hasW ? Tensor.Empty(normalizedShape, DType.F32, g.Device) : null;
                var gb = hasB ? Tensor.Empty(normalizedShape, DType.F32, g.Device) : null;
                g.Backend.LayerNormBackward(xs.Storage, gc.Storage, rows, d, ws?.Storage, ms.Storage, rsd.Storage, gx.Storage, gw?.Storage, gb?.Storage);
                var r = new List<Tensor?> { gx };
                if (hasW) r.Add(gw);
                if (hasB) r.Add(gb);
                return [.. r];
            }, [.. saved]);
        }
        else
        {
            meanT.Dispose();
            rstdT.Dispose();
        }
        return y;
    }

    /// <summary>Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when not training.</summary>
    public static Tensor Dropout(Tensor x, double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout probability must be in [0, 1], got {p}");
        if (!training || p == 0) return x.Share();
        if (p == 1) return x.Mul(0.0);
        using var u = Tensor.Rand(x.ShapeRef, generator, x.DType, x.Device);
        using var keep = u.Ge(p);
        using var mask = keep.To(x.DType);
        using var scaled = mask.Mul(1.0 / (1 - p));
        return x.Mul(scaled);
    }
}
