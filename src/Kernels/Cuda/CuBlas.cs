// cuBLAS (libcublas.so.13 or .12): handle, stream, GemmEx and GemmStridedBatchedEx, plus a row-major wrapper;
// the declarations are generated from cublas_api.h into Generated/CuBlas.g.cs (tools/BindingGen). cuBLAS is column-major, so a row-major C = op(A) op(B) is issued as the column-major
// C^T = op(B)^T op(A)^T: operands swap and M/N swap; nothing is transposed in memory.
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>cudaDataType_t values (INTEROP.md).</summary>
public enum CudaDataType
{
    R32F = 0,
    R64F = 1,
    R16F = 2,
    R8I = 3,
    R32I = 10,
    R16BF = 14,
}

/// <summary>cublasComputeType_t values (INTEROP.md).</summary>
public enum CublasComputeType
{
    Compute16F = 64,
    Compute32F = 68,
    Compute32FPedantic = 69,
    Compute64F = 70,
    Compute32I = 72,
    Compute32FFast16F = 74,
    Compute32FFast16BF = 75,
    Compute32FFastTf32 = 77,
}

/// <summary>A row-major GEMM's shape: C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C (dense, no padding).</summary>
public readonly record struct RowMajorGemm(int M, int N, int K, bool TransposeA = false, bool TransposeB = false)
{
    /// <summary>
    /// The column-major cuBLAS call computing it: (transa, transb, m, n, k, first operand is B, lda, ldb, ldc).
    /// A stored row-major X reads as X^T column-major, so op(B)^T needs OP_N when B is not transposed.
    /// </summary>
    public (int TransA, int TransB, int M, int N, int K, int LdFirst, int LdSecond, int Ldc) ColumnMajor() =>
        (TransposeB ? Cublas.OpT : Cublas.OpN, TransposeA ? Cublas.OpT : Cublas.OpN, N, M, K,
         TransposeB ? K : N, TransposeA ? M : K, N);
}

/// <summary>A cuBLAS handle bound to the current context. Scalars are host floats (pointer mode host).</summary>
public sealed unsafe class Cublas : IDisposable
{
    public const int OpN = 0, OpT = 1, GemmDefault = -1;

    public nint Handle { get; private set; }

    public Cublas()
    {
        NativeLibraryResolver.Load(CudaLibrary.Cublas);
        Check(CublasNative.cublasCreate_v2(out nint h), "cublasCreate");
        Handle = h;
    }

    public int Version
    {
        get
        {
            Check(CublasNative.cublasGetVersion_v2(Handle, out int v), "cublasGetVersion");
            return v;
        }
    }

    public void SetStream(CudaStream stream) => Check(CublasNative.cublasSetStream_v2(Handle, stream.Handle), "cublasSetStream");

    /// <summary>
    /// Row-major GEMM through cublasGemmEx. With F16/BF16 inputs and Compute32F the accumulation is F32 and
    /// alpha/beta are F32 (the only scalar type this wrapper passes, so Compute16F/64F/32I are refused).
    /// </summary>
    public void Gemm(RowMajorGemm shape, float alpha, ulong a, ulong b, float beta, ulong c, CudaDataType inputType, CudaDataType outputType,
        CublasComputeType compute = CublasComputeType.Compute32F)
    {
        CheckFloatScalars(compute);
        var (ta, tb, m, n, k, ldFirst, ldSecond, ldc) = shape.ColumnMajor();
        Check(CublasNative.cublasGemmEx(Handle, ta, tb, m, n, k, &alpha, b, (int)inputType, ldFirst, a, (int)inputType, ldSecond,
            &beta, c, (int)outputType, ldc, (int)compute, GemmDefault), "cublasGemmEx");
    }

    /// <summary>Row-major batched GEMM: batch i uses A + i strideA, B + i strideB, C + i strideC (strides in elements).</summary>
    public void GemmStridedBatched(RowMajorGemm shape, int batch, float alpha, ulong a, long strideA, ulong b, long strideB, float beta,
        ulong c, long strideC, CudaDataType inputType, CudaDataType outputType, CublasComputeType compute = CublasComputeType.Compute32F)
    {
        CheckFloatScalars(compute);
        var (ta, tb, m, n, k, ldFirst, ldSecond, ldc) = shape.ColumnMajor();
        Check(CublasNative.cublasGemmStridedBatchedEx(Handle, ta, tb, m, n, k, &alpha, b, (int)inputType, ldFirst, strideB,
            a, (int)inputType, ldSecond, strideA, &beta, c, (int)outputType, ldc, strideC, batch, (int)compute, GemmDefault),
            "cublasGemmStridedBatchedEx");
    }

    private static void CheckFloatScalars(CublasComputeType compute)
    {
        if (compute is CublasComputeType.Compute16F or CublasComputeType.Compute64F or CublasComputeType.Compute32I)
            throw new NotSupportedException($"compute type {compute} needs non-float alpha/beta; this wrapper passes float scalars only");
    }

    public static string StatusName(int status) => status switch
    {
        0 => "CUBLAS_STATUS_SUCCESS",
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => "CUBLAS_STATUS_UNKNOWN",
    };

    private static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException("cuBLAS", call, status, StatusName(status));
    }

    public void Dispose()
    {
        if (Handle == 0) return;
        var h = Handle;
        Handle = 0;
        Check(CublasNative.cublasDestroy_v2(h), "cublasDestroy");
    }
}
