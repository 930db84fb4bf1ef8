// The CPU backend: dtype dispatch and layout handling around the kernels in this folder.
// Strided inputs are first made contiguous through CpuCopy; F16/BF16 compute in F32 and round back.
namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend : IBackend
{
    public static readonly CpuBackend Instance = new();

    public Device Device => Device.Cpu;
    public string Name => "cpu";

    public Storage Allocate(DType dtype, int length, bool zero = false) => new CpuStorage(dtype, length, zero);

    private static CpuStorage C(Storage s) => s as CpuStorage ?? throw new ArgumentException($"expected CPU storage, got {s.Device}");

    public void Copy(Storage src, Layout srcLayout, Storage dst, Layout dstLayout) => CpuCopy.Copy(C(src), srcLayout, C(dst), dstLayout);

    public void Fill(Storage dst, Layout layout, double value)
    {
        var d = C(dst);
        if (layout.IsContiguous)
        {
            int n = layout.Numel, o = layout.Offset;
            switch (d.DType)
            {
                case DType.F32: d.AsSpan<float>().Slice(o, n).Fill((float)value); return;
                case DType.F64: d.AsSpan<double>().Slice(o, n).Fill(value); return;
                case DType.I64: d.AsSpan<long>().Slice(o, n).Fill((long)value); return;
                case DType.I32: d.AsSpan<int>().Slice(o, n).Fill((int)value); return;
            }
        }
        // Any other case: write one element, then broadcast-copy it over the view.
        var one = new CpuStorage(d.DType, 1);
        using var lease = new Lease(one);
        CpuCopy.WriteDouble(d.DType, one.Pointer, value);
        CpuCopy.Copy(one, new Layout((int[])layout.Shape.Clone(), new int[layout.Rank], 0), d, layout);
    }

    /// <summary>Returns a contiguous storage holding the view: the same storage when already contiguous at offset 0.</summary>
    private static CpuStorage Dense(CpuStorage s, Layout l, DType? as_ = null, bool forceCopy = false)
    {
        var dt = as_ ?? s.DType;
        if (!forceCopy && dt == s.DType && l.IsContiguous && l.Offset == 0 && l.Numel == s.Length) { s.AddRef(); return s; }
        var d = new CpuStorage(dt, l.Numel);
        CpuCopy.Copy(s, l, d, Layout.Contiguous(l.Shape));
        return d;
    }

    /// <summary>Contiguous pointer to the view's first element (no copy when the view is contiguous).</summary>
    private static CpuStorage DenseView(CpuStorage s, Layout l, DType dt, out byte* ptr)
    {
        if (dt == s.DType && l.IsContiguous)
        {
            s.AddRef();
            ptr = s.Pointer + (long)l.Offset * dt.SizeOf();
            return s;
        }
        var d = new CpuStorage(dt, l.Numel);
        CpuCopy.Copy(s, l, d, Layout.Contiguous(l.Shape));
        ptr = d.Pointer;
        return d;
    }

    private static DType ComputeType(DType dt) => dt is DType.F16 or DType.BF16 ? DType.F32 : dt;

    /// <summary>Writes a computed F32 buffer into dst of a reduced-precision dtype, or nothing when dst is the buffer.</summary>
    private static void Store(CpuStorage computed, CpuStorage dst, int n)
    {
        if (!ReferenceEquals(computed, dst)) CpuCopy.Convert(computed.DType, computed.Pointer, dst.DType, dst.Pointer, n);
    }

    private static CpuStorage Target(CpuStorage dst, DType compute) => dst.DType == compute ? dst : new CpuStorage(compute, dst.Length);

    private static void ReleaseIfTemp(CpuStorage tmp, CpuStorage dst) { if (!ReferenceEquals(tmp, dst)) tmp.Release(); }

    public void Unary(UnaryOp op, Storage src, Layout srcLayout, Storage dst, double alpha = 0)
    {
        var s = C(src);
        var d = C(dst);
        int n = srcLayout.Numel;
        var ct = ComputeType(s.DType);
        if (!ct.IsFloatingPoint())
        {
            // Integer inputs: compute in double through the scalar reference (rare: abs/neg/sign of indices).
            var tmpIn = Dense(s, srcLayout, DType.F64);
            using var lease = new Lease(tmpIn);
            var outTmp = new CpuStorage(DType.F64, n);
            var pi = tmpIn.Ptr<double>(); var po = outTmp.Ptr<double>();
            for (int i = 0; i < n; i++) po[i] = ScalarMath.Apply(op, pi[i], alpha);
            CpuCopy.Convert(DType.F64, outTmp.Pointer, d.DType, d.Pointer, n);
            outTmp.Release();
            return;
        }
        using var x = new Lease(DenseView(s, srcLayout, ct, out var px));
        var y = Target(d, ct);
        if (op == UnaryOp.RoundToHalf)
        {
            var xs = (float*)px; var ys = y.Ptr<float>();
            if (ct == DType.F64) { var xd = (double*)px; var yd = y.Ptr<double>(); for (int i = 0; i < n; i++) yd[i] = (double)(Half)xd[i]; }
            else for (int i = 0; i < n; i++) ys[i] = (float)(Half)xs[i];
        }
        else if (ct == DType.F32) CpuElementwise.UnaryFloat(op, (float*)px, y.Ptr<float>(), n, alpha);
        else CpuElementwise.UnaryFloat(op, (double*)px, y.Ptr<double>(), n, alpha);
        Store(y, d, n);
        ReleaseIfTemp(y, d);
    }

    public void UnaryBackward(UnaryOp op, Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage gx, double alpha = 0)
    {
        var d = C(gx);
        var ct = ComputeType(d.DType);
        int n = xLayout.Numel;
        using var xs = new Lease(DenseView(C(x), xLayout, ct, out var px));
        using var gs = new Lease(DenseView(C(gy), gyLayout, ct, out var pg));
        var y = Target(d, ct);
        if (op == UnaryOp.RoundToHalf)
        {
            // The gradient of an F16 value is an F16 value: round gy through binary16 (overflow becomes inf).
            if (ct == DType.F32) { var g = (float*)pg; var o = y.Ptr<float>(); for (int i = 0; i < n; i++) o[i] = (float)(Half)g[i]; }
            else { var g = (double*)pg; var o = y.Ptr<double>(); for (int i = 0; i < n; i++) o[i] = (double)(Half)g[i]; }
        }
        else if (ct == DType.F32) CpuElementwise.UnaryBackwardFloat(op, (float*)px, (float*)pg, y.Ptr<float>(), n, alpha);
        else if (ct == DType.F64) CpuElementwise.UnaryBackwardFloat(op, (double*)px, (double*)pg, y.Ptr<double>(), n, alpha);
        else throw new NotSupportedException($"gradients of {op} for {d.DType}");
        Store(y, d, n);
        ReleaseIfTemp(y, d);
    }

    public void Binary(BinaryOp op, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst)
    {
        var sa = C(a); var sb = C(b); var d = C(dst);
        int n = aLayout.Numel;
        var ct = ComputeType(sa.DType);
        if (sb.DType != sa.DType) throw new ArgumentException($"binary {op} between {sa.DType} and {sb.DType}: promote first");
        // Scalar-broadcast right operand: use the vectorised scalar path. The scalar travels as a double, which is
        // exact for every dtype but I64 (beyond 2^53), so I64 takes the general path.
        if (n > 1 && sb.DType != DType.I64 && Array.TrueForAll(bLayout.Strides, s => s == 0))
        {
            double sv = CpuCopy.ReadDouble(sb.DType, sb.Pointer + (long)bLayout.Offset * sb.DType.SizeOf());
            BinaryScalar(op, a, aLayout, sv, false, dst);
            return;
        }
        if (!op.IsComparison() && sa.DType == ct && d.DType == ct && ct is DType.F32 or DType.F64 && TryBroadcastRuns(op, sa, aLayout, sb, bLayout, d)) return;
        using var xa = new Lease(DenseView(sa, aLayout, ct, out var pa));
        using var xb = new Lease(DenseView(sb, bLayout, ct, out var pb));
        if (op.IsComparison())
        {
            DispatchCompare(op, ct, pa, pb, d.Pointer, n);
            return;
        }
        var y = Target(d, ct);
        switch (ct)
        {
            case DType.F32: CpuElementwise.BinaryFloat(op, (float*)pa, (float*)pb, y.Ptr<float>(), n); break;
            case DType.F64: CpuElementwise.BinaryFloat(op, (double*)pa, (double*)pb, y.Ptr<double>(), n); break;
            case DType.I64: CpuElementwise.BinaryInt(op, (long*)pa, (long*)pb, y.Ptr<long>(), n); break;
            case DType.I32: CpuElementwise.BinaryInt(op, (int*)pa, (int*)pb, y.Ptr<int>(), n); break;
            case DType.U8: case DType.Bool: CpuElementwise.BinaryInt(op, pa, pb, y.Ptr<byte>(), n); break;
            case DType.I8: CpuElementwise.BinaryInt(op, (sbyte*)pa, (sbyte*)pb, y.Ptr<sbyte>(), n); break;
            default: throw new NotSupportedException($"binary {op} on {ct}");
        }
        Store(y, d, n);
        ReleaseIfTemp(y, d);
    }

    /// <summary>
    /// Broadcast without materialising: when a is contiguous and, after merging dims, b repeats along runs of at
    /// least 16 elements (stride 1 or 0 in the last dim), apply the vector kernel run by run. This is the
    /// [N, C, H, W] op [1, C, 1, 1] case (per-channel scales, SE gates, bias adds).
    /// </summary>
    private static bool TryBroadcastRuns(BinaryOp op, CpuStorage a, Layout al, CpuStorage b, Layout bl, CpuStorage d)
    {
        if (!al.IsContiguous) return false;
        CpuCopy.Coalesce(al.Shape, al.Strides, bl.Strides, out var shape, out var sa, out var sb);
        int rank = shape.Length, inner = shape[rank - 1];
        if (rank < 2 || inner < 16 || sa[rank - 1] != 1 || (sb[rank - 1] != 1 && sb[rank - 1] != 0)) return false;
        int outer = al.Numel / inner;
        bool scalarRun = sb[rank - 1] == 0;
        var bOffsets = new long[outer];
        var idx = new int[rank - 1];
        for (int o = 0; o < outer; o++)
        {
            long off = bl.Offset;
            for (int k = 0; k < rank - 1; k++) off += (long)idx[k] * sb[k];
            bOffsets[o] = off;
            for (int k = rank - 2; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
        }
        if (a.DType == DType.F32) Runs(op, a.Ptr<float>() + al.Offset, b.Ptr<float>(), d.Ptr<float>(), bOffsets, inner, scalarRun);
        else Runs(op, a.Ptr<double>() + al.Offset, b.Ptr<double>(), d.Ptr<double>(), bOffsets, inner, scalarRun);
        return true;
    }

    private static void Runs<T>(BinaryOp op, T* a, T* b, T* d, long[] bOffsets, int inner, bool scalarRun) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(bOffsets.Length, Math.Max(1, CpuElementwise.ParallelThreshold / inner), (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                long at = (long)o * inner;
                if (scalarRun) CpuElementwise.BinaryScalarRun(op, a + at, b[bOffsets[o]], d + at, inner);
                else CpuElementwise.BinaryRun(op, a + at, b + bOffsets[o], d + at, inner);
            }
        });
    }

    private static void DispatchCompare(BinaryOp op, DType ct, byte* pa, byte* pb, byte* d, int n)
    {
        switch (ct)
        {
            case DType.F32: CpuElementwise.Compare(op, (float*)pa, (float*)pb, d, n); break;
            case DType.F64: CpuElementwise.Compare(op, (double*)pa, (double*)pb, d, n); break;
            case DType.I64: CpuElementwise.Compare(op, (long*)pa, (long*)pb, d, n); break;
            case DType.I32: CpuElementwise.Compare(op, (int*)pa, (int*)pb, d, n); break;
            case DType.U8: case DType.Bool: CpuElementwise.Compare(op, pa, pb, d, n); break;
            case DType.I8: CpuElementwise.Compare(op, (sbyte*)pa, (sbyte*)pb, d, n); break;
            default: throw new NotSupportedException($"comparison on {ct}");
        }
    }

    public void BinaryScalar(BinaryOp op, Storage a, Layout aLayout, double scalar, bool scalarFirst, Storage dst)
    {
        var sa = C(a); var d = C(dst);
        int n = aLayout.Numel;
        var ct = ComputeType(sa.DType);
        using var xa = new Lease(DenseView(sa, aLayout, ct, out var pa));
        if (op.IsComparison())
        {
            switch (ct)
            {
                case DType.F32: CpuElementwise.CompareScalar(op, (float*)pa, (float)scalar, scalarFirst, d.Pointer, n); break;
                case DType.F64: CpuElementwise.CompareScalar(op, (double*)pa, scalar, scalarFirst, d.Pointer, n); break;
                case DType.I64: CpuElementwise.CompareScalar(op, (long*)pa, (long)scalar, scalarFirst, d.Pointer, n); break;
                case DType.I32: CpuElementwise.CompareScalar(op, (int*)pa, (int)scalar, scalarFirst, d.Pointer, n); break;
                case DType.U8: case DType.Bool: CpuElementwise.CompareScalar(op, pa, (byte)scalar, scalarFirst, d.Pointer, n); break;
                case DType.I8: CpuElementwise.CompareScalar(op, (sbyte*)pa, (sbyte)scalar, scalarFirst, d.Pointer, n); break;
                default: throw new NotSupportedException($"comparison on {ct}");
            }
            return;
        }
        var y = Target(d, ct);
        switch (ct)
        {
            case DType.F32: CpuElementwise.BinaryScalarFloat(op, (float*)pa, (float)scalar, scalarFirst, y.Ptr<float>(), n); break;
            case DType.F64: CpuElementwise.BinaryScalarFloat(op, (double*)pa, scalar, scalarFirst, y.Ptr<double>(), n); break;
            case DType.I64: CpuElementwise.BinaryScalarInt(op, (long*)pa, (long)scalar, scalarFirst, y.Ptr<long>(), n); break;
            case DType.I32: CpuElementwise.BinaryScalarInt(op, (int*)pa, (int)scalar, scalarFirst, y.Ptr<int>(), n); break;
            case DType.U8: case DType.Bool: CpuElementwise.BinaryScalarInt(op, pa, (byte)scalar, scalarFirst, y.Ptr<byte>(), n); break;
            case DType.I8: CpuElementwise.BinaryScalarInt(op, (sbyte*)pa, (sbyte)scalar, scalarFirst, y.Ptr<sbyte>(), n); break;
            default: throw new NotSupportedException($"binary {op} on {ct}");
        }
        Store(y, d, n);
        ReleaseIfTemp(y, d);
    }

    public void Where(Storage cond, Layout condLayout, Storage a, Layout aLayout, Storage b, Layout bLayout, Storage dst)
    {
        var d = C(dst);
        int n = condLayout.Numel;
        using var c = new Lease(DenseView(C(cond), condLayout, DType.Bool, out var pc));
        using var xa = new Lease(DenseView(C(a), aLayout, d.DType, out var pa));
        using var xb = new Lease(DenseView(C(b), bLayout, d.DType, out var pb));
        switch (d.DType.SizeOf())
        {
            case 1: CpuElementwise.Where(pc, pa, pb, d.Pointer, n); break;
            case 2: CpuElementwise.Where(pc, (ushort*)pa, (ushort*)pb, d.Ptr<ushort>(), n); break;
            case 4: CpuElementwise.Where(pc, (uint*)pa, (uint*)pb, d.Ptr<uint>(), n); break;
            default: CpuElementwise.Where(pc, (ulong*)pa, (ulong*)pb, d.Ptr<ulong>(), n); break;
        }
    }

    /// <summary>Releases a storage reference at the end of a using block.</summary>
    private readonly struct Lease(CpuStorage s) : IDisposable
    {
        public CpuStorage Storage => s;
        public void Dispose() => s.Release();
    }
}
