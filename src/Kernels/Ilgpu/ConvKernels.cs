// Direct (one thread per output element) kernels for convolution, pooling, batch norm, resampling and padding.
// Inputs are contiguous NCHW (the host densifies strided views) at an element offset; arithmetic is in double
// through the dtype-coded loads, outputs F32 or F64. Window and resampling geometry comes from the same host
// tables the CPU backend builds, so both backends agree on every edge case by construction.
using ILGPU;

namespace Cuda.Nn.Kernels.Ilgpu;

public struct ConvArgs
{
    public int N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, Groups, OH, OW, Dt;
}

/// <summary>Planes of h x w cells pooled or resampled to oh x ow; table offsets into the int/double tables.</summary>
/// <summary>x and gy [N, C, inner] at element offsets, for the batch-norm backward kernels.</summary>
public struct ChannelArgs
{
    public int N, C, Inner, Dt;
    public long XOff, GOff;
}

public struct PlaneArgs
{
    public int H, W, OH, OW, DH, DW, Dt;
}

internal static class ConvKernels
{
    public static void AtomicAdd(ArrayView<byte> v, int dt, long i, double x)
    {
        if (dt == DeviceElem.F64) Atomic.Add(ref v.Cast<double>()[i], x);
        else Atomic.Add(ref v.Cast<float>()[i], (float)x);
    }

