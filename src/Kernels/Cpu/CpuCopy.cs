// Strided copy with dtype conversion: the one place that walks arbitrary strides. Every other CPU
// kernel makes its inputs contiguous through here and then runs over flat spans.
using System.Runtime.CompilerServices;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuCopy
{
    /// <summary>Copies src view into dst view (same shape), converting the dtype when they differ.</summary>
    public static void Copy(CpuStorage src, Layout sl, CpuStorage dst, Layout dl)
    {
        if (!sl.Shape.AsSpan().SequenceEqual(dl.Shape))
            throw new ArgumentException($"copy between shapes {Layout.ShapeString(sl.Shape)} and {Layout.ShapeString(dl.Shape)}");
        int n = sl.Numel;
        if (n == 0) return;
        if (src.DType == dst.DType && sl.IsContiguous && dl.IsContiguous)
        {
            int es = src.DType.SizeOf();
            Buffer.MemoryCopy(src.Pointer + (long)sl.Offset * es, dst.Pointer + (long)dl.Offset * es, (long)n * es, (long)n * es);
            return;
        }
        if (src.DType != dst.DType && sl.IsContiguous && dl.IsContiguous)
        {
            Convert(src.DType, src.Pointer + (long)sl.Offset * src.DType.SizeOf(), dst.DType, dst.Pointer + (long)dl.Offset * dst.DType.SizeOf(), n);
            return;
        }
        // General strided walk: coalesce, then iterate outer indices with a tight inner loop.
        Coalesce(sl.Shape, sl.Strides, dl.Strides, out var shape, out var ss, out var ds);
        int rank = shape.Length;
        int inner = shape[rank - 1], sInner = ss[rank - 1], dInner = ds[rank - 1];
        int outer = n / inner;
        var idx = stackalloc int[rank];
        for (int i = 0; i < rank; i++) idx[i] = 0;
        long so = sl.Offset, dof = dl.Offset;
        for (int o = 0; o < outer; o++)
        {
            CopyRun(src, so, sInner, dst, dof, dInner, inner);
            // advance the multi-index over dims [0, rank-1)
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                so += ss[d];
                dof += ds[d];
                if (idx[d] < shape[d]) break;
                so -= (long)ss[d] * shape[d];
                dof -= (long)ds[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    private static void CopyRun(CpuStorage src, long so, int sStride, CpuStorage dst, long dOff, int dStride, int count)
    {
        if (src.DType == dst.DType)
        {
            switch (src.DType.SizeOf())
            {
                case 1: Run<byte>(src.Ptr<byte>() + so, sStride, dst.Ptr<byte>() + dOff, dStride, count); return;
                case 2: Run<ushort>(src.Ptr<ushort>() + so, sStride, dst.Ptr<ushort>() + dOff, dStride, count); return;
                case 4: Run<uint>(src.Ptr<uint>() + so, sStride, dst.Ptr<uint>() + dOff, dStride, count); return;
                default: Run<ulong>(src.Ptr<ulong>() + so, sStride, dst.Ptr<ulong>() + dOff, dStride, count); return;
            }
        }
        // Cast along a strided run, one element at a time: integer to integer through long (wrapping, like Convert),
        // anything else through double (exact for every dtype except I64 beyond 2^53).
        int ses = src.DType.SizeOf(), des = dst.DType.SizeOf();
        if (src.DType.IsInteger() && dst.DType.IsInteger())
        {
            for (int i = 0; i < count; i++)
                WriteLong(dst.DType, dst.Pointer + (dOff + (long)i * dStride) * des, ReadLong(src.DType, src.Pointer + (so + (long)i * sStride) * ses));
            return;
        }
        for (int i = 0; i < count; i++)
            WriteDouble(dst.DType, dst.Pointer + (dOff + (long)i * dStride) * des, ReadDouble(src.DType, src.Pointer + (so + (long)i * sStride) * ses));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<T>(T* s, int ss, T* d, int ds, int count) where T : unmanaged
    {
        if (ss == 1 && ds == 1) { new ReadOnlySpan<T>(s, count).CopyTo(new Span<T>(d, count)); return; }
        for (int i = 0; i < count; i++) d[(long)i * ds] = s[(long)i * ss];
    }

    /// <summary>Merges adjacent dims that are contiguous with each other in both layouts.</summary>
    internal static void Coalesce(int[] shape, int[] s1, int[] s2, out int[] outShape, out int[] o1, out int[] o2)
    {
        var sh = new List<int>(shape.Length);
        var a = new List<int>(shape.Length);
        var b = new List<int>(shape.Length);
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue;
            if (sh.Count > 0 && a[^1] == s1[i] * shape[i] && b[^1] == s2[i] * shape[i])
            {
                sh[^1] *= shape[i];
                a[^1] = s1[i];
                b[^1] = s2[i];
            }
            else { sh.Add(shape[i]); a.Add(s1[i]); b.Add(s2[i]); }
        }
        if (sh.Count == 0) { sh.Add(1); a.Add(1); b.Add(1); }
        outShape = [.. sh]; o1 = [.. a]; o2 = [.. b];
    }

    /// <summary>Converts n contiguous elements between dtypes (vectorised for the float16/float32 pairs).</summary>
    public static void Convert(DType sdt, byte* s, DType ddt, byte* d, int n)
    {
        if (sdt == ddt) { Buffer.MemoryCopy(s, d, (long)n * sdt.SizeOf(), (long)n * sdt.SizeOf()); return; }
        if (sdt == DType.F32 && ddt == DType.F16) { System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(s, n), new Span<Half>(d, n)); return; }
        if (sdt == DType.F16 && ddt == DType.F32) { System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(s, n), new Span<float>(d, n)); return; }
        if (sdt == DType.F32 && ddt == DType.F64) { var a = (float*)s; var b = (double*)d; for (int i = 0; i < n; i++) b[i] = a[i]; return; }
        if (sdt == DType.F64 && ddt == DType.F32) { var a = (double*)s; var b = (float*)d; for (int i = 0; i < n; i++) b[i] = (float)a[i]; return; }
        if (sdt == DType.F32 && ddt == DType.BF16) { var a = (float*)s; var b = (ushort*)d; for (int i = 0; i < n; i++) b[i] = FloatToBf16(a[i]); return; }
        if (sdt == DType.BF16 && ddt == DType.F32) { var a = (ushort*)s; var b = (float*)d; for (int i = 0; i < n; i++) b[i] = Bf16ToFloat(a[i]); return; }
        int ses = sdt.SizeOf(), des = ddt.SizeOf();
        bool integral = sdt.IsInteger() && ddt.IsInteger();
        for (int i = 0; i < n; i++)
        {
            if (integral) WriteLong(ddt, d + (long)i * des, ReadLong(sdt, s + (long)i * ses));
            else WriteDouble(ddt, d + (long)i * des, ReadDouble(sdt, s + (long)i * ses));
        }
    }

    /// <summary>float32 to bfloat16 with round-to-nearest-even; NaN stays a quiet NaN.</summary>
    public static ushort FloatToBf16(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float Bf16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public static double ReadDouble(DType dt, byte* p) => dt switch
    {
        DType.F32 => *(float*)p,
        DType.F64 => *(double*)p,
        DType.F16 => (double)*(Half*)p,
        DType.BF16 => Bf16ToFloat(*(ushort*)p),
        DType.I64 => *(long*)p,
        DType.I32 => *(int*)p,
        DType.U8 => *p,
        DType.Bool => *p != 0 ? 1 : 0,
        DType.I8 => *(sbyte*)p,
        _ => throw new NotSupportedException(dt.ToString()),
    };

    public static void WriteDouble(DType dt, byte* p, double v)
    {
        switch (dt)
        {
            case DType.F32: *(float*)p = (float)v; break;
            case DType.F64: *(double*)p = v; break;
            case DType.F16: *(Half*)p = (Half)v; break;
            case DType.BF16: *(ushort*)p = FloatToBf16((float)v); break;
            // Float to integer truncates toward zero like PyTorch; out-of-range values saturate instead of being undefined.
            case DType.I64: *(long*)p = double.IsNaN(v) ? 0 : (long)Math.Clamp(Math.Truncate(v), long.MinValue, long.MaxValue); break;
            case DType.I32: *(int*)p = double.IsNaN(v) ? 0 : (int)Math.Clamp(Math.Truncate(v), int.MinValue, int.MaxValue); break;
            case DType.U8: *p = double.IsNaN(v) ? (byte)0 : (byte)(int)Math.Clamp(Math.Truncate(v), 0, 255); break;
            case DType.Bool: *p = v != 0 ? (byte)1 : (byte)0; break;
            case DType.I8: *(sbyte*)p = double.IsNaN(v) ? (sbyte)0 : (sbyte)(int)Math.Clamp(Math.Truncate(v), -128, 127); break;
            default: throw new NotSupportedException(dt.ToString());
        }
    }

    public static long ReadLong(DType dt, byte* p) => dt switch
    {
        DType.I64 => *(long*)p,
        DType.I32 => *(int*)p,
        DType.U8 => *p,
        DType.Bool => *p != 0 ? 1 : 0,
        DType.I8 => *(sbyte*)p,
        _ => (long)ReadDouble(dt, p),
    };

    public static void WriteLong(DType dt, byte* p, long v)
    {
        switch (dt)
        {
            case DType.I64: *(long*)p = v; break;
            case DType.I32: *(int*)p = (int)v; break;
            case DType.U8: *p = (byte)v; break;
            case DType.Bool: *p = v != 0 ? (byte)1 : (byte)0; break;
            case DType.I8: *(sbyte*)p = (sbyte)v; break;
            default: WriteDouble(dt, p, v); break;
        }
    }
}
