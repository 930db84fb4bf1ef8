// Float64 GEMM for gradient checks: correctness over speed. op(B) is packed once into a row-major
// [k, n] buffer, then each C row accumulates alpha * A[i,p] * B[p,:] with Vector<double> FMAs,
// blocked over k so the B slice stays in cache. Rows are spread over the worker pool.
using System.Numerics;
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class GemmDouble
{
    private const int KBlock = 128;

    [ThreadStatic] private static DoubleBuffer? _bufB;

    private sealed class DoubleBuffer
    {
        public double* Ptr;
        private nint _capacity;

        public double* Get(nint n)
        {
            if (n > _capacity)
            {
                if (Ptr != null) NativeMemory.AlignedFree(Ptr);
                Ptr = (double*)NativeMemory.AlignedAlloc((nuint)(n * sizeof(double)), 64);
                _capacity = n;
            }
            return Ptr;
        }

        ~DoubleBuffer()
        {
            if (Ptr != null) NativeMemory.AlignedFree(Ptr);
        }
    }

    public static void Run(bool transA, bool transB, int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc)
    {
        if (m == 0 || n == 0) return;
        for (int i = 0; i < m; i++)
        {
            double* cr = c + (nint)i * ldc;
            if (beta == 0.0) new Span<double>(cr, n).Clear();
            else if (beta != 1.0) for (int j = 0; j < n; j++) cr[j] *= beta;
        }
        if (k == 0 || alpha == 0.0) return;

        // Pack op(B) as a contiguous [k, n] matrix (only needed when it is transposed or strided).
        double* bp = b;
        nint ldbp = ldb;
        if (transB)
        {
            bp = (_bufB ??= new DoubleBuffer()).Get((nint)k * n);
            ldbp = n;
            for (int j = 0; j < n; j++)
            {
                double* src = b + (nint)j * ldb;
                for (int p = 0; p < k; p++) bp[(nint)p * n + j] = src[p];
            }
        }

        nint bAddr = (nint)bp, aAddr = (nint)a, cAddr = (nint)c;
        void Rows(int i0, int i1)
        {
            double* bq = (double*)bAddr, aq = (double*)aAddr, cq = (double*)cAddr;
            for (int p0 = 0; p0 < k; p0 += KBlock)
            {
                int p1 = Math.Min(k, p0 + KBlock);
                for (int i = i0; i < i1; i++)
                {
                    double* cr = cq + (nint)i * ldc;
                    for (int p = p0; p < p1; p++)
                    {
                        double av = alpha * (transA ? aq[(nint)p * lda + i] : aq[(nint)i * lda + p]);
                        Axpy(av, bq + p * ldbp, cr, n);
                    }
                }
            }
        }

        long work = (long)m * n * k;
        if (work < Gemm.ParallelMinWork || m < 2) Rows(0, m);
        else CpuWorkers.ForRange(m, 1, Rows);
    }

    /// <summary>y += alpha * x over n elements.</summary>
    private static void Axpy(double alpha, double* x, double* y, int n)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int w = Vector<double>.Count;
            var va = new Vector<double>(alpha);
            for (; j + w <= n; j += w)
            {
                var vy = Vector.Load(y + j);
                Vector.Store(Vector.FusedMultiplyAdd(va, Vector.Load(x + j), vy), y + j);
            }
        }
        for (; j < n; j++) y[j] = Math.FusedMultiplyAdd(alpha, x[j], y[j]);
    }
}
