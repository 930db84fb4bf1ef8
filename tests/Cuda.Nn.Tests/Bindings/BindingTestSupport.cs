// Shared by the binding tests: the repository's paths, visible skips without libclang, and C# type names of
// reflected parameters in the generator's spelling ("int*", "nint", "CublasLtMatmulAlgo*").
using System.Reflection;
using Cuda.Nn.BindingGen;

namespace Cuda.Nn.Tests.Bindings;

internal static class BindingTestSupport
{
    public static string Root
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Cuda.Nn.sln"))) return d.FullName;
            throw new DirectoryNotFoundException($"no folder holding Cuda.Nn.sln above {AppContext.BaseDirectory}");
        }
    }

    public static string SpecPath(string name) => Path.Combine(Root, "tools", "BindingGen", "specs", name + ".json");

    public static void RequireLibClang()
    {
        if (LibClangLoader.UnavailableReason() is { } why) Assert.Skip("libclang not available, the generator cannot run: " + why);
    }

    /// <summary>A parameter's type as the generator writes it, with out/ref T read as T* (the same ABI).</summary>
    public static string Spelling(Type type)
    {
        if (type.IsByRef) return Spelling(type.GetElementType()!) + "*";
        if (type.IsPointer) return Spelling(type.GetElementType()!) + "*";
        return type switch
        {
            _ when type == typeof(void) => "void",
            _ when type == typeof(byte) => "byte",
            _ when type == typeof(sbyte) => "sbyte",
            _ when type == typeof(short) => "short",
            _ when type == typeof(ushort) => "ushort",
            _ when type == typeof(int) => "int",
            _ when type == typeof(uint) => "uint",
            _ when type == typeof(long) => "long",
            _ when type == typeof(ulong) => "ulong",
            _ when type == typeof(nint) => "nint",
            _ when type == typeof(nuint) => "nuint",
            _ when type == typeof(float) => "float",
            _ when type == typeof(double) => "double",
            _ when type == typeof(Half) => "Half",
            _ => type.Name,
        };
    }

    /// <summary>The generator's spelling with out/ref folded into a pointer, as <see cref="Spelling(Type)"/> does.</summary>
    public static string Normalize(string generated) =>
        generated.StartsWith("out ", StringComparison.Ordinal) || generated.StartsWith("ref ", StringComparison.Ordinal) ? generated[4..] + "*" : generated;

    public static MethodInfo Method(Type type, string name) =>
        type.GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
        ?? throw new Xunit.Sdk.XunitException($"{type.FullName} has no method {name}");
}
