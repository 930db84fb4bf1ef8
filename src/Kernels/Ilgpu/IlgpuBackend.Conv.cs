// ILGPU backend: convolution, pooling, batch norm and resampling. Not written yet: each op says so by name.
namespace Cuda.Nn.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    private static NotSupportedException NotYet(string op) => new($"ilgpu backend: {op} has no ILGPU kernel yet (see docs/ilgpu.md); run this model on the CPU backend");

    public void Conv2d(Storage x, Layout xLayout, Storage w, Layout wLayout, Storage? bias, Layout? biasLayout, Storage y, in Conv2dGeometry g) => throw NotYet("conv2d");
    public void Conv2dBackwardData(Storage gy, Layout gyLayout, Storage w, Layout wLayout, Storage gx, in Conv2dGeometry g) => throw NotYet("conv2d backward (data)");
    public void Conv2dBackwardFilter(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage? gw, Storage? gbias, in Conv2dGeometry g) => throw NotYet("conv2d backward (filter)");
    public void MaxPool2d(Storage x, Layout xLayout, Storage y, Storage indices, in Pool2dGeometry g) => throw NotYet("max_pool2d");
    public void MaxPool2dBackward(Storage gy, Layout gyLayout, Storage indices, Storage gx, int inH, int inW) => throw NotYet("max_pool2d backward");
    public void AvgPool2d(Storage x, Layout xLayout, Storage y, in Pool2dGeometry g, bool countIncludePad, int divisorOverride) => throw NotYet("avg_pool2d");
    public void AvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, in Pool2dGeometry g, bool countIncludePad, int divisorOverride) => throw NotYet("avg_pool2d backward");
    public void AdaptivePool2d(bool max, Storage x, Layout xLayout, Storage y, Storage? indices, int outH, int outW) => throw NotYet("adaptive pooling");
    public void AdaptiveAvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, int inH, int inW) => throw NotYet("adaptive_avg_pool2d backward");
    public void ChannelStats(Storage x, Layout xLayout, Storage mean, Storage var) => throw NotYet("batch norm statistics");
    public void ChannelAffine(Storage x, Layout xLayout, Storage scale, Storage shift, Storage y) => throw NotYet("batch norm affine");
    public void BatchNormBackward(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage mean, Storage invstd, Storage? gamma, bool training,
        Storage? gx, Storage? ggamma, Storage? gbeta) => throw NotYet("batch norm backward");
    public void Interpolate2d(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage x, Layout xLayout, Storage y, int outH, int outW) => throw NotYet("interpolate");
    public void Interpolate2dBackward(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage gy, Layout gyLayout, Storage gx, int inH, int inW) => throw NotYet("interpolate backward");
    public void Pad2d(PadMode mode, Storage x, Layout xLayout, Storage y, int top, int bottom, int left, int right, double value) => throw NotYet("pad");
    public void Pad2dBackward(PadMode mode, Storage gy, Layout gyLayout, Storage gx, int top, int bottom, int left, int right) => throw NotYet("pad backward");
}
