// Host-side pieces of the interop that need no GPU: kernel argument packing and the row-major to
// column-major GEMM mapping (checked against a plain column-major GEMM written like cuBLAS's contract).
using System.Runtime.InteropServices;
using Cuda.Nn.Kernels.CudaNative;

namespace Cuda.Nn.Tests.CudaNative;

public sealed class CudaInteropTests
{
    [Fact]
    public void KernelArgumentsPackOneValuePerEightByteSlot()
    {
        var args = new KernelArguments().Pointer(0x1234_5678_9abcUL).Int(-2).Float(1.5f).Long(-3L).Pointer((CudaBuffer?)null);
        Assert.Equal(5, args.Count);
        var bytes = args.Data;
        Assert.Equal(5 * 8, bytes.Length);
        Assert.Equal(0x1234_5678_9abcUL, MemoryMarshal.Read<ulong>(bytes.AsSpan(KernelArguments.Offset(0))));
        Assert.Equal(-2, MemoryMarshal.Read<int>(bytes.AsSpan(KernelArguments.Offset(1))));
        Assert.Equal(1.5f, MemoryMarshal.Read<float>(bytes.AsSpan(KernelArguments.Offset(2))));
        Assert.Equal(-3L, MemoryMarshal.Read<long>(bytes.AsSpan(KernelArguments.Offset(3))));
        Assert.Equal(0UL, MemoryMarshal.Read<ulong>(bytes.AsSpan(KernelArguments.Offset(4))));
    }

    // cuBLAS's contract: C = alpha op(A) op(B) + beta C, column-major, op(X) = X or X^T, leading dimensions given.
    private static void ColumnMajorGemm(int transa, int transb, int m, int n, int k, float[] a, int lda, float[] b, int ldb, float[] c, int ldc)
    {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transa == Cublas.OpN ? a[i + p * lda] : a[p + i * lda];
                    float bv = transb == Cublas.OpN ? b[p + j * ldb] : b[j + p * ldb];
                    s += av * bv;
                }
                c[i + j * ldc] = (float)s;
            }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void RowMajorGemmMapsOntoTheColumnMajorCall(bool transA, bool transB)
    {
        const int M = 3, N = 4, K = 5;
        var rng = new Random(7);
        // Stored row-major: A is [M,K] or, transposed, [K,M]; B is [K,N] or [N,K].
        var a = Enumerable.Range(0, M * K).Select(_ => (float)rng.Next(-4, 5)).ToArray();
        var b = Enumerable.Range(0, K * N).Select(_ => (float)rng.Next(-4, 5)).ToArray();
        float A(int i, int p) => transA ? a[p * M + i] : a[i * K + p];
        float B(int p, int j) => transB ? b[j * K + p] : b[p * N + j];

        var shape = new RowMajorGemm(M, N, K, transA, transB);
        var (ta, tb, m, n, k, ldFirst, ldSecond, ldc) = shape.ColumnMajor();
        var c = new float[M * N];
        ColumnMajorGemm(ta, tb, m, n, k, b, ldFirst, a, ldSecond, c, ldc);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
            {
                double expected = 0;
                for (int p = 0; p < K; p++) expected += A(i, p) * B(p, j);
                Assert.Equal(expected, c[i * N + j]);
            }
    }
}
