// Synchronised batch norm in training mode (torch.nn.SyncBatchNorm): the statistics are those of the global batch
// over all ranks, and backward combines every rank's gradient sums, so N ranks at batch B/N compute what one process
// computes at batch B. Each rank's gradient of x is the derivative of the sum of all ranks' losses, which the
// data-parallel average of the weight gradients then turns into the single process's gradient.
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Distributed;

public static class SyncBatchNorm
{
    /// <summary>Batch norm of x [N, C, ...] with batch statistics over every rank's x; updates the running buffers
    /// (when given) with the global mean and unbiased variance, as torch does. Every rank must call it for the same
    /// layer at the same time.</summary>
    public static Tensor Apply(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias, double momentum, double eps, ICollectives comm)
    {
        if (x.Rank < 2) throw new ArgumentException($"sync_batch_norm: input must be [N, C, ...], got {Layout.ShapeString(x.ShapeRef)}");
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"sync_batch_norm: input must be floating point, got {x.DType}");
        if (x.DType is DType.F16 or DType.BF16)
        {
            using var xf = x.To(DType.F32);
            using var yf = Apply(xf, runningMean, runningVar, weight, bias, momentum, eps, comm);
            return yf.To(x.DType);
        }
        var ct = x.DType;
        int c = x.ShapeRef[1];
        int[] reduceDims = [0, .. Enumerable.Range(2, x.Rank - 2)];
        using var wc = weight is null ? null : weight.DType == ct ? weight.Share() : weight.To(ct);
        using var bc = bias is null ? null : bias.DType == ct ? bias.Share() : bias.To(ct);

        Tensor mean, invstd;
        double total;
        using (AutogradMode.NoGrad())
        {
            using var localMean = Tensor.Empty([c], ct, x.Device);
            using var localVar = Tensor.Empty([c], ct, x.Device);
            x.Backend.ChannelStats(x.Storage, x.Layout, localMean.Storage, localVar.Storage);
            // Per channel sum and sum of squares (from the rank's own mean and variance, in F64 so that
            // E[x^2] - E[x]^2 keeps its digits), and the count: one all-reduce.
            double m = x.Numel / Math.Max(1, c);
            var lm = Values(localMean);
            var lv = Values(localVar);
            var sums = new double[2 * c + 1];
            for (int k = 0; k < c; k++)
            {
                sums[k] = m * lm[k];
                sums[c + k] = m * (lv[k] + lm[k] * lm[k]);
            }
            sums[2 * c] = m;
            comm.AllReduce(sums.AsSpan(), AllReduceOp.Sum);
            total = sums[2 * c];
            if (total <= 1) throw new ArgumentException($"sync_batch_norm: expected more than 1 value per channel over all ranks, got {total}");
            var gm = new double[c];
            var gv = new double[c];
            for (int k = 0; k < c; k++)
            {
                gm[k] = sums[k] / total;
                gv[k] = Math.Max(0, sums[c + k] / total - gm[k] * gm[k]);
            }
            mean = Of(gm, ct);
            invstd = Of([.. gv.Select(v => 1 / Math.Sqrt(v + eps))], ct);
            if (runningMean is not null && runningVar is not null)
            {
                using var nm = Of([.. Values(runningMean).Select((r, k) => (1 - momentum) * r + momentum * gm[k])], runningMean.DType);
                using var nv = Of([.. Values(runningVar).Select((r, k) => (1 - momentum) * r + momentum * gv[k] * total / (total - 1))], runningVar.DType);
                runningMean.CopyFrom(nm);
                runningVar.CopyFrom(nv);
            }
        }
        var y = F.NormalizeChannels(x, mean, invstd, wc, bc);
        var inputs = new List<Tensor> { x };
        if (wc is not null) inputs.Add(wc);
        if (bc is not null) inputs.Add(bc);
        if (!AutogradMode.ShouldRecord(inputs))
        {
            mean.Dispose();
            invstd.Dispose();
            return y;
        }
        var xs = x.Alias();
        var meanSaved = DisposeScope.Detach(mean);
        var invstdSaved = DisposeScope.Detach(invstd);
        var ws = wc?.Alias();
        bool hasW = wc is not null, hasB = bc is not null;
        var saved = new List<Tensor> { xs, meanSaved, invstdSaved };
        if (ws is not null) saved.Add(ws);
        AutogradMode.Record(y, "sync_batch_norm", [.. inputs], gy =>
        {
            // x̂ = (x - mean) invstd; the sums of gy and gy x̂ are the rank's (its weight and bias gradients) ...
            using var negMeanInvstd = meanSaved.Mul(invstdSaved).Neg();
            using var xhat = Tensor.Empty(xs.ShapeRef, ct, gy.Device);
            xs.Backend.ChannelAffine(xs.Storage, xs.Layout, invstdSaved.Storage, negMeanInvstd.Storage, xhat.Storage);
            var sumDy = gy.Sum(reduceDims);
            Tensor sumDyXhat;
            using (var prod = gy.Mul(xhat)) sumDyXhat = prod.Sum(reduceDims);
            // ... and over all ranks they give x's gradient: w invstd (gy - mean(gy) - x̂ mean(gy x̂)), means over the global batch.
            var both = new double[2 * c];
            Values(sumDy).CopyTo(both, 0);
            Values(sumDyXhat).CopyTo(both, c);
            comm.AllReduce(both.AsSpan(), AllReduceOp.Sum);
            using var a = Of([.. both.Skip(c).Select(v => -v / total)], ct);
            using var b = Of([.. both.Take(c).Select(v => -v / total)], ct);
            using var centred = Tensor.Empty(xs.ShapeRef, ct, gy.Device);
            xhat.Backend.ChannelAffine(xhat.Storage, xhat.Layout, a.Storage, b.Storage, centred.Storage);
            using var sum = centred.Add(gy);
            using var gain = ws is null ? invstdSaved.Share() : ws.Mul(invstdSaved);
            using var zero = Tensor.Zeros([c], ct, gy.Device);
            var gx = Tensor.Empty(xs.ShapeRef, ct, gy.Device);
            sum.Backend.ChannelAffine(sum.Storage, sum.Layout, gain.Storage, zero.Storage, gx.Storage);
            var r = new List<Tensor?> { gx };
            if (hasW) r.Add(sumDyXhat);
            else sumDyXhat.Dispose();
            if (hasB) r.Add(sumDy);
            else sumDy.Dispose();
            return [.. r];
        }, [.. saved]);
        return y;
    }

    private static double[] Values(Tensor t)
    {
        if (t.DType == DType.F64) return t.ToArray<double>();
        using var d = t.To(DType.F64);
        return d.ToArray<double>();
    }

    // Per-channel vectors are made on the host: the collectives take host buffers only so far.
    private static Tensor Of(double[] values, DType dtype)
    {
        using var d = Tensor.FromArray<double>(values, values.Length);
        return dtype == DType.F64 ? d.Share() : d.To(dtype);
    }
}
