// ILGPU backend: unary, binary, scalar and where ops.
namespace Cuda.Nn.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    private static DType FloatCompute(DType dt) => dt is DType.F64 ? DType.F64 : DType.F32;

    public void Unary(UnaryOp op, Storage src, Layout srcLayout, Storage dst, double alpha = 0)
    {
        var s = S(src); var d = S(dst);
        int n = srcLayout.Numel;
        if (n == 0) return;
        var (shape, st) = Map(srcLayout.Shape, srcLayout);
        lock (_gate) K.Unary(Stream, n, s.Bytes, (int)s.DType, st[0], shape, d.Bytes, (int)d.DType, (int)op, alpha);
    }

    public void UnaryBackward(UnaryOp op, Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage gx, double alpha = 0)
    {
        var sx = S(x); var sg = S(gy); var d = S(gx);
        if (!d.DType.IsFloatingPoint()) throw Unsupported($"gradients of {op}", d.DType);
        int n = xLayout.Numel;
        if (n == 0) return;
        var (shape, st) = Map(xLayout.Shape, xLayout, gyLayout);
        lock (_gate) K.UnaryBackward(Stream, n, sx.Bytes, (int)sx.DType, st[0], sg.Bytes, (int)sg.DType, st[1], shape, d.Bytes, (int)d.DType, (int)op, alpha);
    }

    public void Binary(BinaryOp op, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst)
    {
        var sa = S(a); var sb = S(b); var d = S(dst);
        if (sb.DType != sa.DType) throw new ArgumentException($"binary {op} between {sa.DType} and {sb.DType}: promote first");
        int n = aLayout.Numel;
        if (n == 0) return;
        var (shape, st) = Map(aLayout.Shape, aLayout, bLayout);
        lock (_gate) K.Binary(Stream, n, sa.Bytes, (int)sa.DType, st[0], sb.Bytes, st[1], shape, d.Bytes, (int)d.DType, (int)op);
    }

    public void BinaryScalar(BinaryOp op, Storage a, Layout aLayout, double scalar, bool scalarFirst, Storage dst)
    {
        var sa = S(a); var d = S(dst);
        int n = aLayout.Numel;
        if (n == 0) return;
        // The CPU backend rounds the scalar to the compute type first (float for F32/F16/BF16, the integer type for integers).
        double sv = sa.DType == DType.F64 ? scalar : (float)scalar;
        long iv = sa.DType switch
        {
            DType.I64 => (long)scalar,
            DType.I32 => (int)scalar,
            DType.U8 or DType.Bool => (byte)scalar,
            DType.I8 => (sbyte)scalar,
            _ => 0,
        };
        var (shape, st) = Map(aLayout.Shape, aLayout);
        lock (_gate) K.BinaryScalar(Stream, n, sa.Bytes, (int)sa.DType, st[0], shape, d.Bytes, (int)d.DType, (int)op, sv, iv, scalarFirst ? 1 : 0);
    }

    public void Where(Storage cond, Layout condLayout, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst)
    {
        var c = S(cond); var d = S(dst);
        int n = condLayout.Numel;
        if (n == 0) return;
        if (c.DType != DType.Bool) throw Unsupported("where condition", c.DType);
        lock (_gate)
        {
            // Operands in another dtype than the output are converted first (the CPU backend's rule).
            var sa = S(a); var sb = S(b);
            IlgpuStorage? ca = null, cb = null;
            if (sa.DType != d.DType) { ca = Converted(sa, aLayout, d.DType); aLayout = Layout.Contiguous(aLayout.Shape); }
            if (sb.DType != d.DType) { cb = Converted(sb, bLayout, d.DType); bLayout = Layout.Contiguous(bLayout.Shape); }
            try
            {
                var (shape, st) = Map(condLayout.Shape, condLayout, aLayout, bLayout);
                K.Where(Stream, n, c.Bytes, st[0], (ca ?? sa).Bytes, st[1], (cb ?? sb).Bytes, st[2], shape, d.Bytes, d.DType.SizeOf());
            }
            finally { ca?.Release(); cb?.Release(); }
        }
    }
}
