// Convolution, pooling and batch norm on NCHW tensors, each with its backward.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    private static void Check4d(Tensor x, string op)
    {
        if (x.Rank != 4) throw new ArgumentException($"{op} expects NCHW input [N, C, H, W], got shape {Layout.ShapeString(x.ShapeRef)}");
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"{op} needs floating-point input, got {x.DType}");
    }

    /// <summary>Input in a dtype the kernels run in (F32/F64; F16/BF16 go through F32) and contiguous.</summary>
    private static Tensor KernelInput(Tensor x) => x.DType is DType.F32 or DType.F64 ? x.Contiguous() : x.To(DType.F32).Contiguous();

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(x, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>conv2d with padding "same" (stride 1; the total padding must split evenly, i.e. dilation*(k-1) even).</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, string padding, int dilation = 1, int groups = 1)
    {
        if (padding == "valid") return Conv2d(x, weight, bias, 1, 0, dilation, groups);
        if (padding != "same") throw new ArgumentException($"conv2d padding must be 'same', 'valid' or numbers, got '{padding}'");
        int th = dilation * (weight.ShapeRef[2] - 1), tw = dilation * (weight.ShapeRef[3] - 1);
        if (th % 2 != 0 || tw % 2 != 0) throw new ArgumentException($"conv2d padding 'same' with kernel {weight.ShapeRef[2]}x{weight.ShapeRef[3]} and dilation {dilation} needs uneven padding, which is not supported; pad explicitly");
        return Conv2d(x, weight, bias, (1, 1), (th / 2, tw / 2), (dilation, dilation), groups);
    }

    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
    {
        Check4d(x, "conv2d");
        if (weight.Rank != 4) throw new ArgumentException($"conv2d weight must be [O, C/groups, KH, KW], got {Layout.ShapeString(weight.ShapeRef)}");
        if (Amp.Autocast.IsActive && x.DType == DType.F32)
        {
            using var x16 = Amp.Autocast.CastOperand(x);
            using var w16 = Amp.Autocast.CastOperand(weight);
            using (new Amp.Autocast(false).Suspend())
            {
                using var r = Conv2d(x16, w16, bias, stride, padding, dilation, groups);
                return Amp.Autocast.CastOperand(r);
            }
        }
        var g = new ConvGeometry(x.ShapeRef[0], x.ShapeRef[1], x.ShapeRef[2], x.ShapeRef[3], weight.ShapeRef[0], weight.ShapeRef[2], weight.ShapeRef[3],
            stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, groups);
        g.Validate();
        if (weight.ShapeRef[1] * groups != g.C)
            throw new ArgumentException($"conv2d: input {Layout.ShapeString(x.ShapeRef)} has {g.C} channels but weight {Layout.ShapeString(weight.ShapeRef)} with groups={groups} expects {weight.ShapeRef[1] * groups}");
        if (bias is not null && (bias.Rank != 1 || bias.ShapeRef[0] != g.O))
            throw new ArgumentException($"conv2d: bias must be [{g.O}], got {Layout.ShapeString(bias.ShapeRef)}");
        using var xc = KernelInput(x);
        using var wc = weight.To(xc.DType).Contiguous();
        using var bc = bias?.To(xc.DType).Contiguous();
        var y = Tensor.Empty([g.N, g.O, g.OH, g.OW], xc.DType, x.Device);
        x.Backend.Conv2d(xc.Storage, wc.Storage, bc?.StorageOrNull, y.Storage, g);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        if (AutogradMode.ShouldRecord(inputs))
        {
            var xs = xc.Alias();
            var ws = wc.Alias();
            bool needX = x.RequiresGrad, needW = weight.RequiresGrad, needB = bias?.RequiresGrad == true;
            var xType = x.DType;
            AutogradMode.Record(y, "conv2d", inputs, gy =>
            {
                using var gyc = gy.To(xs.DType).Contiguous();
                Tensor? gx = null, gw = null, gb = null;
                if (needX)
                {
                    gx = Tensor.Empty(xs.ShapeRef, xs.DType, gy.Device);
                    gy.Backend.Conv2dBackwardData(gyc.Storage, ws.Storage, gx.Storage, g);
                    if (gx.DType != xType) gx = gx.To(xType);
                }
                if (needW)
                {
                    gw = Tensor.Empty(ws.ShapeRef, xs.DType, gy.Device);
                    gy.Backend.Conv2dBackwardFilter(xs.Storage, gyc.Storage, gw.Storage, g);
                }
                if (needB) gb = gyc.Sum([0, 2, 3]);
                return bias is null ? [gx, gw] : [gx, gw, gb];
            }, xs, ws);
        }
        return y;
    }

    private static PoolGeometry Pool(Tensor x, (int H, int W) k, (int H, int W) s, (int H, int W) p, bool ceil, string op)
    {
        Check4d(x, op);
        if (k.H <= 0 || k.W <= 0 || s.H <= 0 || s.W <= 0 || p.H < 0 || p.W < 0) throw new ArgumentException($"{op}: kernel {k} and stride {s} must be positive, padding {p} non-negative");
        if (p.H * 2 > k.H || p.W * 2 > k.W) throw new ArgumentException($"{op}: padding {p} must be at most half the kernel {k}");
        int h = x.ShapeRef[2], w = x.ShapeRef[3];
        int oh = PoolGeometry.OutputSize(h, k.H, s.H, p.H, ceil), ow = PoolGeometry.OutputSize(w, k.W, s.W, p.W, ceil);
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"{op}: kernel {k} is larger than the padded input {h + 2 * p.H}x{w + 2 * p.W}");
        return new PoolGeometry(x.ShapeRef[0], x.ShapeRef[1], h, w, k.H, k.W, s.H, s.W, p.H, p.W, oh, ow);
    }

    public static Tensor MaxPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool ceilMode = false) =>
        MaxPool2d(x, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), ceilMode);

    public static Tensor MaxPool2d(Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, bool ceilMode = false) =>
        MaxPool2dWithIndices(x, kernel, stride, padding, ceilMode, out var idx).Also(idx.Dispose);

    /// <summary>Max pooling that also returns the argmax of each window as h * W + w in its input plane (I64).</summary>
    public static Tensor MaxPool2dWithIndices(Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, bool ceilMode, out Tensor indices)
    {
        var p = Pool(x, kernel, stride, padding, ceilMode, "max_pool2d");
        using var xc = KernelInput(x);
        var y = Tensor.Empty([p.N, p.C, p.OH, p.OW], xc.DType, x.Device);
        indices = Tensor.Empty([p.N, p.C, p.OH, p.OW], DType.I64, x.Device);
        x.Backend.MaxPool2d(xc.Storage, y.Storage, indices.Storage, p);
        if (AutogradMode.ShouldRecord(x))
        {
            var ix = indices.Alias();
            var xType = x.DType;
            var computeType = xc.DType;
            AutogradMode.Record(y, "max_pool2d", [x], gy =>
            {
                using var gyc = gy.To(computeType).Contiguous();
                var gx = Tensor.Empty([p.N, p.C, p.H, p.W], gyc.DType, gy.Device);
                gy.Backend.MaxPool2dBackward(gyc.Storage, ix.Storage, gx.Storage, p);
                return [gx.DType == xType ? gx : gx.To(xType)];
            }, ix);
        }
        return y;
    }

    public static Tensor AvgPool2d(Tensor x, int kernel, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) =>
        AvgPool2d(x, (kernel, kernel), (stride ?? kernel, stride ?? kernel), (padding, padding), ceilMode, countIncludePad);

    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding, bool ceilMode = false, bool countIncludePad = true)
    {
        var p = Pool(x, kernel, stride, padding, ceilMode, "avg_pool2d");
        using var xc = KernelInput(x);
        var y = Tensor.Empty([p.N, p.C, p.OH, p.OW], xc.DType, x.Device);
        x.Backend.AvgPool2d(xc.Storage, y.Storage, p, countIncludePad);
        if (AutogradMode.ShouldRecord(x))
        {
            var computeType = xc.DType;
            var xType = x.DType;
            AutogradMode.Record(y, "avg_pool2d", [x], gy =>
            {
                using var gyc = gy.To(computeType).Contiguous();
                var gx = Tensor.Empty([p.N, p.C, p.H, p.W], computeType, gy.Device);
                gy.Backend.AvgPool2dBackward(gyc.Storage, gx.Storage, p, countIncludePad);
                return [gx.DType == xType ? gx : gx.To(xType)];
            });
        }
        return y;
    }

    /// <summary>Adaptive average pooling: output cell i averages rows [floor(i H / OH), ceil((i + 1) H / OH)).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, (int H, int W) output) => AdaptivePool(x, output, max: false);

    public static Tensor AdaptiveMaxPool2d(Tensor x, (int H, int W) output) => AdaptivePool(x, output, max: true);

    private static Tensor AdaptivePool(Tensor x, (int H, int W) output, bool max)
    {
        Check4d(x, max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d");
        int h = x.ShapeRef[2], w = x.ShapeRef[3];
        if (output.H <= 0 || output.W <= 0) throw new ArgumentException($"adaptive pooling output size {output} must be positive");
        if (output == (1, 1))
        {
            using var m = max ? x.Amax([2, 3], keepDim: true) : x.Mean([2, 3], keepDim: true);
            return m.Share();
        }
        if (h % output.H == 0 && w % output.W == 0)
        {
            // Equal bins: an ordinary pooling window.
            var k = (h / output.H, w / output.W);
            return max ? MaxPool2d(x, k, k, (0, 0)) : AvgPool2d(x, k, k, (0, 0));
        }
        // Overlapping bins: one reduction per cell (small outputs only in practice).
        using var scope = new DisposeScope();
        var rows = new List<Tensor>();
        for (int i = 0; i < output.H; i++)
        {
            int r0 = i * h / output.H, r1 = ((i + 1) * h + output.H - 1) / output.H;
            var cells = new List<Tensor>();
            for (int j = 0; j < output.W; j++)
            {
                int c0 = j * w / output.W, c1 = ((j + 1) * w + output.W - 1) / output.W;
                var win = x.Narrow(2, r0, r1 - r0).Narrow(3, c0, c1 - c0);
                cells.Add(max ? win.Amax([2, 3]) : win.Mean([2, 3]));
            }
            rows.Add(Tensor.Stack(cells, -1));
        }
        return scope.MoveToOuter(Tensor.Stack(rows, -2));
    }

    /// <summary>
    /// Batch norm over [N, C, H, W]. Training: normalise with the batch mean and biased variance, and update the
    /// running stats in place (momentum weights the new value; the running variance takes the unbiased one).
    /// Eval: normalise with the running stats.
    /// </summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias, bool training, double momentum = 0.1, double eps = 1e-5)
    {
        Check4d(x, "batch_norm2d");
        int n = x.ShapeRef[0], c = x.ShapeRef[1], hw = x.ShapeRef[2] * x.ShapeRef[3];
        foreach (var (t, name) in new[] { (runningMean, "running_mean"), (runningVar, "running_var"), (weight, "weight"), (bias, "bias") })
            if (t is not null && (t.Rank != 1 || t.ShapeRef[0] != c))
                throw new ArgumentException($"batch_norm2d: {name} must be [{c}] for input {Layout.ShapeString(x.ShapeRef)}, got {Layout.ShapeString(t.ShapeRef)}");
        if (!training && (runningMean is null || runningVar is null)) throw new ArgumentException("batch_norm2d in eval mode needs running_mean and running_var");
        long m = (long)n * hw;
        if (training && m <= 1) throw new ArgumentException($"batch_norm2d in training mode needs more than one value per channel, got input {Layout.ShapeString(x.ShapeRef)}");
        using var xc = KernelInput(x);
        var dt = xc.DType;
        var dev = x.Device;
        Tensor mean, rstd;
        using (AutogradMode.NoGrad())
        {
            if (training)
            {
                mean = Tensor.Empty([c], dt, dev);
                using var variance = Tensor.Empty([c], dt, dev);
                x.Backend.ChannelStats(xc.Storage, n, c, hw, mean.Storage, variance.Storage);
                using var ve = variance.Add(eps);
                rstd = ve.Rsqrt();
                if (runningMean is not null && runningVar is not null)
                {
                    using var rm = runningMean.Mul(1 - momentum);
                    using var mm = mean.Mul(momentum);
                    using var nrm = rm.Add(mm);
                    runningMean.CopyFrom(nrm);
                    using var rv = runningVar.Mul(1 - momentum);
                    using var vm = variance.Mul(momentum * m / (m - 1.0));
                    using var nrv = rv.Add(vm);
                    runningVar.CopyFrom(nrv);
                }
            }
            else
            {
                mean = runningMean!.To(dt).Contiguous();
                using var ve = runningVar!.To(dt).Add(eps);
                rstd = ve.Rsqrt();
            }
        }
        Tensor scale, shift;
        using (AutogradMode.NoGrad())
        {
            using var gamma = weight is null ? Tensor.Ones([c], dt, dev) : weight.To(dt).Contiguous();
            scale = gamma.Mul(rstd);
            using var beta = bias is null ? Tensor.Zeros([c], dt, dev) : bias.To(dt).Contiguous();
            using var ms = mean.Mul(scale);
            shift = beta.Sub(ms);
        }
        var y = Tensor.Empty(x.ShapeRef, dt, dev);
        x.Backend.ChannelAffine(xc.Storage, n, c, hw, scale.Storage, shift.Storage, y.Storage);
        var inputs = new List<Tensor> { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        if (!AutogradMode.ShouldRecord(inputs))
        {
            mean.Dispose(); rstd.Dispose(); scale.Dispose(); shift.Dispose();
            return y;
        }
        var xs = xc.Alias();
        var ms2 = DisposeScope.Detach(mean);
        var rs2 = DisposeScope.Detach(rstd);
        var sc2 = DisposeScope.Detach(scale);
        shift.Dispose();
        bool hasW = weight is not null, hasB = bias is not null, needX = x.RequiresGrad;
        var xType = x.DType;
        AutogradMode.Record(y, "batch_norm2d", [.. inputs], gy =>
        {
            using var gyc = gy.To(dt).Contiguous();
            using var sumGy = Tensor.Empty([c], dt, dev);
            using var sumGyXhat = Tensor.Empty([c], dt, dev);
            gy.Backend.ChannelGradSums(xs.Storage, gyc.Storage, n, c, hw, ms2.Storage, rs2.Storage, sumGy.Storage, sumGyXhat.Storage);
            Tensor? gx = null;
            if (needX)
            {
                gx = Tensor.Empty(xs.ShapeRef, dt, dev);
                using var zero = Tensor.Zeros([c], dt, dev);
                gy.Backend.ChannelAffine(gyc.Storage, n, c, hw, sc2.Storage, zero.Storage, gx.Storage);
                if (training)
                {
                    // gx = k gy - k rstd sum(gy xhat)/M (x - mean) - k sum(gy)/M, with k = gamma * rstd
                    using var a = sc2.Mul(rs2).Mul(sumGyXhat).Mul(-1.0 / m);
                    using var am = a.Mul(ms2);
                    using var b0 = sc2.Mul(sumGy).Mul(-1.0 / m);
                    using var b = b0.Sub(am);
                    using var corr = Tensor.Empty(xs.ShapeRef, dt, dev);
                    gy.Backend.ChannelAffine(xs.Storage, n, c, hw, a.Storage, b.Storage, corr.Storage);
                    using var old = gx;
                    gx = old.Add(corr);
                }
                if (gx.DType != xType) { using var old = gx; gx = old.To(xType); }
            }
            var grads = new List<Tensor?> { gx };
            if (hasW) grads.Add(sumGyXhat.Clone());
            if (hasB) grads.Add(sumGy.Clone());
            return [.. grads];
        }, xs, ms2, rs2, sc2);
        return y;
    }

    /// <summary>Batch norm folded for inference: per-channel scale = gamma / sqrt(var + eps) and shift = beta - mean * scale.</summary>
    public static (Tensor Scale, Tensor Shift) FoldBatchNorm(Tensor runningMean, Tensor runningVar, Tensor? weight, Tensor? bias, double eps = 1e-5)
    {
        using var noGrad = AutogradMode.NoGrad();
        using var ve = runningVar.Add(eps);
        using var rstd = ve.Rsqrt();
        var scale = weight is null ? rstd.Clone() : weight.Mul(rstd);
        using var ms = runningMean.Mul(scale);
        var shift = bias is null ? ms.Neg() : bias.Sub(ms);
        return (scale, shift);
    }
}

internal static class TensorChain
{
    /// <summary>Runs an action and returns the tensor (for disposing a by-product inline).</summary>
    public static Tensor Also(this Tensor t, Action a)
    {
        a();
        return t;
    }
}