    public static void Conv2d(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> w, long wo, ArrayView<byte> b, long bo, int hasBias, ArrayView<byte> y, ConvArgs g)
    {
        int ow = i % g.OW, t = i / g.OW, oh = t % g.OH;
        t /= g.OH;
        int o = t % g.O, n = t / g.O;
        int cg = g.C / g.Groups, og = g.O / g.Groups, c0 = o / og * cg;
        double acc = hasBias != 0 ? DeviceElem.LoadD(b, g.Dt, bo + o) : 0;
        for (int c = 0; c < cg; c++)
            for (int kh = 0; kh < g.KH; kh++)
            {
                int ih = oh * g.SH - g.PH + kh * g.DH;
                if (ih < 0 || ih >= g.H) continue;
                long xr = xo + (((long)n * g.C + c0 + c) * g.H + ih) * g.W;
                long wr = wo + (((long)o * cg + c) * g.KH + kh) * g.KW;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int iw = ow * g.SW - g.PW + kw * g.DW;
                    if (iw < 0 || iw >= g.W) continue;
                    acc += DeviceElem.LoadD(x, g.Dt, xr + iw) * DeviceElem.LoadD(w, g.Dt, wr + kw);
                }
            }
        DeviceElem.StoreD(y, g.Dt, i, acc);
    }

    /// <summary>gx[n, c, h, w] = sum over the outputs whose windows read (h, w).</summary>
    public static void Conv2dBackwardData(Index1D i, ArrayView<byte> gy, long go, ArrayView<byte> w, long wo, ArrayView<byte> gx, ConvArgs g)
    {
        int iw = i % g.W, t = i / g.W, ih = t % g.H;
        t /= g.H;
        int c = t % g.C, n = t / g.C;
        int cg = g.C / g.Groups, og = g.O / g.Groups, grp = c / cg, cl = c - grp * cg;
        double acc = 0;
        for (int kh = 0; kh < g.KH; kh++)
        {
            int th = ih + g.PH - kh * g.DH;
            if (th < 0 || th % g.SH != 0 || th / g.SH >= g.OH) continue;
            int oh = th / g.SH;
            for (int kw = 0; kw < g.KW; kw++)
            {
                int tw = iw + g.PW - kw * g.DW;
                if (tw < 0 || tw % g.SW != 0 || tw / g.SW >= g.OW) continue;
                int ow = tw / g.SW;
                for (int o = grp * og; o < (grp + 1) * og; o++)
                    acc += DeviceElem.LoadD(gy, g.Dt, go + (((long)n * g.O + o) * g.OH + oh) * g.OW + ow)
                        * DeviceElem.LoadD(w, g.Dt, wo + (((long)o * cg + cl) * g.KH + kh) * g.KW + kw);
            }
        }
        DeviceElem.StoreD(gx, g.Dt, i, acc);
    }

    /// <summary>gw[o, c, kh, kw] = sum over n, oh, ow of gy * x at the tap.</summary>
    public static void Conv2dBackwardFilter(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> gy, long go, ArrayView<byte> gw, ConvArgs g)
    {
        int cg = g.C / g.Groups, og = g.O / g.Groups;
        int kw = i % g.KW, t = i / g.KW, kh = t % g.KH;
        t /= g.KH;
        int cl = t % cg, o = t / cg, c = o / og * cg + cl;
        double acc = 0;
        for (int n = 0; n < g.N; n++)
            for (int oh = 0; oh < g.OH; oh++)
            {
                int ih = oh * g.SH - g.PH + kh * g.DH;
                if (ih < 0 || ih >= g.H) continue;
                long xr = xo + (((long)n * g.C + c) * g.H + ih) * g.W;
                long gr = go + (((long)n * g.O + o) * g.OH + oh) * g.OW;
                for (int ow = 0; ow < g.OW; ow++)
                {
                    int iw = ow * g.SW - g.PW + kw * g.DW;
                    if (iw < 0 || iw >= g.W) continue;
                    acc += DeviceElem.LoadD(gy, g.Dt, gr + ow) * DeviceElem.LoadD(x, g.Dt, xr + iw);
                }
            }
        DeviceElem.StoreD(gw, g.Dt, i, acc);
    }

    public static void Conv2dBiasGrad(Index1D o, ArrayView<byte> gy, long go, ArrayView<byte> gb, ConvArgs g)
    {
        double acc = 0;
        long plane = (long)g.OH * g.OW;
        for (int n = 0; n < g.N; n++)
        {
            long b = go + ((long)n * g.O + o) * plane;
            for (long k = 0; k < plane; k++) acc += DeviceElem.LoadD(gy, g.Dt, b + k);
        }
        DeviceElem.StoreD(gb, g.Dt, o, acc);
    }

    // ---------- pooling over host-built window tables: ints [rowStart | rowCount | colStart | colCount], doubles [rowDiv | colDiv] ----------

    public static void MaxPool(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<long> idx, ArrayView<int> tab, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        int rs = tab[r], rc = tab[p.OH + r], cs = tab[2 * p.OH + j], cc = tab[2 * p.OH + p.OW + j];
        long xp = xo + (long)pl * p.H * p.W;
        double best = double.NegativeInfinity;
        long bi = (long)rs * p.W + cs;
        for (int a = 0, h = rs; a < rc; a++, h += p.DH)
            for (int b = 0, w = cs; b < cc; b++, w += p.DW)
            {
                double v = DeviceElem.LoadD(x, p.Dt, xp + (long)h * p.W + w);
                if (v > best || double.IsNaN(v)) { best = v; bi = (long)h * p.W + w; }
            }
        DeviceElem.StoreD(y, p.Dt, i, best);
        idx[i] = bi;
    }

    public static void MaxPoolBackward(Index1D i, ArrayView<byte> gy, long go, ArrayView<long> idx, ArrayView<byte> gx, int dt, int outPlane, int inPlane)
    {
        long k = idx[i];
        if (k < 0 || k >= inPlane) return; // indices come from the forward kernel; a foreign bad one is dropped
        AtomicAdd(gx, dt, (long)(i.X / outPlane) * inPlane + k, DeviceElem.LoadD(gy, dt, go + i.X));
    }

    public static void AvgPool(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> tab, ArrayView<double> div, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        int rs = tab[r], rc = tab[p.OH + r], cs = tab[2 * p.OH + j], cc = tab[2 * p.OH + p.OW + j];
        long xp = xo + (long)pl * p.H * p.W;
        double acc = 0;
        for (int h = rs; h < rs + rc; h++)
            for (int w = cs; w < cs + cc; w++) acc += DeviceElem.LoadD(x, p.Dt, xp + (long)h * p.W + w);
        DeviceElem.StoreD(y, p.Dt, i, acc / (div[r] * div[p.OH + j]));
    }

    public static void AvgPoolBackward(Index1D i, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> tab, ArrayView<double> div, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        int rs = tab[r], rc = tab[p.OH + r], cs = tab[2 * p.OH + j], cc = tab[2 * p.OH + p.OW + j];
        double v = DeviceElem.LoadD(gy, p.Dt, go + i.X) / (div[r] * div[p.OH + j]);
        long xp = (long)pl * p.H * p.W;
        for (int h = rs; h < rs + rc; h++)
            for (int w = cs; w < cs + cc; w++) AtomicAdd(gx, p.Dt, xp + (long)h * p.W + w, v);
    }

    // ---------- resampling: ints [rowI0 | rowI1 | colI0 | colI1], doubles [rowW0 | rowW1 | colW0 | colW1] ----------

    public static void Resample(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> tab, ArrayView<double> wt, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        long xp = xo + (long)pl * p.H * p.W;
        long r0 = xp + (long)tab[r] * p.W, r1 = xp + (long)tab[p.OH + r] * p.W;
        int c0 = tab[2 * p.OH + j], c1 = tab[2 * p.OH + p.OW + j];
        double a0 = wt[r], a1 = wt[p.OH + r], w0 = wt[2 * p.OH + j], w1 = wt[2 * p.OH + p.OW + j];
        double v = a0 * (w0 * DeviceElem.LoadD(x, p.Dt, r0 + c0) + w1 * DeviceElem.LoadD(x, p.Dt, r0 + c1))
            + a1 * (w0 * DeviceElem.LoadD(x, p.Dt, r1 + c0) + w1 * DeviceElem.LoadD(x, p.Dt, r1 + c1));
        DeviceElem.StoreD(y, p.Dt, i, v);
    }

    public static void ResampleBackward(Index1D i, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> tab, ArrayView<double> wt, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        long xp = (long)pl * p.H * p.W;
        long r0 = xp + (long)tab[r] * p.W, r1 = xp + (long)tab[p.OH + r] * p.W;
        int c0 = tab[2 * p.OH + j], c1 = tab[2 * p.OH + p.OW + j];
        double g = DeviceElem.LoadD(gy, p.Dt, go + i.X);
        double g0 = wt[r] * g, g1 = wt[p.OH + r] * g, w0 = wt[2 * p.OH + j], w1 = wt[2 * p.OH + p.OW + j];
        // Zero weights (nearest, edges) add nothing, so the duplicate taps they name are harmless.
        if (g0 * w0 != 0) AtomicAdd(gx, p.Dt, r0 + c0, g0 * w0);
        if (g0 * w1 != 0) AtomicAdd(gx, p.Dt, r0 + c1, g0 * w1);
        if (g1 * w0 != 0) AtomicAdd(gx, p.Dt, r1 + c0, g1 * w0);
        if (g1 * w1 != 0) AtomicAdd(gx, p.Dt, r1 + c1, g1 * w1);
    }

    // ---------- padding: ints [rowMap | colMap], -1 meaning the constant ----------

    public static void Pad(Index1D i, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> map, PlaneArgs p, double value)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        int sr = map[r], sc = map[p.OH + j];
        double v = sr < 0 || sc < 0 ? value : DeviceElem.LoadD(x, p.Dt, xo + ((long)pl * p.H + sr) * p.W + sc);
        DeviceElem.StoreD(y, p.Dt, i, v);
    }

    public static void PadBackward(Index1D i, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> map, PlaneArgs p)
    {
        int j = i % p.OW, t = i / p.OW, r = t % p.OH, pl = t / p.OH;
        int sr = map[r], sc = map[p.OH + j];
        if (sr >= 0 && sc >= 0) AtomicAdd(gx, p.Dt, ((long)pl * p.H + sr) * p.W + sc, DeviceElem.LoadD(gy, p.Dt, go + i.X));
    }

    // ---------- batch norm over x [N, C, inner] ----------

    /// <summary>Per channel: mean and biased variance (two passes, double sums like the CPU).</summary>
    public static void ChannelStats(Index1D c, ArrayView<byte> x, long xo, int n, int channels, int inner, int dt, ArrayView<byte> mean, ArrayView<byte> var)
    {
        long m = (long)n * inner;
        double sum = 0;
        for (int b = 0; b < n; b++)
        {
            long off = xo + ((long)b * channels + c) * inner;
            for (int k = 0; k < inner; k++) sum += DeviceElem.LoadD(x, dt, off + k);
        }
        double mu = m == 0 ? double.NaN : sum / m;
        // The CPU centres on mu rounded to the storage type; do the same.
        if (dt == DeviceElem.F32) mu = (float)mu;
        double sq = 0;
        for (int b = 0; b < n; b++)
        {
            long off = xo + ((long)b * channels + c) * inner;
            for (int k = 0; k < inner; k++) { double d = DeviceElem.LoadD(x, dt, off + k) - mu; sq += d * d; }
        }
        DeviceElem.StoreD(mean, dt, c, mu);
        DeviceElem.StoreD(var, dt, c, m == 0 ? double.NaN : sq / m);
    }

    public static void ChannelAffine(Index1D i, ArrayView<byte> x, long xo, int channels, int inner, int dt, ArrayView<byte> scale, ArrayView<byte> shift, ArrayView<byte> y)
    {
        int c = (int)(i / inner % channels);
        DeviceElem.StoreD(y, dt, i, DeviceElem.LoadD(x, dt, xo + i.X) * DeviceElem.LoadD(scale, dt, c) + DeviceElem.LoadD(shift, dt, c));
    }

    /// <summary>Per channel: sums[c] = sum(gy), sums[C + c] = sum(gy * xhat); ggamma/gbeta written when wanted.</summary>
    public static void BatchNormSums(Index1D c, ArrayView<byte> x, ArrayView<byte> gy, ChannelArgs a, ArrayView<byte> mean, ArrayView<byte> invstd,
        ArrayView<double> sums, ArrayView<byte> ggamma, ArrayView<byte> gbeta, int want)
    {
        double mu = DeviceElem.LoadD(mean, a.Dt, c), sg = 0, sgc = 0;
        for (int b = 0; b < a.N; b++)
        {
            long off = ((long)b * a.C + c) * a.Inner;
            for (int k = 0; k < a.Inner; k++)
            {
                double g = DeviceElem.LoadD(gy, a.Dt, a.GOff + off + k);
                sg += g;
                sgc += g * (DeviceElem.LoadD(x, a.Dt, a.XOff + off + k) - mu);
            }
        }
        double sgx = sgc * DeviceElem.LoadD(invstd, a.Dt, c);
        sums[c] = sg;
        sums[a.C + c] = sgx;
        if ((want & 1) != 0) DeviceElem.StoreD(ggamma, a.Dt, c, sgx);
        if ((want & 2) != 0) DeviceElem.StoreD(gbeta, a.Dt, c, sg);
    }

    public static void BatchNormGradInput(Index1D i, ArrayView<byte> x, ArrayView<byte> gy, ChannelArgs a, ArrayView<byte> mean, ArrayView<byte> invstd,
        ArrayView<byte> gamma, int hasGamma, int training, ArrayView<double> sums, ArrayView<byte> gx)
    {
        int c = (int)(i / a.Inner % a.C);
        double istd = DeviceElem.LoadD(invstd, a.Dt, c);
        double k = (hasGamma != 0 ? DeviceElem.LoadD(gamma, a.Dt, c) : 1.0) * istd;
        double g = DeviceElem.LoadD(gy, a.Dt, a.GOff + i.X);
        if (training != 0)
        {
            double m = (double)a.N * a.Inner;
            double xhat = (DeviceElem.LoadD(x, a.Dt, a.XOff + i.X) - DeviceElem.LoadD(mean, a.Dt, c)) * istd;
            g -= (sums[c] + xhat * sums[a.C + c]) / m;
        }
        DeviceElem.StoreD(gx, a.Dt, i, k * g);
    }
}
