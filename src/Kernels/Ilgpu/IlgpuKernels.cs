// The kernel registry: each kernel is compiled on first use and its launcher delegate kept for the
// accelerator's lifetime. ILGPU's own kernel cache holds weak references, so without this a GC could force a
// recompile (~100 ms each) in the middle of training.
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

internal sealed partial class IlgpuKernels(Accelerator acc)
{
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, int, Strides6, Shape6, int>? _copy;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, Shape6, double, long>? _fill;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double>? _unary;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double>? _unaryBackward;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, Strides6, Shape6, ArrayView<byte>, int, int>? _binary;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double, long, int>? _binaryScalar;
    private Action<AcceleratorStream, Index1D, ArrayView<byte>, Strides6, ArrayView<byte>, Strides6, ArrayView<byte>, Strides6, Shape6, ArrayView<byte>, int>? _where;

    /// <summary>Number of kernels compiled so far (tests check that a second run compiles nothing).</summary>
    public int Loaded { get; private set; }

    private T Track<T>(T kernel)
    {
        Loaded++;
        return kernel;
    }

    public void Copy(AcceleratorStream s, int n, ArrayView<byte> src, int sdt, Strides6 ss, ArrayView<byte> dst, int ddt, Strides6 ds, Shape6 shape, int es) =>
        (_copy ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, int, Strides6, Shape6, int>(ElementwiseKernels.Copy)))
            (s, n, src, sdt, ss, dst, ddt, ds, shape, es);

    public void Fill(AcceleratorStream s, int n, ArrayView<byte> d, int dt, Strides6 ds, Shape6 shape, double v, long iv) =>
        (_fill ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, Shape6, double, long>(ElementwiseKernels.Fill)))
            (s, n, d, dt, ds, shape, v, iv);

    public void Unary(AcceleratorStream s, int n, ArrayView<byte> x, int xdt, Strides6 xs, Shape6 shape, ArrayView<byte> d, int ddt, int op, double alpha) =>
        (_unary ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double>(ElementwiseKernels.Unary)))
            (s, n, x, xdt, xs, shape, d, ddt, op, alpha);

    public void UnaryBackward(AcceleratorStream s, int n, ArrayView<byte> x, int xdt, Strides6 xs, ArrayView<byte> gy, int gdt, Strides6 gs, Shape6 shape, ArrayView<byte> gx, int ddt, int op, double alpha) =>
        (_unaryBackward ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double>(ElementwiseKernels.UnaryBackward)))
            (s, n, x, xdt, xs, gy, gdt, gs, shape, gx, ddt, op, alpha);

    public void Binary(AcceleratorStream s, int n, ArrayView<byte> x, int dt, Strides6 xs, ArrayView<byte> y, Strides6 ys, Shape6 shape, ArrayView<byte> d, int ddt, int op) =>
        (_binary ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, ArrayView<byte>, Strides6, Shape6, ArrayView<byte>, int, int>(ElementwiseKernels.Binary)))
            (s, n, x, dt, xs, y, ys, shape, d, ddt, op);

    public void BinaryScalar(AcceleratorStream s, int n, ArrayView<byte> x, int dt, Strides6 xs, Shape6 shape, ArrayView<byte> d, int ddt, int op, double sv, long iv, int first) =>
        (_binaryScalar ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, int, Strides6, Shape6, ArrayView<byte>, int, int, double, long, int>(ElementwiseKernels.BinaryScalar)))
            (s, n, x, dt, xs, shape, d, ddt, op, sv, iv, first);

    public void Where(AcceleratorStream s, int n, ArrayView<byte> c, Strides6 cs, ArrayView<byte> x, Strides6 xs, ArrayView<byte> y, Strides6 ys, Shape6 shape, ArrayView<byte> d, int es) =>
        (_where ??= Track(acc.LoadAutoGroupedKernel<Index1D, ArrayView<byte>, Strides6, ArrayView<byte>, Strides6, ArrayView<byte>, Strides6, Shape6, ArrayView<byte>, int>(ElementwiseKernels.Where)))
            (s, n, c, cs, x, xs, y, ys, shape, d, es);
}
