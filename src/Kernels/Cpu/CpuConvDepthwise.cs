// Direct depthwise convolution (groups == C; O = m C, output channel o reads input channel o / m), NCHW.
// One output plane per parallel item. Inside a plane the interior columns (every tap in bounds) of a stride-1
// row are computed a vector of outputs at a time with all KH x KW taps accumulated in a register and stored once;
// border columns and other strides take the scalar path. Backward-data with stride 1 is the same kernel run on
// gy with the kernel flipped and padding d(k-1) - p; backward-filter is one dot product per tap and row.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConvDepthwise
{
    /// <summary>Shape of one plane-to-plane correlation.</summary>
    private readonly record struct Plane(int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW);

    public static void Forward<T>(T* x, T* w, T* b, T* y, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        var pl = new Plane(g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW);
        CpuWorkers.For(g.N * g.O, idx =>
        {
            int n = idx / g.O, o = idx % g.O;
            T* xp = x + ((long)n * g.C + o / m) * hw;
            Correlate(xp, w + (long)o * kk, b == null ? T.Zero : b[o], false, y + (long)idx * p, pl);
        });
    }

    public static void BackwardData<T>(T* gy, T* w, T* gx, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        int qh = g.DH * (g.KH - 1) - g.PH, qw = g.DW * (g.KW - 1) - g.PW;
        bool flipped = g.SH == 1 && g.SW == 1 && qh >= 0 && qw >= 0;
        var pl = new Plane(g.OH, g.OW, g.H, g.W, g.KH, g.KW, 1, 1, qh, qw, g.DH, g.DW);
        CpuWorkers.For(g.N * g.C, idx =>
        {
            int n = idx / g.C, c = idx % g.C;
            T* gxp = gx + (long)idx * hw;
            if (flipped)
            {
                T* wf = stackalloc T[kk];
                for (int j = 0; j < m; j++)
                {
                    int o = c * m + j;
                    T* wo = w + (long)o * kk;
                    for (int t = 0; t < kk; t++) wf[t] = wo[kk - 1 - t];
                    Correlate(gy + ((long)n * g.O + o) * p, wf, T.Zero, j > 0, gxp, pl);
                }
                return;
            }
            new Span<T>(gxp, hw).Clear();
            for (int j = 0; j < m; j++)
            {
                int o = c * m + j;
                T* wo = w + (long)o * kk;
                T* gyp = gy + ((long)n * g.O + o) * p;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        T wv = wo[kh * g.KW + kw];
                        int off = kw * g.DW - g.PW;
                        var (lo, hi) = CpuConv.ValidRange(off, g.SW, g.OW, g.W);
                        for (int oh = 0; oh < g.OH; oh++)
                        {
                            int ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)ih >= (uint)g.H) continue;
                            T* src = gyp + (long)oh * g.OW;
                            T* dst = gxp + (long)ih * g.W + off;
                            for (int ow = lo; ow < hi; ow++) dst[(long)ow * g.SW] += wv * src[ow];
                        }
                    }
            }
        });
    }

    public static void BackwardFilter<T>(T* x, T* gy, T* gw, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        CpuWorkers.For(g.O, o =>
        {
            int c = o / m;
            for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int off = kw * g.DW - g.PW;
                    var (lo, hi) = CpuConv.ValidRange(off, g.SW, g.OW, g.W);
                    double acc = 0;
                    if (hi > lo)
                        for (int n = 0; n < g.N; n++)
                        {
                            T* xp = x + ((long)n * g.C + c) * hw;
                            T* gyp = gy + ((long)n * g.O + o) * p;
                            // Vector accumulators run over all rows of the image; one horizontal sum per image.
                            var dot = new DotAccumulator<T>();
                            for (int oh = 0; oh < g.OH; oh++)
                            {
                                int ih = oh * g.SH - g.PH + kh * g.DH;
                                if ((uint)ih >= (uint)g.H) continue;
                                T* a = gyp + (long)oh * g.OW + lo;
                                T* bx = xp + (long)ih * g.W + off + (long)lo * g.SW;
                                if (g.SW == 1) dot.Add(a, bx, hi - lo);
                                else dot.Scalar += DotStrided(a, bx, g.SW, hi - lo);
                            }
                            acc += double.CreateTruncating(dot.Total());
                        }
                    gw[(long)o * kk + kh * g.KW + kw] = T.CreateTruncating(acc);
                }
        });
    }

    /// <summary>
    /// y[oh, ow] (= or +=) bias + sum over taps of k[kh, kw] * x[oh sH - pH + kh dH, ow sW - pW + kw dW] for one plane.
    /// </summary>
    private static void Correlate<T>(T* x, T* k, T bias, bool accumulate, T* y, in Plane s) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        // Interior columns: every tap of the row in bounds.
        int a = Math.Min(s.OW, (s.PW + s.SW - 1) / s.SW);
        int lastSpan = s.W - 1 + s.PW - (s.KW - 1) * s.DW;
        int bEnd = lastSpan < 0 ? 0 : Math.Min(s.OW, lastSpan / s.SW + 1);
        bEnd = Math.Max(a, bEnd);
        for (int oh = 0; oh < s.OH; oh++)
        {
            T* yr = y + (long)oh * s.OW;
            int ih0 = oh * s.SH - s.PH;
            // Rows of the kernel that fall inside the input.
            int khLo = ih0 >= 0 ? 0 : (-ih0 + s.DH - 1) / s.DH;
            int khHi = s.H - 1 - ih0 < 0 ? 0 : Math.Min(s.KH, (s.H - 1 - ih0) / s.DH + 1);
            for (int ow = 0; ow < a; ow++) yr[ow] = Edge(x, k, bias, accumulate ? yr[ow] : T.Zero, s, ih0, khLo, khHi, ow);
            int ow0 = a;
            if (s.SW == 1 && khHi > khLo) ow0 = Interior(x, k, bias, accumulate, yr, s, ih0, khLo, khHi, a, bEnd);
            for (int ow = ow0; ow < bEnd; ow++)
            {
                T acc = accumulate ? yr[ow] + bias : bias;
                int iw0 = ow * s.SW - s.PW;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = x + (long)(ih0 + kh * s.DH) * s.W + iw0;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc += kr[kw] * xr[kw * s.DW];
                }
                yr[ow] = acc;
            }
            for (int ow = bEnd; ow < s.OW; ow++) yr[ow] = Edge(x, k, bias, accumulate ? yr[ow] : T.Zero, s, ih0, khLo, khHi, ow);
        }
    }

    /// <summary>One output with bounds checks on the columns (border outputs).</summary>
    private static T Edge<T>(T* x, T* k, T bias, T start, in Plane s, int ih0, int khLo, int khHi, int ow) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T acc = start + bias;
        int iw0 = ow * s.SW - s.PW;
        for (int kh = khLo; kh < khHi; kh++)
        {
            T* xr = x + (long)(ih0 + kh * s.DH) * s.W;
            for (int kw = 0; kw < s.KW; kw++)
            {
                int iw = iw0 + kw * s.DW;
                if ((uint)iw < (uint)s.W) acc += k[kh * s.KW + kw] * xr[iw];
            }
        }
        return acc;
    }

    /// <summary>Stride-1 interior columns [a, b) a vector at a time; returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Interior<T>(T* x, T* k, T bias, bool accumulate, T* yr, in Plane s, int ih0, int khLo, int khHi, int a, int b) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int ow = a;
        T* xbase = x + (long)ih0 * s.W - s.PW;
        if (Vector512.IsHardwareAccelerated)
        {
            int vn = Vector512<T>.Count;
            var vb = Vector512.Create(bias);
            for (; ow + vn <= b; ow += vn)
            {
                var acc = accumulate ? Vector512.Load(yr + ow) + vb : vb;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = xbase + (long)kh * s.DH * s.W + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc += Vector512.Create(kr[kw]) * Vector512.Load(xr + kw * s.DW);
                }
                acc.Store(yr + ow);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            int vn = Vector256<T>.Count;
            var vb = Vector256.Create(bias);
            for (; ow + vn <= b; ow += vn)
            {
                var acc = accumulate ? Vector256.Load(yr + ow) + vb : vb;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = xbase + (long)kh * s.DH * s.W + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc += Vector256.Create(kr[kw]) * Vector256.Load(xr + kw * s.DW);
                }
                acc.Store(yr + ow);
            }
        }
        return ow;
    }

    private static T DotStrided<T>(T* a, T* b, int stride, int n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int i = 0; i < n; i++) sum += a[i] * b[(long)i * stride];
        return sum;
    }
}

/// <summary>Running dot product: vector partial sums kept across calls, reduced once by Total().</summary>
internal struct DotAccumulator<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    private Vector512<T> _v512;
    private Vector256<T> _v256;
    public T Scalar;

    public unsafe void Add(T* a, T* b, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count) _v512 += Vector512.Load(a + i) * Vector512.Load(b + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count) _v256 += Vector256.Load(a + i) * Vector256.Load(b + i);
        for (; i < n; i++) Scalar += a[i] * b[i];
    }

    public readonly T Total() => Vector512.Sum(_v512) + Vector256.Sum(_v256) + Scalar;
}
