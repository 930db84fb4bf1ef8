// Scaled dot-product attention.
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    /// <summary>
    /// softmax(q k^T / sqrt(D) + mask) v for q [..., Tq, D], k [..., Tk, D], v [..., Tk, Dv].
    /// attnMask: Bool (true = not allowed, like a Python bool mask) or an additive float mask, broadcast to [..., Tq, Tk].
    /// isCausal masks key j for query i when j &gt; i.
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? attnMask = null, bool isCausal = false, double dropoutP = 0, bool training = false, Generator? generator = null)
        => ScaledDotProductAttention(q, k, v, out _, attnMask, isCausal, dropoutP, training, generator, keepWeights: false);

    internal static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, out Tensor? weights, Tensor? attnMask, bool isCausal, double dropoutP, bool training, Generator? generator, bool keepWeights)
    {
        if (q.Rank < 2 || k.Rank != q.Rank || v.Rank != q.Rank)
            throw new ArgumentException($"attention: q {Layout.ShapeString(q.ShapeRef)}, k {Layout.ShapeString(k.ShapeRef)} and v {Layout.ShapeString(v.ShapeRef)} must have the same rank >= 2");
        if (q.ShapeRef[^1] != k.ShapeRef[^1]) throw new ArgumentException($"attention: q {Layout.ShapeString(q.ShapeRef)} and k {Layout.ShapeString(k.ShapeRef)} differ in the feature dim");
        if (k.ShapeRef[^2] != v.ShapeRef[^2]) throw new ArgumentException($"attention: k {Layout.ShapeString(k.ShapeRef)} and v {Layout.ShapeString(v.ShapeRef)} differ in sequence length");
        int tq = q.ShapeRef[^2], tk = k.ShapeRef[^2];
        double scale = 1.0 / Math.Sqrt(q.ShapeRef[^1]);
        using var kt = k.Transpose(-1, -2);
        using var raw = q.MatMul(kt);
        var scores = raw.Mul(scale);
        if (isCausal)
        {
            var causal = new bool[tq * tk];
            for (int i = 0; i < tq; i++) for (int j = i + 1; j < tk; j++) causal[i * tk + j] = true;
            using var m = Tensor.FromArray(causal, tq, tk);
            using var old = scores;
            scores = old.MaskedFill(m, double.NegativeInfinity);
        }
        if (attnMask is not null)
        {
            using var old = scores;
            if (attnMask.DType == DType.Bool) scores = old.MaskedFill(attnMask, double.NegativeInfinity);
            else if (attnMask.DType.IsFloatingPoint()) scores = old.Add(attnMask);
            else
            {
                using var b = attnMask.Ne(0);
                scores = old.MaskedFill(b, double.NegativeInfinity);
            }
        }
        Tensor probs;
        using (scores) probs = Softmax(scores, -1);
        weights = keepWeights ? probs.Share() : null;
        if (dropoutP > 0 && training)
        {
            using var old = probs;
            probs = Dropout(old, dropoutP, true, generator);
        }
        using (probs) return probs.MatMul(v);
    }
}
