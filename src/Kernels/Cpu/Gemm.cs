// TEMPORARY naive GEMM; replaced by the packed implementation on the gemm branch.
namespace Cuda.Nn.Kernels.Cpu;

public enum GemmIsa { Auto, Avx512, Avx2, Scalar }

public static unsafe class Gemm
{
    public static string ActiveKernel => "scalar";
    public static GemmIsa ForcedIsa { get; set; }

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float acc = 0;
                for (int p = 0; p < k; p++)
                    acc += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                c[(long)i * ldc + j] = beta == 0 ? alpha * acc : alpha * acc + beta * c[(long)i * ldc + j];
            }
    }

    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int p = 0; p < k; p++)
                    acc += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                c[(long)i * ldc + j] = beta == 0 ? alpha * acc : alpha * acc + beta * c[(long)i * ldc + j];
            }
    }
}
