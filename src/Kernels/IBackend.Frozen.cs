// Inference ops on frozen weights: the inference plan's fused convolution (bias with batch norm folded in, residual
// add and activation in the output pass) and the channel-blocked activation layout that such convs pass to each
// other. The plan asks the backend which frozen variant runs a geometry, prepares it once per input size and runs it;
// a backend with no frozen variant for a geometry answers null and the plan runs the eager ops instead.
namespace Cuda.Nn.Kernels;

/// <summary>The activation a frozen convolution applies after its bias and residual.</summary>
public enum FusedActivation { None, Relu }

/// <summary>A convolution on frozen weights, prepared by a backend for one input size (IBackend.PrepareFrozenConv2d):
/// the weights packed for its variant. Owned by the caller; Dispose frees the packed weights.</summary>
public interface IFrozenConv2d : IDisposable
{
    /// <summary>The variant's registry name (FAMILY:VARIANT, docs/kernels.md), e.g. "conv2d.frozen:blocked".</summary>
    string Variant { get; }

    /// <summary>The geometry it was prepared for, of one image (N = 1); it runs any batch of that size.</summary>
    Conv2dGeometry Geometry { get; }

    /// <summary>Its tiling, for InferencePlan.Describe and the benchmarks' logs.</summary>
    string Describe { get; }

    /// <summary>Whether its kernel writes channel-blocked outputs (so an NCHW output costs a conversion, and readers
    /// that take blocked inputs should get blocked ones).</summary>
    bool WritesBlocked { get; }
}

/// <summary>
/// The channel-blocked activation layout: n images of [C, H, W] as a rank-5 tensor [n, ceil(C/16), H + 2, W + 2, 16],
/// channel c of cell (h, w) at [c / 16, h + 1, w + 1, c mod 16]; the one-cell border and the channels past C in the
/// last block are zero, so a 3x3 conv with padding 1 reads it without bounds checks (ONNX Runtime's NCHWc, bordered).
/// </summary>
public static class ChannelBlocked
{
    public const int Lanes = 16;
    public const int Border = 1;

    public static int Blocks(int channels) => (channels + Lanes - 1) / Lanes;

    /// <summary>The tensor shape that holds n images of [c, h, w] blocked.</summary>
    public static int[] Shape(int n, int c, int h, int w) => [n, Blocks(c), h + 2 * Border, w + 2 * Border, Lanes];

    /// <summary>The [H, W] of the images a blocked shape holds.</summary>
    public static (int H, int W) Plane(ReadOnlySpan<int> shape) => (shape[2] - 2 * Border, shape[3] - 2 * Border);
}

public partial interface IBackend
{
    /// <summary>Whether a frozen conv with these settings can read a channel-blocked input (asked before any input size
    /// is known, so the plan may leave its producers' outputs blocked).</summary>
    bool FrozenConv2dReadsBlocked(int groups, int strideH, int strideW, int padH, int padW);

    /// <summary>The frozen variant that runs geometry g (g.N the batch) of this dtype on an input that is channel-blocked
    /// or NCHW, or null where none applies (the caller runs the eager ops).</summary>
    string? ChooseFrozenConv2d(in Conv2dGeometry g, DType dtype, bool blockedInput);

    /// <summary>Packs w [O, C/G, KH, KW] and bias [O] for variant (from ChooseFrozenConv2d) on inputs of g's size.</summary>
    IFrozenConv2d PrepareFrozenConv2d(string variant, Storage w, Layout wLayout, Storage bias, Layout biasLayout, in Conv2dGeometry g, bool blockedInput);

    /// <summary>y = act(conv(x) + bias + residual) for the batch x holds. x, residual (may be null) and y are each
    /// contiguous NCHW (rank 4) or channel-blocked (rank 5, ChannelBlocked); a variant reads the layouts it takes and
    /// converts the others. y must not overlap x or residual.</summary>
    void FrozenConv2d(IFrozenConv2d conv, Storage x, Layout xLayout, Storage? residual, Layout? residualLayout, Storage y, Layout yLayout, FusedActivation act);

    /// <summary>Copies NCHW x [n, c, h, w] (any strides) into contiguous channel-blocked y, border and padding channels zero.</summary>
    void ToChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout);

    /// <summary>Copies channel-blocked x (contiguous) of n images of `channels` channels into contiguous NCHW y.</summary>
    void FromChannelBlocked(Storage x, Layout xLayout, int channels, Storage y, Layout yLayout);

    /// <summary>Max pooling from channel-blocked x to channel-blocked y (g.C the real channels; padding at most half the
    /// kernel; dilation 1).</summary>
    void MaxPool2dChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout, in Pool2dGeometry g);
}
