// The C and C++ compilers the native tests build with (the CUDA kernels' host emulation, the binding generator's
// probes, the TensorRT shim and its recording test double): $CC / $CXX first, then the usual names on PATH.
namespace Cuda.Nn.Tests.Support;

internal static class NativeCompilers
{
    /// <summary>A C compiler ($CC, cc, gcc, clang), or null.</summary>
    public static string? C() => Find("CC", ["cc", "gcc", "clang"]);

    /// <summary>A C++ compiler ($CXX, g++, c++, clang++), or null.</summary>
    public static string? Cxx() => Find("CXX", ["g++", "c++", "clang++"]);

    private static string? Find(string variable, string[] names)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } given) candidates.Add(given);
        candidates.AddRange(names);
        foreach (var c in candidates)
        {
            if (Path.IsPathRooted(c)) { if (File.Exists(c)) return c; continue; }
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
                if (File.Exists(Path.Combine(dir, c))) return Path.Combine(dir, c);
        }
        return null;
    }
}
