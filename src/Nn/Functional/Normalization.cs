// Batch normalisation over [N, C, ...] (torch.nn.functional.batch_norm) and its folded inference form.
// Training normalises with the batch mean and biased variance and updates the running buffers in place
// (momentum weights the new value; the running variance takes the unbiased estimate). Eval uses the
// running buffers. The normalisation is one per-channel affine map y = x * scale + shift.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    /// <summary>Batch norm of a 4-D [N, C, H, W] input; see <see cref="BatchNorm"/>.</summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        if (x.Rank != 4) throw new ArgumentException($"batch_norm2d: input must be [N, C, H, W], got {Layout.ShapeString(x.ShapeRef)}");
        return BatchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps);
    }

    /// <summary>
    /// Batch norm over dims 0 and 2.. of x [N, C, ...]. training (or no running buffers): batch statistics, and when
    /// buffers are given they are updated in place (under NoGrad): mean = (1 - momentum) mean + momentum batch_mean,
    /// var = (1 - momentum) var + momentum unbiased_batch_var. Otherwise the running buffers normalise.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        if (x.Rank < 2) throw new ArgumentException($"batch_norm: input must be [N, C, ...], got {Layout.ShapeString(x.ShapeRef)}");
        int c = x.ShapeRef[1];
        void CheckC(Tensor? t, string what)
        {
            if (t is not null && (t.Rank != 1 || t.ShapeRef[0] != c))
                throw new ArgumentException($"batch_norm: {what} must be [{c}] for input {Layout.ShapeString(x.ShapeRef)}, got {Layout.ShapeString(t.ShapeRef)}");
        }
        CheckC(runningMean, "running_mean"); CheckC(runningVar, "running_var"); CheckC(weight, "weight"); CheckC(bias, "bias");
        if ((runningMean is null) != (runningVar is null)) throw new ArgumentException("batch_norm: give both running_mean and running_var, or neither");
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"batch_norm: input must be floating point, got {x.DType}");
        var ct = x.DType is DType.F16 or DType.BF16 ? DType.F32 : x.DType;
        if (ct != x.DType)
        {
            using var xf = x.To(ct);
            using var yf = BatchNorm(xf, runningMean, runningVar, weight, bias, training, momentum, eps);
            return yf.To(x.DType);
        }
        // Affine parameters in the compute dtype (the casts carry their gradients).
        using var wc = weight is null ? null : weight.DType == ct ? weight.Share() : weight.To(ct);
        using var bc = bias is null ? null : bias.DType == ct ? bias.Share() : bias.To(ct);
        bool batchStats = training || runningMean is null;
        long m = x.Numel / Math.Max(1, c);
        if (batchStats && m <= 1)
            throw new ArgumentException($"batch_norm: expected more than 1 value per channel when training, got input {Layout.ShapeString(x.ShapeRef)}");

        Tensor mean, invstd;
        using (AutogradMode.NoGrad())
        {
            if (batchStats)
            {
                mean = Tensor.Empty([c], ct, x.Device);
                using var var = Tensor.Empty([c], ct, x.Device);
                x.Backend.ChannelStats(x.Storage, x.Layout, mean.Storage, var.Storage);
                using (var ve = var.Add(eps)) invstd = ve.Rsqrt();
                if (training && runningMean is not null)
                {
                    using var rm = runningMean.Mul(1 - momentum);
                    using var bm = mean.Mul(momentum);
                    using var nm = rm.Add(bm);
                    using var rv = runningVar!.Mul(1 - momentum);
                    using var bv = var.Mul(momentum * m / (m - 1));
                    using var nv = rv.Add(bv);
                    runningMean.CopyFrom(nm);
                    runningVar.CopyFrom(nv);
                }
            }
            else
            {
                mean = runningMean!.To(ct);
                using var rv = runningVar!.To(ct);
                using var ve = rv.Add(eps);
                invstd = ve.Rsqrt();
            }
        }
        var y = NormalizeChannels(x, mean, invstd, wc, bc);
        var inputs = new List<Tensor> { x };
        if (wc is not null) inputs.Add(wc);
        if (bc is not null) inputs.Add(bc);
        if (AutogradMode.ShouldRecord(inputs))
        {
            var xs = x.Alias();
            var ms = DisposeScope.Detach(mean);
            var isd = DisposeScope.Detach(invstd);
            var ws = wc?.Alias();
            bool hasW = wc is not null, hasB = bc is not null;
            bool needX = x.RequiresGrad, needW = wc?.RequiresGrad ?? false, needB = bc?.RequiresGrad ?? false;
            var saved = new List<Tensor> { xs, ms, isd };
            if (ws is not null) saved.Add(ws);
            AutogradMode.Record(y, batchStats ? "batch_norm" : "batch_norm_eval", [.. inputs], gy =>
            {
                var gx = needX ? Tensor.Empty(xs.ShapeRef, ct, gy.Device) : null;
                var gw = needW ? Tensor.Empty([c], ct, gy.Device) : null;
                var gb = needB ? Tensor.Empty([c], ct, gy.Device) : null;
                gy.Backend.BatchNormBackward(xs.Storage, xs.Layout, gy.Storage, gy.Layout, ms.Storage, isd.Storage, ws?.Storage, batchStats,
                    gx?.Storage, gw?.Storage, gb?.Storage);
                var r = new List<Tensor?> { gx };
                if (hasW) r.Add(gw);
                if (hasB) r.Add(gb);
                return [.. r];
            }, [.. saved]);
        }
        else
        {
            mean.Dispose();
            invstd.Dispose();
        }
        return y;
    }

    /// <summary>y = (x - mean[c]) invstd[c] weight[c] + bias[c] as one per-channel affine pass (weight and bias may be
    /// null), without recording a gradient: batch norm's forward, local or synchronised across ranks.</summary>
    internal static Tensor NormalizeChannels(Tensor x, Tensor mean, Tensor invstd, Tensor? weight, Tensor? bias)
    {
        Tensor scale, shift;
        using (AutogradMode.NoGrad())
        {
            scale = weight is null ? invstd.Share() : invstd.Mul(weight);
            using var ms = mean.Mul(scale);
            shift = bias is null ? ms.Neg() : bias.Sub(ms);
        }
        using (scale)
        using (shift)
        {
            var y = Tensor.Empty(x.ShapeRef, x.DType, x.Device);
            x.Backend.ChannelAffine(x.Storage, x.Layout, scale.Storage, shift.Storage, y.Storage);
            return y;
        }
    }

    /// <summary>
    /// Folds eval-mode batch norm into one per-channel affine map: scale = weight / sqrt(running_var + eps),
    /// shift = bias - running_mean * scale (no gradient). Apply it with <see cref="ChannelAffine"/> or fold it into a conv.
    /// </summary>
    public static (Tensor Scale, Tensor Shift) FoldBatchNorm(Tensor runningMean, Tensor runningVar, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        using var noGrad = AutogradMode.NoGrad();
        using var ve = runningVar.Add(eps);
        var scale = ve.Rsqrt();
        if (weight is not null) { using var s0 = scale; scale = s0.Mul(weight); }
        using var ms = runningMean.Mul(scale);
        var shift = bias is null ? ms.Neg() : bias.Sub(ms);
        return (scale, shift);
    }

    /// <summary>y = x * scale[c] + shift[c] over x [N, C, ...] (the folded batch norm), differentiable in all three.</summary>
    public static Tensor ChannelAffine(Tensor x, Tensor scale, Tensor shift)
    {
        if (x.Rank < 2) throw new ArgumentException($"channel_affine: input must be [N, C, ...], got {Layout.ShapeString(x.ShapeRef)}");
        int c = x.ShapeRef[1];
        if (scale.Rank != 1 || scale.ShapeRef[0] != c || shift.Rank != 1 || shift.ShapeRef[0] != c)
            throw new ArgumentException($"channel_affine: scale {Layout.ShapeString(scale.ShapeRef)} and shift {Layout.ShapeString(shift.ShapeRef)} must be [{c}] for input {Layout.ShapeString(x.ShapeRef)}");
        if (scale.DType != x.DType || shift.DType != x.DType || x.DType is not (DType.F32 or DType.F64))
            throw new ArgumentException($"channel_affine: input {x.DType}, scale {scale.DType} and shift {shift.DType} must all be F32 or all F64");
        using var sc = scale.Contiguous();
        using var sh = shift.Contiguous();
        var y = Tensor.Empty(x.ShapeRef, x.DType, x.Device);
        x.Backend.ChannelAffine(x.Storage, x.Layout, sc.Storage, sh.Storage, y.Storage);
        if (AutogradMode.ShouldRecord([x, scale, shift]))
        {
            // The eval-mode batch-norm backward with mean 0 and invstd 1: gx = gy scale, gscale = sum(gy x), gshift = sum(gy).
            var xs = x.Alias();
            var ss = sc.Alias();
            bool needX = x.RequiresGrad, needS = scale.RequiresGrad, needT = shift.RequiresGrad;
            var dt = x.DType;
            AutogradMode.Record(y, "channel_affine", [x, scale, shift], gy =>
            {
                using var zero = Tensor.Zeros([c], dt, gy.Device);
                using var one = Tensor.Ones([c], dt, gy.Device);
                var gx = needX ? Tensor.Empty(xs.ShapeRef, dt, gy.Device) : null;
                var gs = needS ? Tensor.Empty([c], dt, gy.Device) : null;
                var gt = needT ? Tensor.Empty([c], dt, gy.Device) : null;
                gy.Backend.BatchNormBackward(xs.Storage, xs.Layout, gy.Storage, gy.Layout, zero.Storage, one.Storage, ss.Storage, false, gx?.Storage, gs?.Storage, gt?.Storage);
                return [gx, gs, gt];
            }, xs, ss);
        }
        return y;
    }
}
