// In-kernel element access by dtype code. Every storage is a byte view; kernels read elements as double (or
// long for integer-to-integer work) and write them back with the CPU backend's conversion rules, so one
// kernel serves every dtype pair and casts are bit-identical to CpuCopy. The F16/BF16 conversions are integer
// code (no ILGPU.Half): round-to-nearest-even everywhere, no dependence on the device's cvt or ILGPU's Half.
using ILGPU;

namespace Cuda.Nn.Kernels.Ilgpu;

internal static class DeviceElem
{
    // DType codes as kernels see them (the enum's values).
    public const int F32 = (int)DType.F32, F64 = (int)DType.F64, F16 = (int)DType.F16, BF16 = (int)DType.BF16,
        I64 = (int)DType.I64, I32 = (int)DType.I32, U8 = (int)DType.U8, Bool = (int)DType.Bool, I8 = (int)DType.I8;

    public static bool IsInt(int dt) => dt >= I64;

    public static double LoadD(ArrayView<byte> v, int dt, long i)
    {
        switch (dt)
        {
            case F32: return v.Cast<float>()[i];
            case F64: return v.Cast<double>()[i];
            case F16: return HalfToDouble(v.Cast<ushort>()[i]);
            case BF16: return Interop.IntAsFloat((uint)v.Cast<ushort>()[i] << 16);
            case I64: return v.Cast<long>()[i];
            case I32: return v.Cast<int>()[i];
            case U8: return v[i];
            case Bool: return v[i] != 0 ? 1.0 : 0.0;
            default: return v.Cast<sbyte>()[i];
        }
    }

    public static long LoadL(ArrayView<byte> v, int dt, long i)
    {
        switch (dt)
        {
            case I64: return v.Cast<long>()[i];
            case I32: return v.Cast<int>()[i];
            case U8: return v[i];
            case Bool: return v[i] != 0 ? 1 : 0;
            case I8: return v.Cast<sbyte>()[i];
            default: return (long)LoadD(v, dt, i);
        }
    }

    public static void StoreD(ArrayView<byte> v, int dt, long i, double x)
    {
        switch (dt)
        {
            case F32: v.Cast<float>()[i] = (float)x; break;
            case F64: v.Cast<double>()[i] = x; break;
            case F16: v.Cast<ushort>()[i] = DoubleToHalf(x); break;
            case BF16: v.Cast<ushort>()[i] = FloatToBf16((float)x); break;
            // Float to integer truncates toward zero; NaN gives 0 and out-of-range values saturate (CpuCopy's rule).
            case I64: v.Cast<long>()[i] = double.IsNaN(x) ? 0 : x >= 9.2233720368547758E18 ? long.MaxValue : x <= -9.2233720368547758E18 ? long.MinValue : (long)x; break;
            case I32: v.Cast<int>()[i] = (int)Sat(x, int.MinValue, int.MaxValue); break;
            case U8: v[i] = (byte)(int)Sat(x, 0, 255); break;
            case Bool: v[i] = x != 0 ? (byte)1 : (byte)0; break;
            default: v.Cast<sbyte>()[i] = (sbyte)(int)Sat(x, -128, 127); break;
        }
    }

    public static void StoreL(ArrayView<byte> v, int dt, long i, long x)
    {
        switch (dt)
        {
            case I64: v.Cast<long>()[i] = x; break;
            case I32: v.Cast<int>()[i] = (int)x; break;
            case U8: v[i] = (byte)x; break;
            case Bool: v[i] = x != 0 ? (byte)1 : (byte)0; break;
            case I8: v.Cast<sbyte>()[i] = (sbyte)x; break;
            default: StoreD(v, dt, i, x); break;
        }
    }

    private static double Sat(double x, double lo, double hi) =>
        double.IsNaN(x) ? 0 : x <= lo ? lo : x >= hi ? hi : (long)x;

