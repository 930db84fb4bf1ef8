// Indexing (index_select, gather, scatter_add), Philox random fills and fused optimizer steps.
using ILGPU;

namespace Cuda.Nn.Kernels.Ilgpu;

internal static class IndexKernels
{
    /// <summary>dst [outer, n, inner] = src [outer, mid, inner] rows picked by idx; indices were range-checked on the host.</summary>
    public static void IndexSelect(Index1D i, ArrayView<byte> s, long sOff, int mid, int inner, int n, ArrayView<byte> idx, int idt, long idxOff, ArrayView<byte> d, int es)
    {
        long t = i / inner;
        int ii = (int)(i % inner), j = (int)(t % n);
        long o = t / n, v = DeviceElem.LoadL(idx, idt, idxOff + j);
        if (v < 0) v += mid;
        DeviceElem.CopyBits(s, sOff + (o * mid + v) * inner + ii, d, i, es);
    }

    /// <summary>Offset into a 6-dim padded target of the index position i (row-major over shape), with the
    /// coordinate along dim replaced by v.</summary>
    private static long IndexedOffset(long i, Shape6 sh, Strides6 st, int dim, long v)
    {
        long o = st.Offset, r = i;
        for (int k = 5; k >= 0; k--)
        {
            int size = k == 0 ? sh.D0 : k == 1 ? sh.D1 : k == 2 ? sh.D2 : k == 3 ? sh.D3 : k == 4 ? sh.D4 : sh.D5;
            int stride = k == 0 ? st.S0 : k == 1 ? st.S1 : k == 2 ? st.S2 : k == 3 ? st.S3 : k == 4 ? st.S4 : st.S5;
            long c = r % size;
            r /= size;
            o += (k == dim ? v : c) * stride;
        }
        return o;
    }

    public static void Gather(Index1D i, ArrayView<byte> s, Strides6 ss, Shape6 ishape, int dim, int size, ArrayView<byte> idx, int idt, long idxOff, ArrayView<byte> d, int es)
    {
        long v = DeviceElem.LoadL(idx, idt, idxOff + i);
        if (v < 0) v += size;
        DeviceElem.CopyBits(s, IndexedOffset(i, ishape, ss, dim, v), d, i, es);
    }

    public static void ScatterAdd(Index1D i, ArrayView<byte> d, int dt, Strides6 ds, Shape6 ishape, int dim, int size, ArrayView<byte> idx, int idt, long idxOff,
        ArrayView<byte> s, Strides6 ss)
    {
        long v = DeviceElem.LoadL(idx, idt, idxOff + i);
        if (v < 0) v += size;
        long o = IndexedOffset(i, ishape, ds, dim, v), so = ss.At(i, ishape);
        switch (dt)
        {
            case DeviceElem.F32: Atomic.Add(ref d.Cast<float>()[o], s.Cast<float>()[so]); break;
            case DeviceElem.F64: Atomic.Add(ref d.Cast<double>()[o], s.Cast<double>()[so]); break;
            case DeviceElem.I64: Atomic.Add(ref d.Cast<long>()[o], s.Cast<long>()[so]); break;
            default: Atomic.Add(ref d.Cast<int>()[o], s.Cast<int>()[so]); break;
        }
    }

    // ---------- Philox4x32-10 (the CPU's Philox, so both produce the same stream) ----------

    private static uint PhiloxAt(ulong seed, ulong index)
    {
        ulong counter = index >> 2;
        uint c0 = (uint)counter, c1 = (uint)(counter >> 32), c2 = 0, c3 = 0;
        uint k0 = (uint)seed, k1 = (uint)(seed >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = 0xD2511F53UL * c0, p1 = 0xCD9E8D57UL * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        int lane = (int)(index & 3);
        return lane == 0 ? c0 : lane == 1 ? c1 : lane == 2 ? c2 : c3;
    }

    public static void FillRandom(Index1D i, ArrayView<byte> d, int dt, ulong seed, ulong offset, int normal, double low, double high, int uniformBits)
    {
        double v;
        if (normal == 0)
        {
            uint u = PhiloxAt(seed, offset + (ulong)i.X);
            v = low + (high - low) * ((u >> (32 - uniformBits)) * (1.0 / (1L << uniformBits)));
        }
        else
        {
            ulong j = offset + 2 * (ulong)i.X;
            double u1 = 1.0 - (PhiloxAt(seed, j) >> 8) * (1.0 / (1 << 24));
            double u2 = (PhiloxAt(seed, j + 1) >> 8) * (1.0 / (1 << 24));
            v = low + high * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
        }
        DeviceElem.StoreD(d, dt, i, v);
    }

    // ---------- optimizers (F32, the CPU's float arithmetic in the same order) ----------

    public static void Sgd(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> buf, int hasBuf, float lr, float mu, float damp, float wd, int nesterov, int first)
    {
        float gi = g[i];
        if (wd != 0) gi += wd * p[i];
        if (hasBuf != 0)
        {
            float b = first != 0 ? gi : mu * buf[i] + damp * gi;
            buf[i] = b;
            gi = nesterov != 0 ? gi + mu * b : b;
        }
        p[i] -= lr * gi;
    }

    public static void Adam(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamArgs a)
    {
        float gi = g[i];
        if (a.Decoupled != 0) { if (a.Wd != 0) p[i] *= a.Decay; }
        else if (a.Wd != 0) gi += a.Wd * p[i];
        float mi = a.B1 * m[i] + (1 - a.B1) * gi;
        float vi = a.B2 * v[i] + (1 - a.B2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= a.StepSize * mi / (MathF.Sqrt(vi) / a.Bc2Sqrt + a.Eps);
    }
}

public struct AdamArgs
{
    public float StepSize, Bc2Sqrt, B1, B2, Eps, Wd, Decay;
    public int Decoupled;
}
