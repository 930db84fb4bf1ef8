// erf and exact (erf-form) GELU in F32, vectorised, for ViT's GELUs: the float64 series in ScalarMath cost 20 ns per
// element (37 of vit_t_16's 48 ms at batch 1). For |x| >= 1 it is Abramowitz & Stegun 7.1.26,
//   erf|x| = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) exp(-x^2),  t = 1 / (1 + p |x|),
// (absolute error under 1.5e-7, where erf is above 0.84: about one F32 rounding; PyTorch's vectorised CPU erf uses
// the same formula); below 1 the Maclaurin series to x^23 (relative error under 1e-8, so small inputs keep their
// relative accuracy, which the A&S form loses: 10% at 1e-6). F64 keeps ScalarMath's series (double precision).
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class FastErf
{
    private const float P = 0.3275911f, A1 = 0.254829592f, A2 = -0.284496736f, A3 = 1.421413741f, A4 = -1.453152027f, A5 = 1.061405429f;
    private const float InvSqrt2 = 0.70710678118654752f, TwoOverSqrtPi = 1.12837916709551257f, InvSqrt2Pi = 0.39894228040143268f;

    /// <summary>erf(x) = x (c0 + c1 x^2 + ... + c11 x^22) for |x| &lt; 1: c_n = 2/sqrt(pi) (-1)^n / (n! (2n + 1)).</summary>
    private static readonly float[] Series = [.. Enumerable.Range(0, 12).Select(n =>
        (float)(1.1283791670955126 * (n % 2 == 0 ? 1 : -1) / (Enumerable.Range(1, n).Aggregate(1.0, (f, k) => f * k) * (2 * n + 1))))];

    /// <summary>Elements per pass through the temporaries (on the stack).</summary>
    private const int Chunk = 512;

    /// <summary>y = erf(s x) for one chunk (s scales the input first: 1 for erf, 1/sqrt 2 for GELU).</summary>
    private static void ErfChunk(ReadOnlySpan<float> x, Span<float> y, float s, Span<float> t, Span<float> e)
    {
        int n = x.Length;
        TensorPrimitives.Multiply(x, s, y);                    // y = s x
        TensorPrimitives.Abs(y, t);                            // t = |s x|
        TensorPrimitives.Multiply(t, t, e);                    // e = x^2
        TensorPrimitives.Negate(e, e);
        TensorPrimitives.Exp(e, e);                            // e = exp(-x^2)
        TensorPrimitives.Multiply(t, P, t);
        TensorPrimitives.Add(t, 1f, t);                        // t = 1 + p |x|
        TensorPrimitives.Reciprocal(t, t);                     // t = 1 / (1 + p |x|)
        var c = Series;
        for (int i = 0; i < n; i++)
        {
            float v = y[i];
            if (MathF.Abs(v) < 1f)
            {
                float v2 = v * v, sum = c[11];
                for (int k = 10; k >= 0; k--) sum = sum * v2 + c[k];
                y[i] = v * sum;
                continue;
            }
            float ti = t[i];
            float poly = ((((A5 * ti + A4) * ti + A3) * ti + A2) * ti + A1) * ti;
            y[i] = float.CopySign(1f - poly * e[i], v);        // NaN stays NaN (poly is NaN)
        }
    }

    public static void Erf(float* x, float* y, int n)
    {
        Span<float> t = stackalloc float[Chunk], e = stackalloc float[Chunk];
        for (int s = 0; s < n; s += Chunk)
        {
            int len = Math.Min(Chunk, n - s);
            ErfChunk(new ReadOnlySpan<float>(x + s, len), new Span<float>(y + s, len), 1f, t[..len], e[..len]);
        }
    }

    /// <summary>gelu(x) = x (1 + erf(x / sqrt 2)) / 2.</summary>
    public static void Gelu(float* x, float* y, int n)
    {
        Span<float> t = stackalloc float[Chunk], e = stackalloc float[Chunk];
        for (int s = 0; s < n; s += Chunk)
        {
            int len = Math.Min(Chunk, n - s);
            var xs = new ReadOnlySpan<float>(x + s, len);
            var ys = new Span<float>(y + s, len);
            ErfChunk(xs, ys, InvSqrt2, t[..len], e[..len]);
            for (int i = 0; i < len; i++) ys[i] = 0.5f * xs[i] * (1f + ys[i]);
        }
    }

    /// <summary>gx = gy 2/sqrt(pi) exp(-x^2).</summary>
    public static void ErfBackward(float* x, float* gy, float* gx, int n)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        var g = new Span<float>(gx, n);
        TensorPrimitives.Multiply(xs, xs, g);
        TensorPrimitives.Negate(g, g);
        TensorPrimitives.Exp(g, g);
        TensorPrimitives.Multiply(g, TwoOverSqrtPi, g);
        TensorPrimitives.Multiply(g, new ReadOnlySpan<float>(gy, n), g);
    }

    /// <summary>gx = gy ((1 + erf(x / sqrt 2)) / 2 + x exp(-x^2 / 2) / sqrt(2 pi)).</summary>
    public static void GeluBackward(float* x, float* gy, float* gx, int n)
    {
        Span<float> t = stackalloc float[Chunk], e = stackalloc float[Chunk];
        for (int s = 0; s < n; s += Chunk)
        {
            int len = Math.Min(Chunk, n - s);
            var xs = new ReadOnlySpan<float>(x + s, len);
            var g = new Span<float>(gx + s, len);
            ErfChunk(xs, g, InvSqrt2, t[..len], e[..len]);     // g = erf(x / sqrt 2); e = exp(-x^2 / 2)
            for (int i = 0; i < len; i++) g[i] = gy[s + i] * (0.5f * (1f + g[i]) + xs[i] * InvSqrt2Pi * e[i]);
        }
    }
}
