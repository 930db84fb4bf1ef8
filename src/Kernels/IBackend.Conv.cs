// Convolution-stack ops on contiguous NCHW storages (OIHW weights).
namespace Cuda.Nn.Kernels;

public partial interface IBackend
{
    /// <summary>y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, C/G, KH, KW]) + bias [O].</summary>
    void Conv2d(Storage x, Storage w, Storage? bias, Storage y, ConvGeometry g);

    /// <summary>gx [N, C, H, W] from gy [N, O, OH, OW] and w.</summary>
    void Conv2dBackwardData(Storage gy, Storage w, Storage gx, ConvGeometry g);

    /// <summary>gw [O, C/G, KH, KW] (overwritten) from x and gy.</summary>
    void Conv2dBackwardFilter(Storage x, Storage gy, Storage gw, ConvGeometry g);

    /// <summary>Max pooling; indices (I64) hold the argmax as h * W + w within its input plane (PyTorch's form). Padding counts as -inf.</summary>
    void MaxPool2d(Storage x, Storage y, Storage indices, PoolGeometry p);

    void MaxPool2dBackward(Storage gy, Storage indices, Storage gx, PoolGeometry p);

    /// <summary>Average pooling; divisor is the window clipped to the padded input (countIncludePad) or to the real input.</summary>
    void AvgPool2d(Storage x, Storage y, PoolGeometry p, bool countIncludePad);

    void AvgPool2dBackward(Storage gy, Storage gx, PoolGeometry p, bool countIncludePad);

    /// <summary>Per-channel mean and biased variance of x [N, C, HW] (two passes).</summary>
    void ChannelStats(Storage x, int n, int c, int hw, Storage mean, Storage variance);

    /// <summary>y = x * scale[c] + shift[c] per channel of [N, C, HW].</summary>
    void ChannelAffine(Storage x, int n, int c, int hw, Storage scale, Storage shift, Storage y);

    /// <summary>Per-channel sum(gy) and sum(gy * (x - mean) * rstd) over [N, C, HW].</summary>
    void ChannelGradSums(Storage x, Storage gy, int n, int c, int hw, Storage mean, Storage rstd, Storage sumGy, Storage sumGyXhat);
}
