// Pooling and per-channel (batch-norm) kernels on contiguous NCHW planes.
using System.Numerics;
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuPool
{
    public static void MaxForward<T>(T* x, T* y, long* idx, PoolGeometry p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(p.N * p.C, 1, (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                T* plane = x + (long)nc * p.H * p.W;
                T* dst = y + (long)nc * p.OH * p.OW;
                long* di = idx + (long)nc * p.OH * p.OW;
                for (int oy = 0; oy < p.OH; oy++)
                {
                    int y0 = oy * p.SH - p.PH, y1 = Math.Min(y0 + p.KH, p.H);
                    y0 = Math.Max(y0, 0);
                    for (int ox = 0; ox < p.OW; ox++)
                    {
                        int x0 = ox * p.SW - p.PW, x1 = Math.Min(x0 + p.KW, p.W);
                        x0 = Math.Max(x0, 0);
                        T best = T.NegativeInfinity;
                        long bi = (long)y0 * p.W + x0;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++)
                            {
                                T v = plane[(long)iy * p.W + ix];
                                if (v > best || T.IsNaN(v)) { best = v; bi = (long)iy * p.W + ix; if (T.IsNaN(v)) goto done; }
                            }
                        done:
                        dst[oy * p.OW + ox] = best;
                        di[oy * p.OW + ox] = bi;
                    }
                }
            }
        });
    }

    public static void MaxBackward<T>(T* gy, long* idx, T* gx, PoolGeometry p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(p.N * p.C, 1, (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                T* dst = gx + (long)nc * p.H * p.W;
                new Span<T>(dst, p.H * p.W).Clear();
                T* src = gy + (long)nc * p.OH * p.OW;
                long* si = idx + (long)nc * p.OH * p.OW;
                for (int i = 0; i < p.OH * p.OW; i++) dst[si[i]] += src[i];
            }
        });
    }

    private static int Divisor(PoolGeometry p, int oy, int ox, bool countIncludePad)
    {
        int y0 = oy * p.SH - p.PH, x0 = ox * p.SW - p.PW;
        int y1 = Math.Min(y0 + p.KH, p.H + p.PH), x1 = Math.Min(x0 + p.KW, p.W + p.PW);
        if (countIncludePad) return (y1 - y0) * (x1 - x0);
        return (Math.Min(y1, p.H) - Math.Max(y0, 0)) * (Math.Min(x1, p.W) - Math.Max(x0, 0));
    }

    public static void AvgForward<T>(T* x, T* y, PoolGeometry p, bool countIncludePad) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(p.N * p.C, 1, (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                T* plane = x + (long)nc * p.H * p.W;
                T* dst = y + (long)nc * p.OH * p.OW;
                for (int oy = 0; oy < p.OH; oy++)
                    for (int ox = 0; ox < p.OW; ox++)
                    {
                        int y0 = Math.Max(oy * p.SH - p.PH, 0), y1 = Math.Min(oy * p.SH - p.PH + p.KH, p.H);
                        int x0 = Math.Max(ox * p.SW - p.PW, 0), x1 = Math.Min(ox * p.SW - p.PW + p.KW, p.W);
                        T sum = T.Zero;
                        for (int iy = y0; iy < y1; iy++) for (int ix = x0; ix < x1; ix++) sum += plane[(long)iy * p.W + ix];
                        int d = Divisor(p, oy, ox, countIncludePad);
                        dst[oy * p.OW + ox] = d == 0 ? T.Zero : sum / T.CreateChecked(d);
                    }
            }
        });
    }

    public static void AvgBackward<T>(T* gy, T* gx, PoolGeometry p, bool countIncludePad) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(p.N * p.C, 1, (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                T* dst = gx + (long)nc * p.H * p.W;
                new Span<T>(dst, p.H * p.W).Clear();
                T* src = gy + (long)nc * p.OH * p.OW;
                for (int oy = 0; oy < p.OH; oy++)
                    for (int ox = 0; ox < p.OW; ox++)
                    {
                        int d = Divisor(p, oy, ox, countIncludePad);
                        if (d == 0) continue;
                        T g = src[oy * p.OW + ox] / T.CreateChecked(d);
                        int y0 = Math.Max(oy * p.SH - p.PH, 0), y1 = Math.Min(oy * p.SH - p.PH + p.KH, p.H);
                        int x0 = Math.Max(ox * p.SW - p.PW, 0), x1 = Math.Min(ox * p.SW - p.PW + p.KW, p.W);
                        for (int iy = y0; iy < y1; iy++) for (int ix = x0; ix < x1; ix++) dst[(long)iy * p.W + ix] += g;
                    }
            }
        });
    }

    public static void ChannelStats<T>(T* x, int n, int c, int hw, T* mean, T* variance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(c, 1, (s, e) =>
        {
            for (int ch = s; ch < e; ch++)
            {
                // Accumulate in double: a channel of a large batch sums 10^5-10^6 values.
                double sum = 0;
                for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(x + ((long)i * c + ch) * hw, hw)));
                long m = (long)n * hw;
                double mu = m == 0 ? 0 : sum / m;
                double sq = 0;
                T tmu = T.CreateTruncating(mu);
                for (int i = 0; i < n; i++)
                {
                    var plane = new ReadOnlySpan<T>(x + ((long)i * c + ch) * hw, hw);
                    T acc = T.Zero;
                    foreach (var v in plane) { T d = v - tmu; acc += d * d; }
                    sq += double.CreateTruncating(acc);
                }
                mean[ch] = tmu;
                variance[ch] = T.CreateTruncating(m == 0 ? 0 : sq / m);
            }
        });
    }

    public static void ChannelAffine<T>(T* x, int n, int c, int hw, T* scale, T* shift, T* y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(n * c, Math.Max(1, CpuElementwise.ParallelThreshold / Math.Max(1, hw)), (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                int ch = nc % c;
                var src = new ReadOnlySpan<T>(x + (long)nc * hw, hw);
                var dst = new Span<T>(y + (long)nc * hw, hw);
                TensorPrimitives.Multiply(src, scale[ch], dst);
                TensorPrimitives.Add(dst, shift[ch], dst);
            }
        });
    }

    public static void ChannelGradSums<T>(T* x, T* gy, int n, int c, int hw, T* mean, T* rstd, T* sumGy, T* sumGyXhat) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(c, 1, (s, e) =>
        {
            for (int ch = s; ch < e; ch++)
            {
                double sg = 0, sgx = 0;
                for (int i = 0; i < n; i++)
                {
                    var g = new ReadOnlySpan<T>(gy + ((long)i * c + ch) * hw, hw);
                    var xv = new ReadOnlySpan<T>(x + ((long)i * c + ch) * hw, hw);
                    T gs = TensorPrimitives.Sum(g);
                    T dot = TensorPrimitives.Dot(g, xv);
                    sg += double.CreateTruncating(gs);
                    sgx += double.CreateTruncating(dot);
                }
                // sum(gy * (x - mean)) * rstd = (sum(gy x) - mean sum(gy)) * rstd
                sumGy[ch] = T.CreateTruncating(sg);
                sumGyXhat[ch] = T.CreateTruncating((sgx - double.CreateTruncating(mean[ch]) * sg) * double.CreateTruncating(rstd[ch]));
            }
        });
    }
}
