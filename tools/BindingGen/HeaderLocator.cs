// Where the headers are. CUDA: CUDANN_CUDA_INCLUDE, else the cache scripts/fetch-cuda-headers.sh fills;
// cuDNN: CUDANN_CUDNN_INCLUDE, else a Python wheel's site-packages/nvidia/cudnn/include; repo:PATH: a folder of
// this repository. Plus the C compiler's own headers (stddef.h), which the NuGet libclang does not ship.
using System.Text.RegularExpressions;

namespace Cuda.Nn.BindingGen;

public static partial class HeaderLocator
{
    /// <summary>The Debian package and version the checked-in CUDA bindings come from (pinned in the fetch script too).</summary>
    public const string CudaPackage = "nvidia-cuda-dev", CudaPackageVersion = "11.8.89~11.8.0-5~deb12u1";
    public const string FetchCommand = "scripts/fetch-cuda-headers.sh";

    /// <summary>The folder the fetch script unpacks into (it writes .complete beside include/ when done).</summary>
    public static string DefaultCudaInclude(Func<string, string?> getEnv)
    {
        string cache = getEnv("CUDANN_HEADER_CACHE") is { Length: > 0 } c ? c
            : Path.Combine(getEnv("XDG_CACHE_HOME") is { Length: > 0 } x ? x : Path.Combine(Home(getEnv), ".cache"), "cudann", "headers");
        return Path.Combine(cache, $"{CudaPackage}_{CudaPackageVersion}", "include");
    }

    private static string Home(Func<string, string?> getEnv) =>
        getEnv("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>The include folders of one set, or null and why it is missing (with what to do about it).</summary>
    public static (string? Dir, string? Missing) Resolve(string set, string repositoryRoot, Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        if (set.StartsWith("repo:", StringComparison.Ordinal))
        {
            string dir = Path.GetFullPath(Path.Combine(repositoryRoot, set[5..]));
            return Directory.Exists(dir) ? (dir, null) : (null, $"include folder {set} ({dir}) does not exist");
        }
        switch (set)
        {
            case "cuda":
            {
                if (getEnv("CUDANN_CUDA_INCLUDE") is { Length: > 0 } env)
                    return File.Exists(Path.Combine(env, "cuda.h")) ? (env, null) : (null, $"CUDANN_CUDA_INCLUDE={env} has no cuda.h");
                string dir = DefaultCudaInclude(getEnv);
                bool complete = File.Exists(Path.Combine(Path.GetDirectoryName(dir)!, ".complete"));
                return complete && File.Exists(Path.Combine(dir, "cuda.h")) ? (dir, null)
                    : (null, $"CUDA 11.8 headers not found: CUDANN_CUDA_INCLUDE is unset and {dir} is not there; fetch them with {FetchCommand}");
            }
            case "cuda-runtime":
            {
                // What cudnn.h includes (cuda_runtime_api.h, library_types.h): the toolkit's headers, else a pip
                // wheel's nvidia/cuda_runtime/include (how the GPU machine has them), else the fetched 11.8 set.
                if (getEnv("CUDANN_CUDA_INCLUDE") is { Length: > 0 }) return Resolve("cuda", repositoryRoot, getEnv);
                foreach (var dir in PythonWheelIncludes(getEnv, "cuda_runtime"))
                    if (File.Exists(Path.Combine(dir, "cuda_runtime_api.h"))) return (dir, null);
                return Resolve("cuda", repositoryRoot, getEnv);
            }
            case "cudnn":
            {
                if (getEnv("CUDANN_CUDNN_INCLUDE") is { Length: > 0 } env)
                    return File.Exists(Path.Combine(env, "cudnn.h")) ? (env, null) : (null, $"CUDANN_CUDNN_INCLUDE={env} has no cudnn.h");
                foreach (var dir in PythonWheelIncludes(getEnv, "cudnn"))
                    if (File.Exists(Path.Combine(dir, "cudnn.h"))) return (dir, null);
                return (null, "cuDNN 9 headers not found: set CUDANN_CUDNN_INCLUDE to a folder with cudnn.h " +
                    "(pip's nvidia-cudnn-cu12 has site-packages/nvidia/cudnn/include); Debian 12 does not package them");
            }
            default:
                throw new BindingGenException($"unknown include folder set '{set}' (cuda, cuda-runtime, cudnn or repo:PATH)");
        }
    }

    /// <summary>site-packages/nvidia/NAME/include under the Python roots the library resolver also searches.</summary>
    public static IEnumerable<string> PythonWheelIncludes(Func<string, string?> getEnv, string name)
    {
        var roots = new List<string> { "/usr/lib", "/usr/local/lib", Path.Combine(Home(getEnv), ".local", "lib") };
        if (getEnv("VIRTUAL_ENV") is { Length: > 0 } venv) roots.Insert(0, Path.Combine(venv, "lib"));
        if (getEnv("CONDA_PREFIX") is { Length: > 0 } conda) roots.Insert(0, Path.Combine(conda, "lib"));
        foreach (var root in roots.Where(Directory.Exists))
            foreach (var python in Directory.GetDirectories(root, "python3*").Order(StringComparer.Ordinal))
                foreach (var packages in new[] { "site-packages", "dist-packages" })
                    yield return Path.Combine(python, packages, "nvidia", name, "include");
    }

    /// <summary>
    /// A folder with the compiler's own headers (stddef.h, stdint.h's helpers): CUDANN_CLANG_INCLUDE, an installed
    /// LLVM's lib/clang/N/include, or GCC's include folder, newest first. Null when none exists.
    /// </summary>
    public static string? BuiltinInclude(Func<string, string?>? getEnv = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        if (getEnv("CUDANN_CLANG_INCLUDE") is { Length: > 0 } env) return env;
        var candidates = new List<string>();
        foreach (var llvm in Glob("/usr/lib", "llvm-*"))
            candidates.AddRange(Glob(Path.Combine(llvm, "lib", "clang"), "*").Select(d => Path.Combine(d, "include")).OrderByDescending(VersionKey));
        candidates.AddRange(Glob("/usr/lib/gcc/x86_64-linux-gnu", "*").Select(d => Path.Combine(d, "include")).OrderByDescending(VersionKey));
        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "stddef.h")));
    }

    private static IEnumerable<string> Glob(string dir, string pattern) =>
        Directory.Exists(dir) ? Directory.GetDirectories(dir, pattern).OrderByDescending(VersionKey) : [];

    // Orders "llvm-14" < "llvm-16" and "clang/9/include" < "clang/12/include" by the first number in the folder's name.
    private static long VersionKey(string path)
    {
        string name = Path.GetFileName(path);
        if (name == "include") name = Path.GetFileName(Path.GetDirectoryName(path)) ?? "";
        return Number().Match(name) is { Success: true } m ? long.Parse(m.Value) : 0;
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();
}
