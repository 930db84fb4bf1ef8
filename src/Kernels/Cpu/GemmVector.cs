// Matrix-vector shapes of Sgemm (m == 1 or n == 1). Packing would touch every element of the matrix
// once more and pad the vector side to a full tile, so these go straight to vectorised dot products
// and axpys (TensorPrimitives) instead; they are memory-bound either way.
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class GemmVector
{
    [ThreadStatic] private static Gemm.AlignedBuffer? _gather;

    /// <summary>Copies count floats spaced stride apart into a thread-local contiguous buffer (or returns src when stride is 1).</summary>
    private static float* Contiguous(float* src, nint stride, int count)
    {
        if (stride == 1) return src;
        float* dst = (_gather ??= new Gemm.AlignedBuffer()).Get(count);
        for (int i = 0; i < count; i++) dst[i] = src[i * stride];
        return dst;
    }

    /// <summary>Handles m == 1 or n == 1 (k >= 1, alpha != 0).</summary>
    public static void Run(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int threads)
    {
        if (m == 1)
        {
            // c[0, :] (contiguous) = alpha * x op(B) + beta * c, with x = op(A)[0, :].
            float* x = Contiguous(a, transA ? lda : 1, k);
            if (transB)
            {
                // op(B)[p, j] = b[j * ldb + p]: one dot product per output.
                Parallel(n, k, threads, (j0, j1) =>
                {
                    for (int j = j0; j < j1; j++)
                    {
                        float d = alpha * TensorPrimitives.Dot(new ReadOnlySpan<float>(x, k), new ReadOnlySpan<float>(b + j * ldb, k));
                        c[j] = beta == 0f ? d : d + beta * c[j];
                    }
                });
            }
            else
            {
                // Rows of B are contiguous: c += (alpha * x[p]) * B[p, :], column range per thread.
                Parallel(n, k, threads, (j0, j1) =>
                {
                    var row = new Span<float>(c + j0, j1 - j0);
                    if (beta == 0f) row.Clear();
                    else if (beta != 1f) TensorPrimitives.Multiply(row, beta, row);
                    for (int p = 0; p < k; p++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + p * ldb + j0, j1 - j0), alpha * x[p], row, row);
                });
            }
            return;
        }

        // n == 1: c[:, 0] (stride ldc) = alpha * op(A) y + beta * c, with y = op(B)[:, 0].
        float* y = Contiguous(b, transB ? 1 : ldb, k);
        if (!transA)
        {
            Parallel(m, k, threads, (i0, i1) =>
            {
                for (int i = i0; i < i1; i++)
                {
                    float d = alpha * TensorPrimitives.Dot(new ReadOnlySpan<float>(a + i * lda, k), new ReadOnlySpan<float>(y, k));
                    c[i * ldc] = beta == 0f ? d : d + beta * c[i * ldc];
                }
            });
        }
        else
        {
            // A is [k, m]: accumulate rows of A into a contiguous buffer, then scatter into C's column.
            Parallel(m, k, threads, (i0, i1) =>
            {
                int len = i1 - i0;
                float* acc = AccBuffer(len); // separate from _gather, which may hold y
                var row = new Span<float>(acc, len);
                row.Clear();
                for (int p = 0; p < k; p++)
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(a + p * lda + i0, len), y[p], row, row);
                for (int i = 0; i < len; i++)
                {
                    float d = alpha * acc[i];
                    float* ci = c + (i0 + i) * ldc;
                    *ci = beta == 0f ? d : d + beta * *ci;
                }
            });
        }
    }

    [ThreadStatic] private static Gemm.AlignedBuffer? _acc;

    private static float* AccBuffer(int count) => (_acc ??= new Gemm.AlignedBuffer()).Get(count);

    /// <summary>Splits [0, count) over the threads when the matrix is big enough to pay for the dispatch.</summary>
    private static void Parallel(int count, int k, int threads, Action<int, int> body)
    {
        if (threads <= 1 || (long)count * k < Gemm.ParallelMinWork) body(0, count);
        else CpuWorkers.ForRange(count, Math.Max(16, count / threads), body);
    }
}
