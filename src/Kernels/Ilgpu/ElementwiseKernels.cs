// Elementwise kernels: one thread per output element, operands addressed through Strides6 (any view,
// broadcast included, after the host merged dims to at most 6). Outputs are contiguous unless stated.
using ILGPU;

namespace Cuda.Nn.Kernels.Ilgpu;

internal static class ElementwiseKernels
{
    /// <summary>Strided copy with dtype conversion (CpuCopy's rules: same dtype copies bits, integer pairs go
    /// through long, the rest through double).</summary>
    public static void Copy(Index1D i, ArrayView<byte> s, int sdt, Strides6 ss, ArrayView<byte> d, int ddt, Strides6 ds, Shape6 shape, int elemSize)
    {
        long so = ss.At(i, shape), dof = ds.At(i, shape);
        if (sdt == ddt) DeviceElem.CopyBits(s, so, d, dof, elemSize);
        else if (DeviceElem.IsInt(sdt) && DeviceElem.IsInt(ddt)) DeviceElem.StoreL(d, ddt, dof, DeviceElem.LoadL(s, sdt, so));
        else DeviceElem.StoreD(d, ddt, dof, DeviceElem.LoadD(s, sdt, so));
    }

    /// <summary>Fills a strided view; integer dtypes take the host's already-converted long.</summary>
    public static void Fill(Index1D i, ArrayView<byte> d, int dt, Strides6 ds, Shape6 shape, double value, long intValue)
    {
        long o = ds.At(i, shape);
        if (dt == DeviceElem.I64 || dt == DeviceElem.I32) DeviceElem.StoreL(d, dt, o, intValue);
        else DeviceElem.StoreD(d, dt, o, value);
    }

    public static void Unary(Index1D i, ArrayView<byte> s, int sdt, Strides6 ss, Shape6 shape, ArrayView<byte> d, int ddt, int op, double alpha)
    {
        double x = DeviceElem.LoadD(s, sdt, ss.At(i, shape));
        DeviceElem.StoreD(d, ddt, i, DeviceMath.Unary(op, x, alpha));
    }

    /// <summary>gx = gy * op'(x); for RoundToHalf the gradient itself is rounded through binary16.</summary>
    public static void UnaryBackward(Index1D i, ArrayView<byte> x, int xdt, Strides6 xs, ArrayView<byte> gy, int gdt, Strides6 gs, Shape6 shape,
        ArrayView<byte> gx, int ddt, int op, double alpha)
    {
        double g = DeviceElem.LoadD(gy, gdt, gs.At(i, shape));
        double r;
        if (op == (int)UnaryOp.RoundToHalf) r = DeviceElem.HalfToDouble(DeviceElem.DoubleToHalf(g));
        else r = g * DeviceMath.Derivative(op, DeviceElem.LoadD(x, xdt, xs.At(i, shape)), alpha);
        DeviceElem.StoreD(gx, ddt, i, r);
    }

    public static void Binary(Index1D i, ArrayView<byte> a, int dt, Strides6 sa, ArrayView<byte> b, Strides6 sb, Shape6 shape, ArrayView<byte> d, int ddt, int op)
    {
        long ao = sa.At(i, shape), bo = sb.At(i, shape);
        if (DeviceElem.IsInt(dt))
        {
            long x = DeviceElem.LoadL(a, dt, ao), y = DeviceElem.LoadL(b, dt, bo);
            if (op >= (int)BinaryOp.Eq) d[i] = DeviceMath.CompareInt(op, x, y) ? (byte)1 : (byte)0;
            else DeviceElem.StoreL(d, ddt, i, DeviceMath.BinaryInt(op, x, y));
        }
        else
        {
            double x = DeviceElem.LoadD(a, dt, ao), y = DeviceElem.LoadD(b, dt, bo);
            if (op >= (int)BinaryOp.Eq) d[i] = DeviceMath.Compare(op, x, y) ? (byte)1 : (byte)0;
            else DeviceElem.StoreD(d, ddt, i, DeviceMath.Binary(op, x, y));
        }
    }

    /// <summary>a op scalar (or scalar op a); the host rounds the scalar to a's dtype first, as the CPU backend does.</summary>
    public static void BinaryScalar(Index1D i, ArrayView<byte> a, int dt, Strides6 sa, Shape6 shape, ArrayView<byte> d, int ddt, int op, double scalar, long intScalar, int scalarFirst)
    {
        long ao = sa.At(i, shape);
        if (DeviceElem.IsInt(dt))
        {
            long x = DeviceElem.LoadL(a, dt, ao), y = intScalar;
            if (scalarFirst != 0) { long t = x; x = y; y = t; }
            if (op >= (int)BinaryOp.Eq) d[i] = DeviceMath.CompareInt(op, x, y) ? (byte)1 : (byte)0;
            else DeviceElem.StoreL(d, ddt, i, DeviceMath.BinaryInt(op, x, y));
        }
        else
        {
            double x = DeviceElem.LoadD(a, dt, ao), y = scalar;
            if (scalarFirst != 0) { double t = x; x = y; y = t; }
            if (op >= (int)BinaryOp.Eq) d[i] = DeviceMath.Compare(op, x, y) ? (byte)1 : (byte)0;
            else DeviceElem.StoreD(d, ddt, i, DeviceMath.Binary(op, x, y));
        }
    }

    public static void Where(Index1D i, ArrayView<byte> c, Strides6 sc, ArrayView<byte> a, Strides6 sa, ArrayView<byte> b, Strides6 sb, Shape6 shape,
        ArrayView<byte> d, int elemSize)
    {
        if (c[sc.At(i, shape)] != 0) DeviceElem.CopyBits(a, sa.At(i, shape), d, i, elemSize);
        else DeviceElem.CopyBits(b, sb.At(i, shape), d, i, elemSize);
    }
}
