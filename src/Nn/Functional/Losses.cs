// Loss functions, composed from differentiable tensor ops so their gradients follow by construction.
// Each states the exact formula it implements (the oracle README's, which is PyTorch's).
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public enum Reduction { Mean, Sum, None }

public static partial class F
{
    private static Tensor Reduce(Tensor perElement, Reduction reduction) => reduction switch
    {
        Reduction.Mean => perElement.Mean(),
        Reduction.Sum => perElement.Sum(),
        _ => perElement.Share(),
    };

    /// <summary>Logits [N, C] or [N, C, d1, ...] to [M, C] rows with classes last.</summary>
    private static Tensor ClassRows(Tensor logits, string op)
    {
        if (logits.Rank < 2) throw new ArgumentException($"{op}: logits must be [N, C, ...], got {Layout.ShapeString(logits.ShapeRef)}");
        if (logits.Rank == 2) return logits.Share();
        using var moved = logits.MoveDim(1, -1);
        return moved.Reshape(-1, logits.ShapeRef[1]);
    }

    /// <summary>
    /// Cross-entropy with class-index targets (I64 [N] or [N, d1, ...]) or class-probability targets (float, the logits' shape).
    /// Mean reduction with class weights is the weighted mean sum(-w[t] logp[t]) / sum(w[t]); ignoreIndex samples count nowhere;
    /// label smoothing eps: (1 - eps) nll + eps/C * sum_c(-w_c logp_c) over the same denominator.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Tensor? weight = null, int ignoreIndex = -100, double labelSmoothing = 0, Reduction reduction = Reduction.Mean)
    {
        if (labelSmoothing < 0 || labelSmoothing > 1) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), "label smoothing must be in [0, 1]");
        if (logits.Rank < 2) throw new ArgumentException($"cross_entropy: logits must be [N, C, ...], got {Layout.ShapeString(logits.ShapeRef)} (add a batch dimension with Unsqueeze(0))");
        int c = logits.ShapeRef[1];
        if (weight is not null && (weight.Rank != 1 || weight.ShapeRef[0] != c))
            throw new ArgumentException($"cross_entropy: class weights must be [{c}], got {Layout.ShapeString(weight.ShapeRef)}");
        using var rows = ClassRows(logits, "cross_entropy");
        using var logp = LogSoftmax(rows, -1);
        if (target.DType.IsFloatingPoint())
        {
            if (!target.ShapeRef.AsSpan().SequenceEqual(logits.ShapeRef))
                throw new ArgumentException($"cross_entropy: probability targets {Layout.ShapeString(target.ShapeRef)} must match logits {Layout.ShapeString(logits.ShapeRef)}");
            using var tRows = ClassRows(target, "cross_entropy");
            using var smoothed = labelSmoothing > 0 ? tRows.Mul(1 - labelSmoothing).Add(labelSmoothing / c) : tRows.Share();
            using var weighted = weight is null ? smoothed.Share() : smoothed.Mul(weight);
            using var prod = weighted.Mul(logp);
            using var per = prod.Sum(-1);
            using var neg = per.Neg();
            return Reduce(neg, reduction);
        }
        return NllFromLogProbs(logp, target, weight, ignoreIndex, labelSmoothing, reduction, logits.ShapeRef, "cross_entropy");
    }

    /// <summary>Negative log-likelihood of log-probabilities [N, C] (or [N, C, ...]) at class targets.</summary>
    public static Tensor NllLoss(Tensor logProbs, Tensor target, Tensor? weight = null, int ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        using var rows = ClassRows(logProbs, "nll_loss");
        return NllFromLogProbs(rows, target, weight, ignoreIndex, 0, reduction, logProbs.ShapeRef, "nll_loss");
    }

    private static Tensor NllFromLogProbs(Tensor logp, Tensor target, Tensor? weight, int ignoreIndex, double eps, Reduction reduction, int[] inputShape, string op)
    {
        if (target.DType is not (DType.I64 or DType.I32)) throw new ArgumentException($"{op}: class targets must be I64, got {target.DType}");
        int c = logp.ShapeRef[1];
        var expected = inputShape.Where((_, i) => i != 1).ToArray();
        if (!target.ShapeRef.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: target shape {Layout.ShapeString(target.ShapeRef)} does not match input {Layout.ShapeString(inputShape)} (expected {Layout.ShapeString(expected)})");
        using var t = target.Reshape(-1);
        using var valid = t.Ne(ignoreIndex);
        using var zeroIdx = Tensor.ZerosLike(t);
        using var safeT = Tensor.Where(valid, t, zeroIdx);
        var tv = safeT.ToLongArray();
        foreach (var v in tv)
            if (v < 0 || v >= c) throw new ArgumentException($"{op}: target class {v} is outside [0, {c})");
        using var validF = valid.To(logp.DType);
        using var wRow = weight is null ? validF.Share() : WeightedValid(weight, safeT, validF);
        using var idx = safeT.Unsqueeze(1);
        using var picked = logp.Gather(1, idx);
        using var pickedFlat = picked.Squeeze(1);
        using var nllPer = pickedFlat.Neg();
        using var weightedNll = nllPer.Mul(wRow);
        Tensor? smoothPer = null;
        if (eps > 0)
        {
            using var wl = weight is null ? logp.Share() : logp.Mul(weight);
            using var s = wl.Sum(-1);
            using var neg = s.Neg();
            smoothPer = neg.Mul(validF);
        }
        try
        {
            if (reduction == Reduction.None)
            {
                var shape = target.ShapeRef;
                if (smoothPer is null) return weightedNll.Reshape(shape);
                using var a = weightedNll.Mul(1 - eps);
                using var b = smoothPer.Mul(eps / c);
                using var sum = a.Add(b);
                return sum.Reshape(shape);
            }
            using var nllSum = weightedNll.Sum();
            Tensor total;
            if (smoothPer is null) total = nllSum.Share();
            else
            {
                using var sSum = smoothPer.Sum();
                using var a = nllSum.Mul(1 - eps);
                using var b = sSum.Mul(eps / c);
                total = a.Add(b);
            }
            if (reduction == Reduction.Sum) return total;
            using (total)
            {
                using var denom = wRow.Sum();
                return total.Div(denom);
            }
        }
        finally { smoothPer?.Dispose(); }
    }

    private static Tensor WeightedValid(Tensor weight, Tensor safeT, Tensor validF)
    {
        using var w = weight.IndexSelect(0, safeT);
        return w.Mul(validF);
    }

    /// <summary>
    /// Binary cross-entropy on logits, elementwise (multi-label): -[p t log s(x) + (1 - t) log(1 - s(x))] in the stable form
    /// (1 - t) x + (1 + (p - 1) t) softplus(-x). posWeight broadcasts over the last dim; weight scales each element.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor target, Tensor? weight = null, Tensor? posWeight = null, Reduction reduction = Reduction.Mean)
    {
        if (!logits.ShapeRef.AsSpan().SequenceEqual(target.ShapeRef))
            throw new ArgumentException($"binary_cross_entropy_with_logits: target shape {Layout.ShapeString(target.ShapeRef)} differs from input shape {Layout.ShapeString(logits.ShapeRef)}");
        using var per = BceElementwise(logits, target, posWeight);
        using var w = weight is null ? per.Share() : per.Mul(weight);
        return Reduce(w, reduction);
    }

    private static Tensor BceElementwise(Tensor x, Tensor t, Tensor? posWeight)
    {
        using var oneMinusT = t.RSub(1);
        using var linear = oneMinusT.Mul(x);
        using var negX = x.Neg();
        using var sp = negX.Softplus();
        if (posWeight is null) return linear.Add(sp);
        using var pm1 = posWeight.Sub(1);
        using var scaleT = pm1.Mul(t);
        using var scale = scaleT.Add(1);
        using var term = scale.Mul(sp);
        return linear.Add(term);
    }

    /// <summary>torchvision's sigmoid_focal_loss: alpha_t * BCE * (1 - p_t)^gamma; alpha weights the positives.</summary>
    public static Tensor SigmoidFocalLoss(Tensor logits, Tensor target, double alpha = 0.25, double gamma = 2, Reduction reduction = Reduction.Mean)
    {
        using var p = logits.Sigmoid();
        using var ce = BceElementwise(logits, target, null);
        using var pt1 = p.Mul(target);
        using var oneMinusP = p.RSub(1);
        using var oneMinusT = target.RSub(1);
        using var pt2 = oneMinusP.Mul(oneMinusT);
        using var pt = pt1.Add(pt2);
        using var oneMinusPt = pt.RSub(1);
        using var mod = oneMinusPt.Pow(gamma);
        using var loss0 = ce.Mul(mod);
        if (alpha < 0) return Reduce(loss0, reduction);
        using var at1 = target.Mul(alpha);
        using var at2 = oneMinusT.Mul(1 - alpha);
        using var alphaT = at1.Add(at2);
        using var loss = alphaT.Mul(loss0);
        return Reduce(loss, reduction);
    }

    /// <summary>Distillation: T^2 / B * sum q (log q - log p), q = softmax(teacher/T) (a constant), p = softmax(student/T).</summary>
    public static Tensor DistillationLoss(Tensor studentLogits, Tensor teacherLogits, double temperature = 4)
    {
        if (!studentLogits.ShapeRef.AsSpan().SequenceEqual(teacherLogits.ShapeRef))
            throw new ArgumentException($"distillation: student shape {Layout.ShapeString(studentLogits.ShapeRef)} differs from teacher shape {Layout.ShapeString(teacherLogits.ShapeRef)}");
        int batch = studentLogits.ShapeRef[0];
        using var s = studentLogits.Div(temperature);
        using var logp = LogSoftmax(s, -1);
        Tensor q, logq;
        using (Autograd.AutogradMode.NoGrad())
        {
            using var tdet = teacherLogits.Detach();
            using var ts = tdet.Div(temperature);
            q = Softmax(ts, -1);
            logq = LogSoftmax(ts, -1);
        }
        using (q)
        using (logq)
        {
            using var diff = logq.Sub(logp);
            using var prod = q.Mul(diff);
            using var sum = prod.Sum();
            return sum.Mul(temperature * temperature / batch);
        }
    }

    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        if (!input.ShapeRef.AsSpan().SequenceEqual(target.ShapeRef))
            throw new ArgumentException($"mse_loss: target shape {Layout.ShapeString(target.ShapeRef)} differs from input shape {Layout.ShapeString(input.ShapeRef)}");
        using var d = input.Sub(target);
        using var sq = d.Square();
        return Reduce(sq, reduction);
    }
}
