// Registry entries for the convolution, pooling, resampling, padding and batch-norm kernels.
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, long, ArrayView<byte>, long, int, ArrayView<byte>, ConvArgs>? _conv;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, long, ArrayView<byte>, ConvArgs>? _convData, _convFilter;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, ConvArgs>? _convBias;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<long>, ArrayView<int>, PlaneArgs>? _maxPool;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<long>, ArrayView<byte>, int, int, int>? _maxPoolBack;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, ArrayView<double>, PlaneArgs>? _avgPool, _avgPoolBack, _resample, _resampleBack;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, PlaneArgs, double>? _pad;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, PlaneArgs>? _padBack;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, int, int, int, int, ArrayView<byte>, ArrayView<byte>>? _channelStats;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, int, int, int, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>>? _channelAffine;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, ArrayView<byte>, ChannelArgs, ArrayView<byte>, ArrayView<byte>, ArrayView<double>, ArrayView<byte>, ArrayView<byte>, int>? _bnSums;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, ArrayView<byte>, ChannelArgs, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, int, int, ArrayView<double>, ArrayView<byte>>? _bnGradInput;

    public void Conv2d(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> w, long wo, ArrayView<byte> b, long bo, int hasBias, ArrayView<byte> y, ConvArgs g) =>
        (_conv ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, long, ArrayView<byte>, long, int, ArrayView<byte>, ConvArgs>(ConvKernels.Conv2d)))
            (s, n, x, xo, w, wo, b, bo, hasBias, y, g);

    public void Conv2dBackwardData(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<byte> w, long wo, ArrayView<byte> gx, ConvArgs g) =>
        (_convData ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, long, ArrayView<byte>, ConvArgs>(ConvKernels.Conv2dBackwardData)))
            (s, n, gy, go, w, wo, gx, g);

    public void Conv2dBackwardFilter(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> gy, long go, ArrayView<byte> gw, ConvArgs g) =>
        (_convFilter ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, long, ArrayView<byte>, ConvArgs>(ConvKernels.Conv2dBackwardFilter)))
            (s, n, x, xo, gy, go, gw, g);

    public void Conv2dBiasGrad(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<byte> gb, ConvArgs g) =>
        (_convBias ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ConvArgs>(ConvKernels.Conv2dBiasGrad)))(s, n, gy, go, gb, g);

    public void MaxPool(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<long> idx, ArrayView<int> tab, PlaneArgs p) =>
        (_maxPool ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<long>, ArrayView<int>, PlaneArgs>(ConvKernels.MaxPool)))(s, n, x, xo, y, idx, tab, p);

    public void MaxPoolBackward(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<long> idx, ArrayView<byte> gx, int dt, int outPlane, int inPlane) =>
        (_maxPoolBack ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<long>, ArrayView<byte>, int, int, int>(ConvKernels.MaxPoolBackward)))
            (s, n, gy, go, idx, gx, dt, outPlane, inPlane);

    public void AvgPool(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> tab, ArrayView<double> div, PlaneArgs p) =>
        (_avgPool ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, ArrayView<double>, PlaneArgs>(ConvKernels.AvgPool)))(s, n, x, xo, y, tab, div, p);

    public void AvgPoolBackward(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> tab, ArrayView<double> div, PlaneArgs p) =>
        (_avgPoolBack ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, ArrayView<double>, PlaneArgs>(ConvKernels.AvgPoolBackward)))(s, n, gy, go, gx, tab, div, p);

    public void Resample(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> tab, ArrayView<double> wt, PlaneArgs p) =>
        (_resample ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, ArrayView<double>, PlaneArgs>(ConvKernels.Resample)))(s, n, x, xo, y, tab, wt, p);

    public void ResampleBackward(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> tab, ArrayView<double> wt, PlaneArgs p) =>
        (_resampleBack ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, ArrayView<double>, PlaneArgs>(ConvKernels.ResampleBackward)))(s, n, gy, go, gx, tab, wt, p);

    public void Pad(AcceleratorStream s, int n, ArrayView<byte> x, long xo, ArrayView<byte> y, ArrayView<int> map, PlaneArgs p, double value) =>
        (_pad ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, PlaneArgs, double>(ConvKernels.Pad)))(s, n, x, xo, y, map, p, value);

    public void PadBackward(AcceleratorStream s, int n, ArrayView<byte> gy, long go, ArrayView<byte> gx, ArrayView<int> map, PlaneArgs p) =>
        (_padBack ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, ArrayView<byte>, ArrayView<int>, PlaneArgs>(ConvKernels.PadBackward)))(s, n, gy, go, gx, map, p);

    public void ChannelStats(AcceleratorStream s, int c, ArrayView<byte> x, long xo, int n, int channels, int inner, int dt, ArrayView<byte> mean, ArrayView<byte> var) =>
        (_channelStats ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, int, int, int, int, ArrayView<byte>, ArrayView<byte>>(ConvKernels.ChannelStats)))
            (s, c, x, xo, n, channels, inner, dt, mean, var);

    public void ChannelAffine(AcceleratorStream s, int count, ArrayView<byte> x, long xo, int channels, int inner, int dt, ArrayView<byte> scale, ArrayView<byte> shift, ArrayView<byte> y) =>
        (_channelAffine ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, int, int, int, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>>(ConvKernels.ChannelAffine)))
            (s, count, x, xo, channels, inner, dt, scale, shift, y);

    public void BatchNormSums(AcceleratorStream s, int c, ArrayView<byte> x, ArrayView<byte> gy, ChannelArgs a, ArrayView<byte> mean, ArrayView<byte> invstd,
        ArrayView<double> sums, ArrayView<byte> ggamma, ArrayView<byte> gbeta, int want) =>
        (_bnSums ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, ArrayView<byte>, ChannelArgs, ArrayView<byte>, ArrayView<byte>, ArrayView<double>, ArrayView<byte>, ArrayView<byte>, int>(ConvKernels.BatchNormSums)))
            (s, c, x, gy, a, mean, invstd, sums, ggamma, gbeta, want);

    public void BatchNormGradInput(AcceleratorStream s, int count, ArrayView<byte> x, ArrayView<byte> gy, ChannelArgs a, ArrayView<byte> mean, ArrayView<byte> invstd,
        ArrayView<byte> gamma, int hasGamma, int training, ArrayView<double> sums, ArrayView<byte> gx) =>
        (_bnGradInput ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, ArrayView<byte>, ChannelArgs, ArrayView<byte>, ArrayView<byte>, ArrayView<byte>, int, int, ArrayView<double>, ArrayView<byte>>(ConvKernels.BatchNormGradInput)))
            (s, count, x, gy, a, mean, invstd, gamma, hasGamma, training, sums, gx);
}
