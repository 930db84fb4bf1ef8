// The small contract every backend implements (candle's lesson): typed primitive ops over Storage + Layout.
// Outputs are always freshly allocated contiguous storages given by the caller; inputs may be any strided view.
namespace Cuda.Nn.Kernels;

public partial interface IBackend
{
    Device Device { get; }
    string Name { get; }

    Storage Allocate(DType dtype, int length, bool zero = false);

    /// <summary>Copies a strided view into another strided view of the same shape, converting dtype if they differ.</summary>
    void Copy(Storage src, Layout srcLayout, Storage dst, Layout dstLayout);

    /// <summary>Sets every element of the view to value (converted to the storage's dtype).</summary>
    void Fill(Storage dst, Layout layout, double value);

    /// <summary>Contiguous dst[i] = op(src[i]) over srcLayout's elements in row-major order. dst may have another float dtype than src only for RoundToHalf.</summary>
    void Unary(UnaryOp op, Storage src, Layout srcLayout, Storage dst, double alpha = 0);

    /// <summary>gx = gy * op'(x), elementwise; x and gy are views of the same shape, gx contiguous.</summary>
    void UnaryBackward(UnaryOp op, Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage gx, double alpha = 0);

    /// <summary>Contiguous dst = a op b where both layouts are already broadcast to the output shape.</summary>
    void Binary(BinaryOp op, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst);

    /// <summary>Contiguous dst = a op scalar (or scalar op a when scalarFirst).</summary>
    void BinaryScalar(BinaryOp op, Storage a, Layout aLayout, double scalar, bool scalarFirst, Storage dst);

    /// <summary>dst = cond ? a : b with all three layouts broadcast to the output shape; cond is Bool.</summary>
    void Where(Storage cond, Layout condLayout, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst);

    /// <summary>Reduces the listed dims (sorted, distinct) of src into contiguous dst whose shape is src's without those dims.
    /// For Max/Min, argDst (I64, same shape as dst) receives the index along the single reduced dim when given.</summary>
    void Reduce(ReduceOp op, Storage src, Layout srcLayout, int[] dims, Storage dst, Storage? argDst = null);

    /// <summary>Batched C = A·B: a [..., M, K] and b [..., K, N] broadcast over batch dims to c's contiguous [..., M, N].</summary>
    void MatMul(Storage a, Layout aLayout, Storage b, Layout bLayout, Storage c, int[] cShape);

    /// <summary>Softmax or log-softmax over the last dim of a view; dst contiguous.</summary>
    void Softmax(Storage src, Layout srcLayout, Storage dst, bool log);

    /// <summary>Softmax backward over the last dim given the forward output y (or log-softmax output when log).</summary>
    void SoftmaxBackward(Storage y, Layout yLayout, Storage gy, Layout gyLayout, Storage gx, bool log);

    /// <summary>Layer norm over the last dim (size D) of contiguous x [R, D]; weight/bias [D] optional;
    /// writes y [R, D], mean [R] and rstd [R] (F32 statistics).</summary>
    void LayerNorm(Storage x, int rows, int d, Storage? weight, Storage? bias, double eps, Storage y, Storage mean, Storage rstd);

    /// <summary>Layer norm backward: gx [R, D] and, when given, gweight/gbias [D] (overwritten).</summary>
    void LayerNormBackward(Storage x, Storage gy, int rows, int d, Storage? weight, Storage mean, Storage rstd, Storage gx, Storage? gweight, Storage? gbias);

    /// <summary>dst = src.index_select(dim, index) with contiguous dst; index is I64 or I32 [n].</summary>
    void IndexSelect(Storage src, Layout srcLayout, int dim, Storage index, int indexLength, Storage dst);

    /// <summary>dst = gather(src, dim, index): dst has index's shape (contiguous index layout).</summary>
    void Gather(Storage src, Layout srcLayout, int dim, Storage index, Layout indexLayout, Storage dst);

    /// <summary>dst (contiguous, modified in place) .scatter_add_(dim, index, src) with index and src of the same shape.</summary>
    void ScatterAdd(Storage dst, Layout dstLayout, int dim, Storage index, Layout indexLayout, Storage src, Layout srcLayout);

    /// <summary>Fills a contiguous storage with Philox4x32-10 random numbers from (seed, offset):
    /// uniform in [low, high), or normal(mean=low, std=high) when normal is true.</summary>
    void FillRandom(Storage dst, int length, ulong seed, ulong offset, bool normal, double low, double high);
}
