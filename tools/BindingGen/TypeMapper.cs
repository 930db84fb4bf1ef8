// C types -> blittable C# types for x86_64 Linux (LP64): long is pointer-sized (nint), enums are their
// integer type, pointers to incomplete structs (handles such as CUcontext) are nint, _Bool and char are bytes.
namespace Cuda.Nn.BindingGen;

internal sealed class TypeMapper(Func<CXCursor, string?> emittedStruct)
{
    // Typedefs whose meaning is their name, not their LP64 expansion.
    private static readonly Dictionary<string, string> NamedTypedefs = new(StringComparer.Ordinal)
    {
        ["size_t"] = "nuint", ["uintptr_t"] = "nuint", ["ssize_t"] = "nint", ["ptrdiff_t"] = "nint", ["intptr_t"] = "nint",
        // glibc spells int64_t as long; the fixed-width names say what they are on every platform.
        ["int8_t"] = "sbyte", ["uint8_t"] = "byte", ["int16_t"] = "short", ["uint16_t"] = "ushort",
        ["int32_t"] = "int", ["uint32_t"] = "uint", ["int64_t"] = "long", ["uint64_t"] = "ulong",
    };

    /// <summary>The C# type of a parameter, return value or field; <paramref name="where"/> names the declaration for errors.</summary>
    public string Map(CXType type, string where)
    {
        var t = type;
        while (true)
        {
            if (t.Kind == CXTypeKind.Elaborated) t = LibClang.clang_Type_getNamedType(t);
            else if (t.Kind == CXTypeKind.Typedef)
            {
                if (NamedTypedefs.TryGetValue(LibClang.Take(LibClang.clang_getTypedefName(t)), out var named)) return named;
                t = LibClang.clang_getTypedefDeclUnderlyingType(LibClang.clang_getTypeDeclaration(t));
                if (IsHandle(t)) return "nint";
            }
            else break;
        }
        if (t.Kind is CXTypeKind.Pointer) return MapPointer(LibClang.clang_getPointeeType(t), type, where);
        var canonical = LibClang.clang_getCanonicalType(t);
        switch (canonical.Kind)
        {
            case CXTypeKind.Pointer: return MapPointer(LibClang.clang_getPointeeType(canonical), type, where);
            // A parameter declared as an array is a pointer to its element.
            case CXTypeKind.ConstantArray or CXTypeKind.IncompleteArray:
                return Map(LibClang.clang_getArrayElementType(canonical), where) + "*";
            case CXTypeKind.Enum:
                return LibClang.clang_Type_getSizeOf(canonical) switch
                {
                    4 => "int", // C enums are int-sized; int also holds the negative members (CUBLAS_GEMM_DEFAULT = -1)
                    8 => "long",
                    var n => throw Unsupported(type, where, $"a {n}-byte enum"),
                };
            case CXTypeKind.Record:
                return emittedStruct(LibClang.clang_getTypeDeclaration(canonical))
                    ?? throw Unsupported(type, where, "a struct passed by value that is not listed in \"structs\"");
        }
        return Primitive(canonical.Kind) ?? throw Unsupported(type, where, $"type kind {canonical.Kind}");
    }

    // A typedef'd pointer to a struct the spec does not emit is a handle (cublasLtMatmulDesc_t points at a complete
    // but private cublasLtMatmulDescOpaque_t); a bare struct pointer parameter must name a listed struct instead.
    private bool IsHandle(CXType underlying)
    {
        var canonical = LibClang.clang_getCanonicalType(underlying);
        if (canonical.Kind != CXTypeKind.Pointer) return false;
        var pointee = LibClang.clang_getCanonicalType(LibClang.clang_getPointeeType(canonical));
        return pointee.Kind == CXTypeKind.Record && emittedStruct(LibClang.clang_getTypeDeclaration(pointee)) is null;
    }

    private string MapPointer(CXType pointee, CXType original, string where)
    {
        var canonical = LibClang.clang_getCanonicalType(pointee);
        if (canonical.Kind is CXTypeKind.FunctionProto or CXTypeKind.FunctionNoProto) return "nint"; // a C function pointer
        if (canonical.Kind == CXTypeKind.Record)
        {
            var decl = LibClang.clang_getTypeDeclaration(canonical);
            if (LibClang.clang_Type_getSizeOf(canonical) < 0) return "nint"; // an opaque handle: a pointer to an incomplete struct
            return (emittedStruct(decl) ?? throw Unsupported(original, where, $"a pointer to {LibClang.Spelling(canonical)}, which is not listed in \"structs\"")) + "*";
        }
        return Map(pointee, where) + "*";
    }

    internal static string? Primitive(CXTypeKind kind) => kind switch
    {
        CXTypeKind.Void => "void",
        CXTypeKind.Bool or CXTypeKind.CharS or CXTypeKind.CharU or CXTypeKind.UChar => "byte",
        CXTypeKind.SChar => "sbyte",
        CXTypeKind.Short => "short",
        CXTypeKind.UShort => "ushort",
        CXTypeKind.Int => "int",
        CXTypeKind.UInt => "uint",
        CXTypeKind.Long => "nint",
        CXTypeKind.ULong => "nuint",
        CXTypeKind.LongLong => "long",
        CXTypeKind.ULongLong => "ulong",
        CXTypeKind.Float => "float",
        CXTypeKind.Double => "double",
        CXTypeKind.Half or CXTypeKind.Float16 => "Half",
        _ => null,
    };

    /// <summary>Size in bytes of a C# type this mapper can produce (pointers and nint are 8 on x86_64).</summary>
    public static int SizeOf(string cs) => cs switch
    {
        _ when cs.EndsWith('*') => 8,
        "byte" or "sbyte" => 1,
        "short" or "ushort" or "Half" => 2,
        "int" or "uint" or "float" => 4,
        "long" or "ulong" or "double" or "nint" or "nuint" => 8,
        _ => -1,
    };

    private static BindingGenException Unsupported(CXType type, string where, string what) =>
        new($"{where}: cannot bind C type '{LibClang.Spelling(type)}' ({what})");
}
