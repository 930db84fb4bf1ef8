// Registry entries for the row-wise, GEMM, indexing, random and optimizer kernels.
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int, ArrayView<byte>, int>? _reduceRows;
    private Action<AcceleratorStream, KernelConfig, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>? _reduceGrouped;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>? _gemmF32;
    private Action<AcceleratorStream, KernelConfig, ArrayView<double>, ArrayView<double>, ArrayView<double>, GemmArgs>? _gemmF64;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>? _softmax;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, long, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>? _softmaxBackward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _layerNorm;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _layerNormBackRows;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>? _layerNormBackCols;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, long, int, int, int, ArrayView<byte>, int, long, ArrayView<byte>, int>? _indexSelect;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, Strides6, Shape6, int, int, ArrayView<byte>, int, long, ArrayView<byte>, int>? _gather;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, Shape6, int, int, ArrayView<byte>, int, long, ArrayView<byte>, Strides6>? _scatterAdd;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, ulong, ulong, int, double, double, int>? _fillRandom;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float, float, int, int>? _sgd;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs>? _adam;

    public void ReduceRows(AcceleratorStream s, int rows, ArrayView<byte> x, int xdt, long off, int inner, ArrayView<byte> d, int ddt, int op, ArrayView<byte> arg, int wantArg) =>
        (_reduceRows ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int, ArrayView<byte>, int>(StructuredKernels.ReduceRows)))
            (s, rows, x, xdt, off, inner, d, ddt, op, arg, wantArg);

    public void ReduceRowsGrouped(AcceleratorStream s, int rows, int group, ArrayView<byte> x, int xdt, long off, int inner, ArrayView<byte> d, int ddt, int op) =>
        (_reduceGrouped ??= Track(acc.LoadKernel<ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>(StructuredKernels.ReduceRowsGrouped)))
            (s, new KernelConfig(rows, group), x, xdt, off, inner, d, ddt, op);

    public void GemmF32(AcceleratorStream s, KernelConfig cfg, ArrayView<float> x, ArrayView<float> y, ArrayView<float> c, GemmArgs g) =>
        (_gemmF32 ??= Track(acc.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(StructuredKernels.Gemm<float, MulAddF32>)))(s, cfg, x, y, c, g);

    public void GemmF64(AcceleratorStream s, KernelConfig cfg, ArrayView<double> x, ArrayView<double> y, ArrayView<double> c, GemmArgs g) =>
        (_gemmF64 ??= Track(acc.LoadKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, GemmArgs>(StructuredKernels.Gemm<double, MulAddF64>)))(s, cfg, x, y, c, g);

    public void Softmax(AcceleratorStream s, int rows, ArrayView<byte> x, int xdt, long off, int len, ArrayView<byte> y, int ydt, int log) =>
        (_softmax ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>(StructuredKernels.Softmax)))
            (s, rows, x, xdt, off, len, y, ydt, log);

    public void SoftmaxBackward(AcceleratorStream s, int rows, ArrayView<byte> y, int ydt, long yOff, ArrayView<byte> gy, int gdt, long gOff, int len, ArrayView<byte> gx, int ddt, int log) =>
        (_softmaxBackward ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, long, ArrayView<byte>, int, long, int, ArrayView<byte>, int, int>(StructuredKernels.SoftmaxBackward)))
            (s, rows, y, ydt, yOff, gy, gdt, gOff, len, gx, ddt, log);

    public void LayerNorm(AcceleratorStream s, int rows, ArrayView<float> x, int d, ArrayView<float> w, ArrayView<float> b, int hasW, int hasB, float eps, ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd) =>
        (_layerNorm ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, int, int, float, ArrayView<float>, ArrayView<float>, ArrayView<float>>(StructuredKernels.LayerNorm)))
            (s, rows, x, d, w, b, hasW, hasB, eps, y, mean, rstd);

    public void LayerNormBackwardRows(AcceleratorStream s, int rows, ArrayView<float> x, ArrayView<float> gy, int d, ArrayView<float> w, int hasW, ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> gx) =>
        (_layerNormBackRows ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, int, ArrayView<float>, ArrayView<float>, ArrayView<float>>(StructuredKernels.LayerNormBackwardRows)))
            (s, rows, x, gy, d, w, hasW, mean, rstd, gx);

    public void LayerNormBackwardColumns(AcceleratorStream s, int d, ArrayView<float> x, ArrayView<float> gy, int rows, ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> gw, ArrayView<float> gb, int wantW, int wantB) =>
        (_layerNormBackCols ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(StructuredKernels.LayerNormBackwardColumns)))
            (s, d, x, gy, rows, d, mean, rstd, gw, gb, wantW, wantB);

    public void IndexSelect(AcceleratorStream s, int n, ArrayView<byte> x, long off, int mid, int inner, int count, ArrayView<byte> idx, int idt, long idxOff, ArrayView<byte> d, int es) =>
        (_indexSelect ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, long, int, int, int, ArrayView<byte>, int, long, ArrayView<byte>, int>(IndexKernels.IndexSelect)))
            (s, n, x, off, mid, inner, count, idx, idt, idxOff, d, es);

    public void Gather(AcceleratorStream s, int n, ArrayView<byte> x, Strides6 xs, Shape6 ishape, int dim, int size, ArrayView<byte> idx, int idt, long idxOff, ArrayView<byte> d, int es) =>
        (_gather ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, Strides6, Shape6, int, int, ArrayView<byte>, int, long, ArrayView<byte>, int>(IndexKernels.Gather)))
            (s, n, x, xs, ishape, dim, size, idx, idt, idxOff, d, es);

    public void ScatterAdd(AcceleratorStream s, int n, ArrayView<byte> d, int dt, Strides6 ds, Shape6 ishape, int dim, int size, ArrayView<byte> idx, int idt, long idxOff, ArrayView<byte> x, Strides6 xs) =>
        (_scatterAdd ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, Shape6, int, int, ArrayView<byte>, int, long, ArrayView<byte>, Strides6>(IndexKernels.ScatterAdd)))
            (s, n, d, dt, ds, ishape, dim, size, idx, idt, idxOff, x, xs);

    public void FillRandom(AcceleratorStream s, int n, ArrayView<byte> d, int dt, ulong seed, ulong offset, int normal, double low, double high, int bits) =>
        (_fillRandom ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, ulong, ulong, int, double, double, int>(IndexKernels.FillRandom)))
            (s, n, d, dt, seed, offset, normal, low, high, bits);

    public void Sgd(AcceleratorStream s, int n, ArrayView<float> p, ArrayView<float> g, ArrayView<float> buf, int hasBuf, float lr, float mu, float damp, float wd, int nesterov, int first) =>
        (_sgd ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float, float, float, int, int>(IndexKernels.Sgd)))
            (s, n, p, g, buf, hasBuf, lr, mu, damp, wd, nesterov, first);

    public void Adam(AcceleratorStream s, int n, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamArgs args) =>
        (_adam ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamArgs>(IndexKernels.Adam)))
            (s, n, p, g, m, v, args);
}
