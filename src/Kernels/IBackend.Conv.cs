// Convolution, pooling, batch norm and resampling ops (NCHW activations, OIHW weights). Inputs are views
// (Storage + Layout, any strides); outputs are fresh contiguous storages of the input's float dtype (F32/F64).
namespace Cuda.Nn.Kernels;

/// <summary>Geometry of a 2-D convolution: input [N, C, H, W], weight [O, C/Groups, KH, KW], output [N, O, OH, OW].</summary>
public readonly record struct Conv2dGeometry(int N, int C, int H, int W, int O, int KH, int KW,
    int SH = 1, int SW = 1, int PH = 0, int PW = 0, int DH = 1, int DW = 1, int Groups = 1)
{
    /// <summary>floor((H + 2p - d(k-1) - 1) / s) + 1.</summary>
    public int OH => (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
    public int OW => (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;

    /// <summary>Multiply-adds of the forward pass.</summary>
    public long Macs => (long)N * O * OH * OW * (C / Groups) * KH * KW;

    public override string ToString() =>
        $"N{N} C{C} {H}x{W} -> O{O} k{KH}x{KW} s{SH},{SW} p{PH},{PW} d{DH},{DW} g{Groups} (out {OH}x{OW})";
}

/// <summary>Geometry of a windowed 2-D pooling: input [N, C, H, W] to output [N, C, OH, OW].</summary>
public readonly record struct Pool2dGeometry(int N, int C, int H, int W, int OH, int OW, int KH, int KW,
    int SH, int SW, int PH, int PW, int DH = 1, int DW = 1)
{
    /// <summary>PyTorch's pooling output size: floor (or ceil) of (in + 2p - d(k-1) - 1) / s, plus one; in ceil mode
    /// the last window must start inside the input or the left padding.</summary>
    public static int OutputSize(int input, int k, int s, int p, int d, bool ceilMode)
    {
        long span = (long)input + 2 * p - (long)d * (k - 1) - 1;
        long o = (ceilMode ? (span + s - 1) / s : span / s) + 1;
        if (ceilMode && (o - 1) * s >= input + p) o--;
        return (int)o;
    }
}

public enum PadMode : byte { Constant, Reflect, Replicate }

public enum ResampleMode : byte
{
    /// <summary>PyTorch's legacy 'nearest': src = min(floor(dst * scale), in - 1).</summary>
    Nearest,
    Bilinear,
}

public partial interface IBackend
{
    /// <summary>y [N, O, OH, OW] = conv(x, w) + b (cross-correlation, no kernel flip). bias is [O] or null.</summary>
    void Conv2d(Storage x, Layout xLayout, Storage w, Layout wLayout, Storage? bias, Layout? biasLayout, Storage y, in Conv2dGeometry g);

    /// <summary>gx [N, C, H, W] = grad of sum(y * gy) with respect to x (overwritten).</summary>
    void Conv2dBackwardData(Storage gy, Layout gyLayout, Storage w, Layout wLayout, Storage gx, in Conv2dGeometry g);

    /// <summary>gw [O, C/G, KH, KW] and gb [O] (either may be null) = grads of sum(y * gy) (overwritten).</summary>
    void Conv2dBackwardFilter(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage? gw, Storage? gbias, in Conv2dGeometry g);

    /// <summary>Max pooling; padding counts as -inf. indices (I64, y's shape) receive the argmax as h * W + w within
    /// its input plane (first maximum in row-major window order; NaN wins); null indices: values only (inference).</summary>
    void MaxPool2d(Storage x, Layout xLayout, Storage y, Storage? indices, in Pool2dGeometry g);

    /// <summary>gx [N, C, inH, inW] = scatter-add of gy at indices (max and adaptive max pooling backward).</summary>
    void MaxPool2dBackward(Storage gy, Layout gyLayout, Storage indices, Storage gx, int inH, int inW);

    /// <summary>Average pooling (no dilation). countIncludePad divides by the window clipped to the padded input,
    /// otherwise by the real cells; divisorOverride (when > 0) replaces either.</summary>
    void AvgPool2d(Storage x, Layout xLayout, Storage y, in Pool2dGeometry g, bool countIncludePad, int divisorOverride);

    void AvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, in Pool2dGeometry g, bool countIncludePad, int divisorOverride);

    /// <summary>Adaptive average (or max, with indices) pooling of x [N, C, H, W] to [N, C, outH, outW]; output cell i
    /// covers rows floor(i H / outH) .. ceil((i + 1) H / outH) (exclusive), the same for columns.</summary>
    void AdaptivePool2d(bool max, Storage x, Layout xLayout, Storage y, Storage? indices, int outH, int outW);

    void AdaptiveAvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, int inH, int inW);

    /// <summary>Per-channel mean and biased variance of x [N, C, ...] over N and the trailing dims; mean and var are [C].</summary>
    void ChannelStats(Storage x, Layout xLayout, Storage mean, Storage var);

    /// <summary>y = x * scale[c] + shift[c] for x [N, C, ...]: batch norm's folded (inference) form.</summary>
    void ChannelAffine(Storage x, Layout xLayout, Storage scale, Storage shift, Storage y);

    /// <summary>
    /// Batch norm backward for x [N, C, ...] with xhat = (x - mean) * invstd, M = N * prod(trailing dims):
    /// gbeta = sum(gy), ggamma = sum(gy * xhat), gx = gamma * invstd * (gy - (training ? (gbeta + xhat * ggamma) / M : 0)).
    /// gamma null means 1; any output may be null.
    /// </summary>
    void BatchNormBackward(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage mean, Storage invstd, Storage? gamma, bool training,
        Storage? gx, Storage? ggamma, Storage? gbeta);

    /// <summary>Resamples the last two dims of x [..., H, W] to [..., outH, outW]. scaleH/scaleW are the source
    /// coordinate scales (in/out, 1/scale_factor, or (in-1)/(out-1) with alignCorners), as PyTorch computes them.</summary>
    void Interpolate2d(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage x, Layout xLayout, Storage y, int outH, int outW);

    /// <summary>gx [..., inH, inW] (overwritten) = transpose of Interpolate2d applied to gy.</summary>
    void Interpolate2dBackward(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage gy, Layout gyLayout, Storage gx, int inH, int inW);

    /// <summary>Pads the last two dims of x [..., H, W] by non-negative amounts (reflect needs each pad &lt; the dim).</summary>
    void Pad2d(PadMode mode, Storage x, Layout xLayout, Storage y, int top, int bottom, int left, int right, double value);

    /// <summary>gx [..., H, W] (overwritten) from gy of the padded shape: a crop for constant, accumulation for reflect/replicate.</summary>
    void Pad2dBackward(PadMode mode, Storage gy, Layout gyLayout, Storage gx, int top, int bottom, int left, int right);
}
