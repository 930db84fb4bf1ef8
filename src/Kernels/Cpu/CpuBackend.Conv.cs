// CPU backend: convolution, pooling and per-channel ops (dtype dispatch; inputs are contiguous NCHW).
namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static void FloatOnly(Storage s, string op)
    {
        if (s.DType is not (DType.F32 or DType.F64)) throw new NotSupportedException($"{op} runs on F32 or F64 storage, got {s.DType}");
    }

    public void Conv2d(Storage x, Storage w, Storage? bias, Storage y, ConvGeometry g)
    {
        FloatOnly(x, "conv2d");
        if (x.DType == DType.F32) CpuConv.Forward(C(x).Ptr<float>(), C(w).Ptr<float>(), bias is null ? null : C(bias).Ptr<float>(), C(y).Ptr<float>(), g);
        else CpuConv.Forward(C(x).Ptr<double>(), C(w).Ptr<double>(), bias is null ? null : C(bias).Ptr<double>(), C(y).Ptr<double>(), g);
    }

    public void Conv2dBackwardData(Storage gy, Storage w, Storage gx, ConvGeometry g)
    {
        FloatOnly(gy, "conv2d backward");
        if (gy.DType == DType.F32) CpuConv.BackwardData(C(gy).Ptr<float>(), C(w).Ptr<float>(), C(gx).Ptr<float>(), g);
        else CpuConv.BackwardData(C(gy).Ptr<double>(), C(w).Ptr<double>(), C(gx).Ptr<double>(), g);
    }

    public void Conv2dBackwardFilter(Storage x, Storage gy, Storage gw, ConvGeometry g)
    {
        FloatOnly(x, "conv2d backward");
        if (x.DType == DType.F32) CpuConv.BackwardFilter(C(x).Ptr<float>(), C(gy).Ptr<float>(), C(gw).Ptr<float>(), g);
        else CpuConv.BackwardFilter(C(x).Ptr<double>(), C(gy).Ptr<double>(), C(gw).Ptr<double>(), g);
    }

    public void MaxPool2d(Storage x, Storage y, Storage indices, PoolGeometry p)
    {
        FloatOnly(x, "max_pool2d");
        if (x.DType == DType.F32) CpuPool.MaxForward(C(x).Ptr<float>(), C(y).Ptr<float>(), C(indices).Ptr<long>(), p);
        else CpuPool.MaxForward(C(x).Ptr<double>(), C(y).Ptr<double>(), C(indices).Ptr<long>(), p);
    }

    public void MaxPool2dBackward(Storage gy, Storage indices, Storage gx, PoolGeometry p)
    {
        if (gy.DType == DType.F32) CpuPool.MaxBackward(C(gy).Ptr<float>(), C(indices).Ptr<long>(), C(gx).Ptr<float>(), p);
        else CpuPool.MaxBackward(C(gy).Ptr<double>(), C(indices).Ptr<long>(), C(gx).Ptr<double>(), p);
    }

    public void AvgPool2d(Storage x, Storage y, PoolGeometry p, bool countIncludePad)
    {
        FloatOnly(x, "avg_pool2d");
        if (x.DType == DType.F32) CpuPool.AvgForward(C(x).Ptr<float>(), C(y).Ptr<float>(), p, countIncludePad);
        else CpuPool.AvgForward(C(x).Ptr<double>(), C(y).Ptr<double>(), p, countIncludePad);
    }

    public void AvgPool2dBackward(Storage gy, Storage gx, PoolGeometry p, bool countIncludePad)
    {
        if (gy.DType == DType.F32) CpuPool.AvgBackward(C(gy).Ptr<float>(), C(gx).Ptr<float>(), p, countIncludePad);
        else CpuPool.AvgBackward(C(gy).Ptr<double>(), C(gx).Ptr<double>(), p, countIncludePad);
    }

    public void ChannelStats(Storage x, int n, int c, int hw, Storage mean, Storage variance)
    {
        FloatOnly(x, "batch_norm");
        if (x.DType == DType.F32) CpuPool.ChannelStats(C(x).Ptr<float>(), n, c, hw, C(mean).Ptr<float>(), C(variance).Ptr<float>());
        else CpuPool.ChannelStats(C(x).Ptr<double>(), n, c, hw, C(mean).Ptr<double>(), C(variance).Ptr<double>());
    }

    public void ChannelAffine(Storage x, int n, int c, int hw, Storage scale, Storage shift, Storage y)
    {
        FloatOnly(x, "batch_norm");
        if (x.DType == DType.F32) CpuPool.ChannelAffine(C(x).Ptr<float>(), n, c, hw, C(scale).Ptr<float>(), C(shift).Ptr<float>(), C(y).Ptr<float>());
        else CpuPool.ChannelAffine(C(x).Ptr<double>(), n, c, hw, C(scale).Ptr<double>(), C(shift).Ptr<double>(), C(y).Ptr<double>());
    }

    public void ChannelGradSums(Storage x, Storage gy, int n, int c, int hw, Storage mean, Storage rstd, Storage sumGy, Storage sumGyXhat)
    {
        FloatOnly(x, "batch_norm backward");
        if (x.DType == DType.F32) CpuPool.ChannelGradSums(C(x).Ptr<float>(), C(gy).Ptr<float>(), n, c, hw, C(mean).Ptr<float>(), C(rstd).Ptr<float>(), C(sumGy).Ptr<float>(), C(sumGyXhat).Ptr<float>());
        else CpuPool.ChannelGradSums(C(x).Ptr<double>(), C(gy).Ptr<double>(), n, c, hw, C(mean).Ptr<double>(), C(rstd).Ptr<double>(), C(sumGy).Ptr<double>(), C(sumGyXhat).Ptr<double>());
    }
}
