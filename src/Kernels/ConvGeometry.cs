// Shapes and hyper-parameters of a 2-D convolution or pooling window over NCHW data.
namespace Cuda.Nn.Kernels;

public readonly record struct ConvGeometry(
    int N, int C, int H, int W, int O, int KH, int KW,
    int SH, int SW, int PH, int PW, int DH, int DW, int Groups)
{
    public int OH => (H + 2 * PH - DH * (KH - 1) - 1) / SH + 1;
    public int OW => (W + 2 * PW - DW * (KW - 1) - 1) / SW + 1;
    public int CPerGroup => C / Groups;
    public int OPerGroup => O / Groups;
    public bool IsDepthwise => Groups == C && Groups > 1;
    public bool IsPointwise => KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;

    /// <summary>Multiply-accumulates of the forward pass.</summary>
    public long Macs => (long)N * O * OH * OW * CPerGroup * KH * KW;

    public void Validate()
    {
        if (N < 0 || C <= 0 || H <= 0 || W <= 0 || O <= 0 || KH <= 0 || KW <= 0)
            throw new ArgumentException($"conv2d: invalid sizes (input {N}x{C}x{H}x{W}, {O} filters of {KH}x{KW})");
        if (SH <= 0 || SW <= 0 || DH <= 0 || DW <= 0 || PH < 0 || PW < 0)
            throw new ArgumentException($"conv2d: stride ({SH}, {SW}) and dilation ({DH}, {DW}) must be positive, padding ({PH}, {PW}) non-negative");
        if (Groups <= 0 || C % Groups != 0 || O % Groups != 0)
            throw new ArgumentException($"conv2d: input channels {C} and output channels {O} must both be divisible by groups {Groups}");
        if (OH <= 0 || OW <= 0)
            throw new ArgumentException($"conv2d: kernel {KH}x{KW} (dilation {DH}x{DW}) is larger than the padded input {H + 2 * PH}x{W + 2 * PW}");
    }
}

/// <summary>A pooling window: kernel, stride, padding and the output size (ceil_mode already applied).</summary>
public readonly record struct PoolGeometry(int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW)
{
    /// <summary>PyTorch's pooling output size, with ceil_mode's rule that the last window must start inside the input or left padding.</summary>
    public static int OutputSize(int input, int kernel, int stride, int pad, bool ceilMode, int dilation = 1)
    {
        int span = input + 2 * pad - dilation * (kernel - 1) - 1;
        int o = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceilMode && (o - 1) * stride >= input + pad) o--;
        return o;
    }
}
