// Register-blocked GEMM micro-kernels. Each computes one MR x NR tile of C from a packed A
// micro-panel (kc x MR, k-major) and a packed B micro-panel (kc x NR, k-major, 64-byte aligned):
// C = alpha * acc + beta * C, with beta == 0 meaning C is not read. The SIMD kernels are emitted
// by tools/gen_gemm_kernels.py into GemmMicroKernels.g.cs (see docs/gemm.md) because the JIT only keeps accumulators in registers when they
// are separate locals; arrays of vectors would spill.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe partial class GemmMicroKernels
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
}
