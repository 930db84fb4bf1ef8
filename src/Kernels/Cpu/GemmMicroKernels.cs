// Register-blocked GEMM micro-kernels. Each computes one MR x NR tile of C from a packed A
// micro-panel (kc x MR, k-major) and a packed B micro-panel (kc x NR, k-major, 64-byte aligned):
// C = alpha * acc + beta * C, with beta == 0 meaning C is not read. The SIMD kernels are emitted
// by a generator (see docs/gemm.md) because the JIT only keeps accumulators in registers when they
// are separate locals; arrays of vectors would spill.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class GemmMicroKernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* p, Vector512<float> acc, Vector512<float> va, Vector512<float> vb, bool zeroBeta)
    {
        Vector512<float> r = acc * va;
        if (!zeroBeta) r = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(p), vb, r);
        Avx512F.Store(p, r);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* p, Vector256<float> acc, Vector256<float> va, Vector256<float> vb, bool zeroBeta)
    {
        Vector256<float> r = acc * va;
        if (!zeroBeta) r = Fma.MultiplyAdd(Avx.LoadVector256(p), vb, r);
        Avx.Store(p, r);
    }

    /// <summary>Portable 4x8 tile for CPUs without AVX2/FMA (and for testing the driver).</summary>
    public static void Scalar_4x8(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[32];
        for (int i = 0; i < 32; i++) acc[i] = 0f;
        for (; kc > 0; kc--)
        {
            for (int r = 0; r < 4; r++)
            {
                float a = pa[r];
                float* row = acc + r * 8;
                for (int j = 0; j < 8; j++) row[j] += a * pb[j];
            }
            pa += 4; pb += 8;
        }
        for (int r = 0; r < 4; r++)
        {
            float* cr = c + r * ldc;
            for (int j = 0; j < 8; j++)
                cr[j] = beta == 0f ? alpha * acc[r * 8 + j] : alpha * acc[r * 8 + j] + beta * cr[j];
        }
    }

    /// <summary>6x64 tile: 24 accumulators + 4 B vectors + 1 broadcast register.</summary>
    public static void Avx512_6x64(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default; Vector512<float> c0_2 = default; Vector512<float> c0_3 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default; Vector512<float> c1_2 = default; Vector512<float> c1_3 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default; Vector512<float> c2_2 = default; Vector512<float> c2_3 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default; Vector512<float> c3_2 = default; Vector512<float> c3_3 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default; Vector512<float> c4_2 = default; Vector512<float> c4_3 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default; Vector512<float> c5_2 = default; Vector512<float> c5_3 = default;
        Sse.Prefetch0(c + 0 * ldc + 0); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + 32); Sse.Prefetch0(c + 0 * ldc + 48); Sse.Prefetch0(c + 0 * ldc + 63);
        Sse.Prefetch0(c + 1 * ldc + 0); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + 32); Sse.Prefetch0(c + 1 * ldc + 48); Sse.Prefetch0(c + 1 * ldc + 63);
        Sse.Prefetch0(c + 2 * ldc + 0); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + 32); Sse.Prefetch0(c + 2 * ldc + 48); Sse.Prefetch0(c + 2 * ldc + 63);
        Sse.Prefetch0(c + 3 * ldc + 0); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + 32); Sse.Prefetch0(c + 3 * ldc + 48); Sse.Prefetch0(c + 3 * ldc + 63);
        Sse.Prefetch0(c + 4 * ldc + 0); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + 32); Sse.Prefetch0(c + 4 * ldc + 48); Sse.Prefetch0(c + 4 * ldc + 63);
        Sse.Prefetch0(c + 5 * ldc + 0); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + 32); Sse.Prefetch0(c + 5 * ldc + 48); Sse.Prefetch0(c + 5 * ldc + 63);
        for (; kc > 0; kc--)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(pb + 0); Vector512<float> b1 = Avx512F.LoadAlignedVector512(pb + 16); Vector512<float> b2 = Avx512F.LoadAlignedVector512(pb + 32); Vector512<float> b3 = Avx512F.LoadAlignedVector512(pb + 48);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1); c0_2 = Avx512F.FusedMultiplyAdd(a, b2, c0_2); c0_3 = Avx512F.FusedMultiplyAdd(a, b3, c0_3);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1); c1_2 = Avx512F.FusedMultiplyAdd(a, b2, c1_2); c1_3 = Avx512F.FusedMultiplyAdd(a, b3, c1_3);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1); c2_2 = Avx512F.FusedMultiplyAdd(a, b2, c2_2); c2_3 = Avx512F.FusedMultiplyAdd(a, b3, c2_3);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1); c3_2 = Avx512F.FusedMultiplyAdd(a, b2, c3_2); c3_3 = Avx512F.FusedMultiplyAdd(a, b3, c3_3);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1); c4_2 = Avx512F.FusedMultiplyAdd(a, b2, c4_2); c4_3 = Avx512F.FusedMultiplyAdd(a, b3, c4_3);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1); c5_2 = Avx512F.FusedMultiplyAdd(a, b2, c5_2); c5_3 = Avx512F.FusedMultiplyAdd(a, b3, c5_3);
            pa += 6; pb += 64;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool z = beta == 0f;
        Store512(c + 0 * ldc + 0, c0_0, va, vb, z); Store512(c + 0 * ldc + 16, c0_1, va, vb, z); Store512(c + 0 * ldc + 32, c0_2, va, vb, z); Store512(c + 0 * ldc + 48, c0_3, va, vb, z);
        Store512(c + 1 * ldc + 0, c1_0, va, vb, z); Store512(c + 1 * ldc + 16, c1_1, va, vb, z); Store512(c + 1 * ldc + 32, c1_2, va, vb, z); Store512(c + 1 * ldc + 48, c1_3, va, vb, z);
        Store512(c + 2 * ldc + 0, c2_0, va, vb, z); Store512(c + 2 * ldc + 16, c2_1, va, vb, z); Store512(c + 2 * ldc + 32, c2_2, va, vb, z); Store512(c + 2 * ldc + 48, c2_3, va, vb, z);
        Store512(c + 3 * ldc + 0, c3_0, va, vb, z); Store512(c + 3 * ldc + 16, c3_1, va, vb, z); Store512(c + 3 * ldc + 32, c3_2, va, vb, z); Store512(c + 3 * ldc + 48, c3_3, va, vb, z);
        Store512(c + 4 * ldc + 0, c4_0, va, vb, z); Store512(c + 4 * ldc + 16, c4_1, va, vb, z); Store512(c + 4 * ldc + 32, c4_2, va, vb, z); Store512(c + 4 * ldc + 48, c4_3, va, vb, z);
        Store512(c + 5 * ldc + 0, c5_0, va, vb, z); Store512(c + 5 * ldc + 16, c5_1, va, vb, z); Store512(c + 5 * ldc + 32, c5_2, va, vb, z); Store512(c + 5 * ldc + 48, c5_3, va, vb, z);
    }

    /// <summary>Edge tile of the 6x64 kernel: only the first 48 columns of each 64-wide B panel.</summary>
    public static void Avx512_6x64_n48(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default; Vector512<float> c0_2 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default; Vector512<float> c1_2 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default; Vector512<float> c2_2 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default; Vector512<float> c3_2 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default; Vector512<float> c4_2 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default; Vector512<float> c5_2 = default;
        Sse.Prefetch0(c + 0 * ldc + 0); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + 32); Sse.Prefetch0(c + 0 * ldc + 47);
        Sse.Prefetch0(c + 1 * ldc + 0); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + 32); Sse.Prefetch0(c + 1 * ldc + 47);
        Sse.Prefetch0(c + 2 * ldc + 0); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + 32); Sse.Prefetch0(c + 2 * ldc + 47);
        Sse.Prefetch0(c + 3 * ldc + 0); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + 32); Sse.Prefetch0(c + 3 * ldc + 47);
        Sse.Prefetch0(c + 4 * ldc + 0); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + 32); Sse.Prefetch0(c + 4 * ldc + 47);
        Sse.Prefetch0(c + 5 * ldc + 0); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + 32); Sse.Prefetch0(c + 5 * ldc + 47);
        for (; kc > 0; kc--)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(pb + 0); Vector512<float> b1 = Avx512F.LoadAlignedVector512(pb + 16); Vector512<float> b2 = Avx512F.LoadAlignedVector512(pb + 32);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1); c0_2 = Avx512F.FusedMultiplyAdd(a, b2, c0_2);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1); c1_2 = Avx512F.FusedMultiplyAdd(a, b2, c1_2);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1); c2_2 = Avx512F.FusedMultiplyAdd(a, b2, c2_2);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1); c3_2 = Avx512F.FusedMultiplyAdd(a, b2, c3_2);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1); c4_2 = Avx512F.FusedMultiplyAdd(a, b2, c4_2);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1); c5_2 = Avx512F.FusedMultiplyAdd(a, b2, c5_2);
            pa += 6; pb += 64;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool z = beta == 0f;
        Store512(c + 0 * ldc + 0, c0_0, va, vb, z); Store512(c + 0 * ldc + 16, c0_1, va, vb, z); Store512(c + 0 * ldc + 32, c0_2, va, vb, z);
        Store512(c + 1 * ldc + 0, c1_0, va, vb, z); Store512(c + 1 * ldc + 16, c1_1, va, vb, z); Store512(c + 1 * ldc + 32, c1_2, va, vb, z);
        Store512(c + 2 * ldc + 0, c2_0, va, vb, z); Store512(c + 2 * ldc + 16, c2_1, va, vb, z); Store512(c + 2 * ldc + 32, c2_2, va, vb, z);
        Store512(c + 3 * ldc + 0, c3_0, va, vb, z); Store512(c + 3 * ldc + 16, c3_1, va, vb, z); Store512(c + 3 * ldc + 32, c3_2, va, vb, z);
        Store512(c + 4 * ldc + 0, c4_0, va, vb, z); Store512(c + 4 * ldc + 16, c4_1, va, vb, z); Store512(c + 4 * ldc + 32, c4_2, va, vb, z);
        Store512(c + 5 * ldc + 0, c5_0, va, vb, z); Store512(c + 5 * ldc + 16, c5_1, va, vb, z); Store512(c + 5 * ldc + 32, c5_2, va, vb, z);
    }

    /// <summary>Edge tile of the 6x64 kernel: only the first 32 columns of each 64-wide B panel.</summary>
    public static void Avx512_6x64_n32(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Sse.Prefetch0(c + 0 * ldc + 0); Sse.Prefetch0(c + 0 * ldc + 16); Sse.Prefetch0(c + 0 * ldc + 31);
        Sse.Prefetch0(c + 1 * ldc + 0); Sse.Prefetch0(c + 1 * ldc + 16); Sse.Prefetch0(c + 1 * ldc + 31);
        Sse.Prefetch0(c + 2 * ldc + 0); Sse.Prefetch0(c + 2 * ldc + 16); Sse.Prefetch0(c + 2 * ldc + 31);
        Sse.Prefetch0(c + 3 * ldc + 0); Sse.Prefetch0(c + 3 * ldc + 16); Sse.Prefetch0(c + 3 * ldc + 31);
        Sse.Prefetch0(c + 4 * ldc + 0); Sse.Prefetch0(c + 4 * ldc + 16); Sse.Prefetch0(c + 4 * ldc + 31);
        Sse.Prefetch0(c + 5 * ldc + 0); Sse.Prefetch0(c + 5 * ldc + 16); Sse.Prefetch0(c + 5 * ldc + 31);
        for (; kc > 0; kc--)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(pb + 0); Vector512<float> b1 = Avx512F.LoadAlignedVector512(pb + 16);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1);
            pa += 6; pb += 64;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool z = beta == 0f;
        Store512(c + 0 * ldc + 0, c0_0, va, vb, z); Store512(c + 0 * ldc + 16, c0_1, va, vb, z);
        Store512(c + 1 * ldc + 0, c1_0, va, vb, z); Store512(c + 1 * ldc + 16, c1_1, va, vb, z);
        Store512(c + 2 * ldc + 0, c2_0, va, vb, z); Store512(c + 2 * ldc + 16, c2_1, va, vb, z);
        Store512(c + 3 * ldc + 0, c3_0, va, vb, z); Store512(c + 3 * ldc + 16, c3_1, va, vb, z);
        Store512(c + 4 * ldc + 0, c4_0, va, vb, z); Store512(c + 4 * ldc + 16, c4_1, va, vb, z);
        Store512(c + 5 * ldc + 0, c5_0, va, vb, z); Store512(c + 5 * ldc + 16, c5_1, va, vb, z);
    }

    /// <summary>Edge tile of the 6x64 kernel: only the first 16 columns of each 64-wide B panel.</summary>
    public static void Avx512_6x64_n16(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default;
        Vector512<float> c1_0 = default;
        Vector512<float> c2_0 = default;
        Vector512<float> c3_0 = default;
        Vector512<float> c4_0 = default;
        Vector512<float> c5_0 = default;
        Sse.Prefetch0(c + 0 * ldc + 0); Sse.Prefetch0(c + 0 * ldc + 15);
        Sse.Prefetch0(c + 1 * ldc + 0); Sse.Prefetch0(c + 1 * ldc + 15);
        Sse.Prefetch0(c + 2 * ldc + 0); Sse.Prefetch0(c + 2 * ldc + 15);
        Sse.Prefetch0(c + 3 * ldc + 0); Sse.Prefetch0(c + 3 * ldc + 15);
        Sse.Prefetch0(c + 4 * ldc + 0); Sse.Prefetch0(c + 4 * ldc + 15);
        Sse.Prefetch0(c + 5 * ldc + 0); Sse.Prefetch0(c + 5 * ldc + 15);
        for (; kc > 0; kc--)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(pb + 0);
            Vector512<float> a;
            a = Vector512.Create(pa[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0);
            a = Vector512.Create(pa[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0);
            a = Vector512.Create(pa[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0);
            a = Vector512.Create(pa[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0);
            a = Vector512.Create(pa[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0);
            a = Vector512.Create(pa[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0);
            pa += 6; pb += 64;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool z = beta == 0f;
        Store512(c + 0 * ldc + 0, c0_0, va, vb, z);
        Store512(c + 1 * ldc + 0, c1_0, va, vb, z);
        Store512(c + 2 * ldc + 0, c2_0, va, vb, z);
        Store512(c + 3 * ldc + 0, c3_0, va, vb, z);
        Store512(c + 4 * ldc + 0, c4_0, va, vb, z);
        Store512(c + 5 * ldc + 0, c5_0, va, vb, z);
    }

    /// <summary>6x16 tile: 12 accumulators + 2 B vectors + 1 broadcast register.</summary>
    public static void Avx2_6x16(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        Sse.Prefetch0(c + 0 * ldc + 0); Sse.Prefetch0(c + 0 * ldc + 15);
        Sse.Prefetch0(c + 1 * ldc + 0); Sse.Prefetch0(c + 1 * ldc + 15);
        Sse.Prefetch0(c + 2 * ldc + 0); Sse.Prefetch0(c + 2 * ldc + 15);
        Sse.Prefetch0(c + 3 * ldc + 0); Sse.Prefetch0(c + 3 * ldc + 15);
        Sse.Prefetch0(c + 4 * ldc + 0); Sse.Prefetch0(c + 4 * ldc + 15);
        Sse.Prefetch0(c + 5 * ldc + 0); Sse.Prefetch0(c + 5 * ldc + 15);
        for (; kc > 0; kc--)
        {
            Vector256<float> b0 = Avx.LoadAlignedVector256(pb + 0); Vector256<float> b1 = Avx.LoadAlignedVector256(pb + 8);
            Vector256<float> a;
            a = Vector256.Create(pa[0]); c0_0 = Fma.MultiplyAdd(a, b0, c0_0); c0_1 = Fma.MultiplyAdd(a, b1, c0_1);
            a = Vector256.Create(pa[1]); c1_0 = Fma.MultiplyAdd(a, b0, c1_0); c1_1 = Fma.MultiplyAdd(a, b1, c1_1);
            a = Vector256.Create(pa[2]); c2_0 = Fma.MultiplyAdd(a, b0, c2_0); c2_1 = Fma.MultiplyAdd(a, b1, c2_1);
            a = Vector256.Create(pa[3]); c3_0 = Fma.MultiplyAdd(a, b0, c3_0); c3_1 = Fma.MultiplyAdd(a, b1, c3_1);
            a = Vector256.Create(pa[4]); c4_0 = Fma.MultiplyAdd(a, b0, c4_0); c4_1 = Fma.MultiplyAdd(a, b1, c4_1);
            a = Vector256.Create(pa[5]); c5_0 = Fma.MultiplyAdd(a, b0, c5_0); c5_1 = Fma.MultiplyAdd(a, b1, c5_1);
            pa += 6; pb += 16;
        }
        Vector256<float> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool z = beta == 0f;
        Store256(c + 0 * ldc + 0, c0_0, va, vb, z); Store256(c + 0 * ldc + 8, c0_1, va, vb, z);
        Store256(c + 1 * ldc + 0, c1_0, va, vb, z); Store256(c + 1 * ldc + 8, c1_1, va, vb, z);
        Store256(c + 2 * ldc + 0, c2_0, va, vb, z); Store256(c + 2 * ldc + 8, c2_1, va, vb, z);
        Store256(c + 3 * ldc + 0, c3_0, va, vb, z); Store256(c + 3 * ldc + 8, c3_1, va, vb, z);
        Store256(c + 4 * ldc + 0, c4_0, va, vb, z); Store256(c + 4 * ldc + 8, c4_1, va, vb, z);
        Store256(c + 5 * ldc + 0, c5_0, va, vb, z); Store256(c + 5 * ldc + 8, c5_1, va, vb, z);
    }

    /// <summary>Edge tile of the 6x16 kernel: only the first 8 columns of each 16-wide B panel.</summary>
    public static void Avx2_6x16_n8(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default;
        Vector256<float> c1_0 = default;
        Vector256<float> c2_0 = default;
        Vector256<float> c3_0 = default;
        Vector256<float> c4_0 = default;
        Vector256<float> c5_0 = default;
         Sse.Prefetch0(c + 0 * ldc + 7);
         Sse.Prefetch0(c + 1 * ldc + 7);
         Sse.Prefetch0(c + 2 * ldc + 7);
         Sse.Prefetch0(c + 3 * ldc + 7);
         Sse.Prefetch0(c + 4 * ldc + 7);
         Sse.Prefetch0(c + 5 * ldc + 7);
        for (; kc > 0; kc--)
        {
            Vector256<float> b0 = Avx.LoadAlignedVector256(pb + 0);
            Vector256<float> a;
            a = Vector256.Create(pa[0]); c0_0 = Fma.MultiplyAdd(a, b0, c0_0);
            a = Vector256.Create(pa[1]); c1_0 = Fma.MultiplyAdd(a, b0, c1_0);
            a = Vector256.Create(pa[2]); c2_0 = Fma.MultiplyAdd(a, b0, c2_0);
            a = Vector256.Create(pa[3]); c3_0 = Fma.MultiplyAdd(a, b0, c3_0);
            a = Vector256.Create(pa[4]); c4_0 = Fma.MultiplyAdd(a, b0, c4_0);
            a = Vector256.Create(pa[5]); c5_0 = Fma.MultiplyAdd(a, b0, c5_0);
            pa += 6; pb += 16;
        }
        Vector256<float> va = Vector256.Create(alpha), vb = Vector256.Create(beta);
        bool z = beta == 0f;
        Store256(c + 0 * ldc + 0, c0_0, va, vb, z);
        Store256(c + 1 * ldc + 0, c1_0, va, vb, z);
        Store256(c + 2 * ldc + 0, c2_0, va, vb, z);
        Store256(c + 3 * ldc + 0, c3_0, va, vb, z);
        Store256(c + 4 * ldc + 0, c4_0, va, vb, z);
        Store256(c + 5 * ldc + 0, c5_0, va, vb, z);
    }
}
