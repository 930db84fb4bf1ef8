// Element types a tensor can hold, with their sizes and the names safetensors uses.
namespace Cuda.Nn.Kernels;

/// <summary>Element type of a tensor's storage.</summary>
public enum DType : byte
{
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    U8,
    Bool,
    I8,
}

public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F64 => 8,
        DType.F16 => 2,
        DType.BF16 => 2,
        DType.I64 => 8,
        DType.I32 => 4,
        DType.U8 => 1,
        DType.Bool => 1,
        DType.I8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    public static bool IsFloatingPoint(this DType dtype) =>
        dtype is DType.F32 or DType.F64 or DType.F16 or DType.BF16;

    public static bool IsInteger(this DType dtype) =>
        dtype is DType.I64 or DType.I32 or DType.U8 or DType.I8 or DType.Bool;

    /// <summary>The dtype name used in safetensors headers ("F32", "BOOL", ...).</summary>
    public static string SafetensorsName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        _ => dtype.ToString(),
    };

    /// <summary>Parses a safetensors dtype name; null when it is not one we support.</summary>
    public static DType? FromSafetensorsName(string name) => name switch
    {
        "F32" => DType.F32,
        "F64" => DType.F64,
        "F16" => DType.F16,
        "BF16" => DType.BF16,
        "I64" => DType.I64,
        "I32" => DType.I32,
        "U8" => DType.U8,
        "BOOL" => DType.Bool,
        "I8" => DType.I8,
        _ => null,
    };

    /// <summary>
    /// The dtype two operands are promoted to (PyTorch's rule for tensors of the same category:
    /// floating beats integer, wider beats narrower; F16 with BF16 gives F32).
    /// </summary>
    public static DType Promote(DType a, DType b)
    {
        if (a == b) return a;
        bool af = a.IsFloatingPoint(), bf = b.IsFloatingPoint();
        if (af && !bf) return a;
        if (bf && !af) return b;
        if (af && bf)
        {
            if (a == DType.F64 || b == DType.F64) return DType.F64;
            return DType.F32; // F32 with anything, or F16 with BF16
        }
        // Both integral (Bool counts as the narrowest).
        static int Rank(DType d) => d switch { DType.Bool => 0, DType.U8 => 1, DType.I8 => 1, DType.I32 => 3, DType.I64 => 4, _ => 0 };
        if ((a == DType.U8 && b == DType.I8) || (a == DType.I8 && b == DType.U8)) return DType.I32;
        return Rank(a) >= Rank(b) ? a : b;
    }
}
