// Packing of op(A) and op(B) into the k-major micro-panels the micro-kernels read. Panels are
// zero-padded to full MR / NR so the kernels never branch on edges; transposes are absorbed here.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs rows [i0, i0+mc) and depth [p0, p0+kc) of op(A) as ceil(mc/mr) panels of kc x mr floats:
    /// dst[panel][p * mr + i] = op(A)[i0 + panel*mr + i, p0 + p].
    /// </summary>
    public static void PackA(bool trans, float* a, nint lda, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int ip = 0; ip < mc; ip += mr, dst += (nint)mr * kc)
        {
            int rows = Math.Min(mr, mc - ip);
            if (trans)
            {
                // A is [k, m]: a panel's rows for one p are contiguous.
                float* src = a + (nint)p0 * lda + i0 + ip;
                for (int p = 0; p < kc; p++, src += lda) CopyPad(dst + (nint)p * mr, src, rows, mr);
            }
            else if (rows == mr && mr <= 16 && Vector256.IsHardwareAccelerated)
                PackARowsVector(a + (nint)(i0 + ip) * lda + p0, lda, kc, mr, dst);
            else
            {
                // A is [m, k]: read each row sequentially, write with stride mr.
                for (int i = 0; i < rows; i++)
                {
                    float* src = a + (nint)(i0 + ip + i) * lda + p0;
                    float* d = dst + i;
                    for (int p = 0; p < kc; p++) d[(nint)p * mr] = src[p];
                }
                for (int i = rows; i < mr; i++)
                    for (int p = 0; p < kc; p++) dst[(nint)p * mr + i] = 0f;
            }
        }
    }

    /// <summary>Floats a packed-A buffer needs past its end: PackARowsVector's 8-wide stores may overrun.</summary>
    public const int PackASlack = 16;

    /// <summary>
    /// Full panel of a row-major A: 8x8 transposes of (up to) 8 rows x 8 k. Each transpose stores 8 floats
    /// per k even when the row group is narrower; the overrun lands on the next k's first slots, which a
    /// later store (the low row group, the next k block or the scalar tail) overwrites, or in the slack.
    /// </summary>
    private static void PackARowsVector(float* src, nint lda, int kc, int mr, float* dst)
    {
        int hi = mr > 8 ? 8 : 0; // first row of the upper group
        int lo = Math.Min(mr, 8) - 1;
        int p = 0;
        // 16 k at a time so each source cache line is consumed at once: rows lda apart often share an
        // L1 set (lda a multiple of 1024 floats), so a half-used line would be evicted before its reuse.
        for (; p + 16 <= kc; p += 16)
        {
            float* d = dst + (nint)p * mr;
            if (hi > 0)
            {
                Transpose8Rows(src + p, lda, hi, mr - 1, d + hi, mr);
                Transpose8Rows(src + p + 8, lda, hi, mr - 1, d + 8 * mr + hi, mr);
            }
            Transpose8Rows(src + p, lda, 0, lo, d, mr);
            Transpose8Rows(src + p + 8, lda, 0, lo, d + 8 * mr, mr);
        }
        for (; p + 8 <= kc; p += 8)
        {
            float* d = dst + (nint)p * mr;
            if (hi > 0) Transpose8Rows(src + p, lda, hi, mr - 1, d + hi, mr);
            Transpose8Rows(src + p, lda, 0, lo, d, mr);
        }
        for (; p < kc; p++)
            for (int i = 0; i < mr; i++) dst[(nint)p * mr + i] = src[i * lda + p];
    }

    /// <summary>Transposes rows r0..r0+7 (rows past last repeat row last) x 8 columns into dst[col * ldd + row - r0].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8Rows(float* src, nint lds, int r0, int last, float* dst, nint ldd)
    {
        Vector256<float> v0 = Vector256.Load(src + Math.Min(r0, last) * lds), v1 = Vector256.Load(src + Math.Min(r0 + 1, last) * lds);
        Vector256<float> v2 = Vector256.Load(src + Math.Min(r0 + 2, last) * lds), v3 = Vector256.Load(src + Math.Min(r0 + 3, last) * lds);
        Vector256<float> v4 = Vector256.Load(src + Math.Min(r0 + 4, last) * lds), v5 = Vector256.Load(src + Math.Min(r0 + 5, last) * lds);
        Vector256<float> v6 = Vector256.Load(src + Math.Min(r0 + 6, last) * lds), v7 = Vector256.Load(src + Math.Min(r0 + 7, last) * lds);
        Transpose8x8(v0, v1, v2, v3, v4, v5, v6, v7, dst, ldd);
    }

    /// <summary>
    /// Packs panels [panel0, panel1) of columns [j0, j0+nc) and depth [p0, p0+kc) of op(B) as kc x nr
    /// blocks: dst[panel][p * nr + j] = op(B)[p0 + p, j0 + panel*nr + j]. dst points at panel 0. A partial
    /// panel is zero-padded only up to a multiple of padStep (the edge kernels' width; 0 = to nr).
    /// </summary>
    public static void PackB(bool trans, float* b, nint ldb, int j0, int nc, int p0, int kc, int nr, int padStep, int panel0, int panel1, float* dst)
    {
        for (int panel = panel0; panel < panel1; panel++)
        {
            int jp = panel * nr;
            int cols = Math.Min(nr, nc - jp);
            int width = padStep > 0 ? Math.Min(nr, (cols + padStep - 1) / padStep * padStep) : nr;
            float* d = dst + (nint)panel * nr * kc;
            if (!trans)
            {
                // B is [k, n]: one row of the panel is a contiguous run of cols floats.
                float* src = b + (nint)p0 * ldb + j0 + jp;
                for (int p = 0; p < kc; p++, src += ldb) CopyPad(d + (nint)p * nr, src, cols, width);
            }
            else
            {
                // B is [n, k]: each panel column is a contiguous row of B; transpose 8x8 blocks
                // when possible so reads and writes both stay vectorised.
                int j = 0;
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; j + 8 <= cols; j += 8)
                    {
                        float* src = b + (nint)(j0 + jp + j) * ldb + p0;
                        int p = 0;
                        for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, ldb, d + (nint)p * nr + j, nr);
                        for (; p < kc; p++)
                            for (int jj = 0; jj < 8; jj++) d[(nint)p * nr + j + jj] = src[jj * ldb + p];
                    }
                }
                for (; j < cols; j++)
                {
                    float* src = b + (nint)(j0 + jp + j) * ldb + p0;
                    for (int p = 0; p < kc; p++) d[(nint)p * nr + j] = src[p];
                }
                if (cols < width)
                    for (int p = 0; p < kc; p++)
                        for (int jj = cols; jj < width; jj++) d[(nint)p * nr + jj] = 0f;
            }
        }
    }

    /// <summary>dst[c * ldd + r] = src[r * lds + c] for an 8x8 block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint lds, float* dst, nint ldd) =>
        Transpose8x8(Vector256.Load(src), Vector256.Load(src + lds), Vector256.Load(src + 2 * lds), Vector256.Load(src + 3 * lds),
            Vector256.Load(src + 4 * lds), Vector256.Load(src + 5 * lds), Vector256.Load(src + 6 * lds), Vector256.Load(src + 7 * lds), dst, ldd);

    /// <summary>Stores the transpose of the 8x8 block whose rows are r0..r7: dst[c * ldd + r] = r_r[c].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* dst, nint ldd)
    {
        // Interleave pairs, then quads, then swap 128-bit halves (the classic unpack/shuffle/permute2f128 transpose).
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> s0 = Avx.Shuffle(t0, t2, 0x44), s1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> s2 = Avx.Shuffle(t1, t3, 0x44), s3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> s4 = Avx.Shuffle(t4, t6, 0x44), s5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> s6 = Avx.Shuffle(t5, t7, 0x44), s7 = Avx.Shuffle(t5, t7, 0xEE);
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x20), dst);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x20), dst + ldd);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x20), dst + 2 * ldd);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x20), dst + 3 * ldd);
        Vector256.Store(Avx.Permute2x128(s0, s4, 0x31), dst + 4 * ldd);
        Vector256.Store(Avx.Permute2x128(s1, s5, 0x31), dst + 5 * ldd);
        Vector256.Store(Avx.Permute2x128(s2, s6, 0x31), dst + 6 * ldd);
        Vector256.Store(Avx.Permute2x128(s3, s7, 0x31), dst + 7 * ldd);
    }

    /// <summary>Copies count floats and zero-fills up to width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyPad(float* d, float* s, int count, int width)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; j + 8 <= count; j += 8) Vector256.Store(Vector256.Load(s + j), d + j);
        for (; j < count; j++) d[j] = s[j];
        for (; j < width; j++) d[j] = 0f;
    }
}