    /// <summary>Same-dtype copy of one element as raw bits.</summary>
    public static void CopyBits(ArrayView<byte> s, long si, ArrayView<byte> d, long di, int size)
    {
        switch (size)
        {
            case 1: d[di] = s[si]; break;
            case 2: d.Cast<ushort>()[di] = s.Cast<ushort>()[si]; break;
            case 4: d.Cast<uint>()[di] = s.Cast<uint>()[si]; break;
            default: d.Cast<ulong>()[di] = s.Cast<ulong>()[si]; break;
        }
    }

    public static double HalfToDouble(ushort h)
    {
        uint sign = ((uint)h & 0x8000u) << 16;
        int e = (h >> 10) & 0x1F;
        uint m = (uint)h & 0x3FFu;
        uint bits;
        if (e == 0x1F) bits = sign | 0x7F800000u | (m << 13);
        else if (e == 0)
        {
            if (m == 0) bits = sign;
            else
            {
                // Subnormal half: normalise into a float exponent.
                int fe = 113;
                while ((m & 0x400u) == 0) { m <<= 1; fe--; }
                bits = sign | ((uint)fe << 23) | ((m & 0x3FFu) << 13);
            }
        }
        else bits = sign | ((uint)(e + 112) << 23) | (m << 13);
        return Interop.IntAsFloat(bits);
    }

    /// <summary>double to binary16, round to nearest even in one step (as System.Half's conversion does).</summary>
    public static ushort DoubleToHalf(double x)
    {
        ulong b = Interop.FloatAsInt(x);
        uint sign = (uint)(b >> 48) & 0x8000u;
        ulong a = b & 0x7FFFFFFFFFFFFFFFUL;
        if (a >= 0x7FF0000000000000UL)
            return (ushort)(a == 0x7FF0000000000000UL ? sign | 0x7C00u : sign | 0x7E00u | (uint)((a >> 42) & 0x3FF));
        if (a >= 0x40EFFE0000000000UL) return (ushort)(sign | 0x7C00u); // >= 65520 rounds to infinity
        int e = (int)(a >> 52);
        if (e == 0) return (ushort)sign; // double subnormals are far below half's range
        ulong mant = (a & 0xFFFFFFFFFFFFFUL) | 0x10000000000000UL;
        int eh = e - 1023 + 15;
        int shift;
        uint h;
        if (eh >= 1) { shift = 42; h = ((uint)eh << 10) | (uint)((mant >> 42) & 0x3FF); }
        else
        {
            shift = 42 + 1 - eh;
            if (shift > 54) return (ushort)sign;
            h = (uint)(mant >> shift);
        }
        ulong rem = mant & ((1UL << shift) - 1);
        ulong half = 1UL << (shift - 1);
        if (rem > half || (rem == half && (h & 1) != 0)) h++;
        return (ushort)(sign | h);
    }

    /// <summary>float to bfloat16 with round-to-nearest-even; NaN stays a quiet NaN (CpuCopy.FloatToBf16).</summary>
    public static ushort FloatToBf16(float f)
    {
        uint bits = Interop.FloatAsInt(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}

/// <summary>Shape padded on the left to 6 dims (kernels take fixed-size structs, not arrays).</summary>
public struct Shape6
{
    public int D0, D1, D2, D3, D4, D5;
}

/// <summary>Element strides (padded like <see cref="Shape6"/>) and start offset of one operand.</summary>
public struct Strides6
{
    public int S0, S1, S2, S3, S4, S5, Offset;

    /// <summary>Storage offset of the row-major linear index i.</summary>
    public readonly long At(long i, Shape6 d)
    {
        long r = i, o = Offset;
        long q = r % d.D5; r /= d.D5; o += q * S5;
        q = r % d.D4; r /= d.D4; o += q * S4;
        q = r % d.D3; r /= d.D3; o += q * S3;
        q = r % d.D2; r /= d.D2; o += q * S2;
        q = r % d.D1; r /= d.D1; o += q * S1;
        return o + r * S0;
    }
}
