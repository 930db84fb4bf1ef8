// 2-D pooling (torch.nn.functional): max (with indices), average, adaptive average/max and global average,
// on [N, C, H, W] or unbatched [C, H, W] inputs, each with its backward.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    public static Tensor MaxPool2d(Tensor x, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2d(x, (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>Max pooling; padding counts as -inf. stride defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding, (int H, int W)? dilation = null, bool ceilMode = false)
    {
        // Without a backward pass no argmax indices are written (the CPU backend then runs its values-only kernel).
        var (y, idx) = MaxPool(x, kernelSize, stride, padding, dilation, ceilMode, AutogradMode.ShouldRecord(x));
        idx?.Dispose();
        return y;
    }

    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor x, int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) =>
        MaxPool2dWithIndices(x, (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), (dilation, dilation), ceilMode);

    /// <summary>Max pooling that also returns the argmax of each window as an I64 index h * W + w into its input plane (PyTorch's return_indices).</summary>
    public static (Tensor Output, Tensor Indices) MaxPool2dWithIndices(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding,
        (int H, int W)? dilation = null, bool ceilMode = false)
    {
        var (y, idx) = MaxPool(x, kernelSize, stride, padding, dilation, ceilMode, withIndices: true);
        return (y, idx!);
    }

    private static (Tensor Output, Tensor? Indices) MaxPool(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding,
        (int H, int W)? dilation, bool ceilMode, bool withIndices)
    {
        var g = PoolGeometry("max_pool2d", x, kernelSize, stride ?? kernelSize, padding, dilation ?? (1, 1), ceilMode);
        return Batched(x, xb =>
        {
            var y = Tensor.Empty([g.N, g.C, g.OH, g.OW], xb.DType, xb.Device);
            var idx = withIndices ? Tensor.Empty([g.N, g.C, g.OH, g.OW], DType.I64, xb.Device) : null;
            xb.Backend.MaxPool2d(xb.Storage, xb.Layout, y.Storage, idx?.Storage, g);
            if (idx is not null && AutogradMode.ShouldRecord(xb)) RecordArgmaxBackward(y, idx, xb, "max_pool2d");
            return (y, idx);
        });
    }

    public static Tensor AvgPool2d(Tensor x, int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true, int? divisorOverride = null) =>
        AvgPool2d(x, (kernelSize, kernelSize), stride is { } s ? (s, s) : null, (padding, padding), ceilMode, countIncludePad, divisorOverride);

    /// <summary>Average pooling: count_include_pad divides by the window clipped to the padded input, otherwise by the real cells.</summary>
    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding, bool ceilMode = false,
        bool countIncludePad = true, int? divisorOverride = null)
    {
        var st = stride ?? kernelSize;
        if (divisorOverride is <= 0) throw new ArgumentException($"avg_pool2d: divisor_override must be positive, got {divisorOverride}");
        var g = PoolGeometry("avg_pool2d", x, kernelSize, st, padding, (1, 1), ceilMode);
        int div = divisorOverride ?? 0;
        return Batched(x, xb =>
        {
            var y = Tensor.Empty([g.N, g.C, g.OH, g.OW], xb.DType, xb.Device);
            xb.Backend.AvgPool2d(xb.Storage, xb.Layout, y.Storage, g, countIncludePad, div);
            if (AutogradMode.ShouldRecord(xb))
            {
                var shape = xb.ShapeRef;
                AutogradMode.Record(y, "avg_pool2d", [xb], gy =>
                {
                    var gx = Tensor.Empty(shape, gy.DType, gy.Device);
                    gy.Backend.AvgPool2dBackward(gy.Storage, gy.Layout, gx.Storage, g, countIncludePad, div);
                    return [gx];
                });
            }
            return (y, (Tensor?)null);
        }).Output;
    }

    public static Tensor AdaptiveAvgPool2d(Tensor x, int outputSize) => AdaptiveAvgPool2d(x, (outputSize, outputSize));

    /// <summary>Adaptive average pooling: output cell i averages input rows [floor(i H / OH), ceil((i + 1) H / OH)), the same for columns.</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, (int H, int W) outputSize)
    {
        CheckAdaptive("adaptive_avg_pool2d", x, outputSize);
        return Batched(x, xb =>
        {
            var s = xb.ShapeRef;
            var y = Tensor.Empty([s[0], s[1], outputSize.H, outputSize.W], xb.DType, xb.Device);
            xb.Backend.AdaptivePool2d(false, xb.Storage, xb.Layout, y.Storage, null, outputSize.H, outputSize.W);
            if (AutogradMode.ShouldRecord(xb))
                AutogradMode.Record(y, "adaptive_avg_pool2d", [xb], gy =>
                {
                    var gx = Tensor.Empty(s, gy.DType, gy.Device);
                    gy.Backend.AdaptiveAvgPool2dBackward(gy.Storage, gy.Layout, gx.Storage, s[2], s[3]);
                    return [gx];
                });
            return (y, (Tensor?)null);
        }).Output;
    }

    /// <summary>Global average pooling: [N, C, H, W] to [N, C, 1, 1].</summary>
    public static Tensor GlobalAvgPool2d(Tensor x) => AdaptiveAvgPool2d(x, (1, 1));

    public static Tensor AdaptiveMaxPool2d(Tensor x, int outputSize) => AdaptiveMaxPool2d(x, (outputSize, outputSize));

    public static Tensor AdaptiveMaxPool2d(Tensor x, (int H, int W) outputSize)
    {
        var (y, idx) = AdaptiveMaxPool2dWithIndices(x, outputSize);
        idx.Dispose();
        return y;
    }

    /// <summary>Adaptive max pooling over PyTorch's bins, with the argmax (h * W + w within the plane) of each.</summary>
    public static (Tensor Output, Tensor Indices) AdaptiveMaxPool2dWithIndices(Tensor x, (int H, int W) outputSize)
    {
        CheckAdaptive("adaptive_max_pool2d", x, outputSize);
        return Batched(x, xb =>
        {
            var s = xb.ShapeRef;
            var y = Tensor.Empty([s[0], s[1], outputSize.H, outputSize.W], xb.DType, xb.Device);
            var idx = Tensor.Empty([s[0], s[1], outputSize.H, outputSize.W], DType.I64, xb.Device);
            xb.Backend.AdaptivePool2d(true, xb.Storage, xb.Layout, y.Storage, idx.Storage, outputSize.H, outputSize.W);
            if (AutogradMode.ShouldRecord(xb)) RecordArgmaxBackward(y, idx, xb, "adaptive_max_pool2d");
            return (y, idx);
        });
    }

    /// <summary>Backward of a pooling that returned argmax indices: the gradient goes entirely to each window's argmax.</summary>
    private static void RecordArgmaxBackward(Tensor y, Tensor idx, Tensor x, string name)
    {
        var ids = idx.Alias();
        var shape = x.ShapeRef;
        AutogradMode.Record(y, name, [x], gy =>
        {
            var gx = Tensor.Empty(shape, gy.DType, gy.Device);
            gy.Backend.MaxPool2dBackward(gy.Storage, gy.Layout, ids.Storage, gx.Storage, shape[2], shape[3]);
            return [gx];
        }, ids);
    }

    private static void CheckAdaptive(string op, Tensor x, (int H, int W) outputSize)
    {
        if (x.Rank is not (3 or 4)) throw new ArgumentException($"{op}: input must be [N, C, H, W] or [C, H, W], got {Layout.ShapeString(x.ShapeRef)}");
        if (outputSize.H < 1 || outputSize.W < 1) throw new ArgumentException($"{op}: output size {outputSize} must be positive");
        if (x.ShapeRef[^1] < 1 || x.ShapeRef[^2] < 1) throw new ArgumentException($"{op}: input {Layout.ShapeString(x.ShapeRef)} has an empty spatial dim");
    }

    private static Pool2dGeometry PoolGeometry(string op, Tensor x, (int H, int W) k, (int H, int W) s, (int H, int W) p, (int H, int W) d, bool ceilMode)
    {
        if (x.Rank is not (3 or 4)) throw new ArgumentException($"{op}: input must be [N, C, H, W] or [C, H, W], got {Layout.ShapeString(x.ShapeRef)}");
        if (k.H < 1 || k.W < 1 || s.H < 1 || s.W < 1 || d.H < 1 || d.W < 1)
            throw new ArgumentException($"{op}: kernel {k}, stride {s} and dilation {d} must be positive");
        if (p.H < 0 || p.W < 0 || p.H > k.H / 2 || p.W > k.W / 2)
            throw new ArgumentException($"{op}: padding {p} must be non-negative and at most half the kernel size {k}");
        var xs = x.ShapeRef;
        int n = x.Rank == 4 ? xs[0] : 1, c = xs[^3], h = xs[^2], w = xs[^1];
        int oh = Pool2dGeometry.OutputSize(h, k.H, s.H, p.H, d.H, ceilMode);
        int ow = Pool2dGeometry.OutputSize(w, k.W, s.W, p.W, d.W, ceilMode);
        if (oh < 1 || ow < 1)
            throw new ArgumentException($"{op}: kernel {k} (dilation {d}) is larger than the padded input {h + 2 * p.H}x{w + 2 * p.W} (input {Layout.ShapeString(xs)}); output would be {oh}x{ow}");
        return new Pool2dGeometry(n, c, h, w, oh, ow, k.H, k.W, s.H, s.W, p.H, p.W, d.H, d.W);
    }

    /// <summary>Runs a 4-D op on x, adding and removing the batch dim for unbatched [C, H, W] input; F16/BF16 compute in F32.</summary>
    private static (Tensor Output, Tensor Indices) Batched(Tensor x, Func<Tensor, (Tensor, Tensor?)> op)
    {
        if (x.DType is DType.F16 or DType.BF16)
        {
            using var xf = x.To(DType.F32);
            var (yf, i) = Batched(xf, op);
            using (yf) return (yf.To(x.DType), i!);
        }
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"pooling needs a floating-point input, got {x.DType}");
        if (x.Rank == 4)
        {
            var (y, i) = op(x);
            return (y, i!);
        }
        using var xb = x.Unsqueeze(0);
        var (yb, ib) = op(xb);
        using (yb)
        using (ib)
            return (yb.Squeeze(0), ib is null ? null! : ib.Squeeze(0));
    }
}
