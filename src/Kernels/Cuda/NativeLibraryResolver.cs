// Finds NVIDIA's shared libraries where people actually have them (driver install, toolkit, Debian
// packages, Python wheels) and maps our [LibraryImport] names onto them. A missing library is one
// CudaLibraryNotFoundException naming the library and every place looked, never a crash at a call site.
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>The NVIDIA libraries this project binds.</summary>
public enum CudaLibrary
{
    /// <summary>The CUDA driver API, libcuda.so.1 (installed by the driver, not the toolkit).</summary>
    Driver,
    /// <summary>NVRTC, the runtime CUDA C compiler (works without a GPU).</summary>
    Nvrtc,
    Cublas,
    CublasLt,
    Cudnn,
    /// <summary>NCCL, the collectives between GPUs (data-parallel training, docs/distributed.md).</summary>
    Nccl,
}

/// <summary>Thrown when a CUDA library cannot be found or loaded; the message says where we looked.</summary>
public sealed class CudaLibraryNotFoundException(CudaLibrary library, string message) : DllNotFoundException(message)
{
    public CudaLibrary Library { get; } = library;
}

public static class NativeLibraryResolver
{
    // Names used in [LibraryImport]; they never match a real file, so nothing loads without this resolver.
    internal const string DriverImport = "cudann-cuda";
    internal const string NvrtcImport = "cudann-nvrtc";
    internal const string CublasImport = "cudann-cublas";
    internal const string CublasLtImport = "cudann-cublaslt";
    internal const string CudnnImport = "cudann-cudnn";
    internal const string NcclImport = "cudann-nccl";

    private static readonly ConcurrentDictionary<CudaLibrary, Lazy<(nint Handle, string? Path, string? Error)>> Loaded = new();
    private static readonly HashSet<Assembly> Installed = [];

    /// <summary>Exact file names, most preferred first (newest major version first).</summary>
    public static IReadOnlyList<string> FileNames(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => ["libcuda.so.1", "libcuda.so"],
        // Debian's package is libnvrtc11.2 (CUDA 11.8 inside) and ships libnvrtc.so.11.2.
        CudaLibrary.Nvrtc => ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
        CudaLibrary.Cublas => ["libcublas.so.13", "libcublas.so.12"],
        CudaLibrary.CublasLt => ["libcublasLt.so.13", "libcublasLt.so.12"],
        CudaLibrary.Cudnn => ["libcudnn.so.9"],
        CudaLibrary.Nccl => ["libnccl.so.2"],
        _ => throw new ArgumentOutOfRangeException(nameof(library), library, "unknown CUDA library"),
    };

    /// <summary>A versioned file name the exact list does not know (e.g. libnvrtc.so.11.8.89), tried last in each folder.</summary>
    private static string? FallbackPrefix(CudaLibrary library) => library switch
    {
        CudaLibrary.Nvrtc => "libnvrtc.so.",
        CudaLibrary.Cublas => "libcublas.so.",
        CudaLibrary.CublasLt => "libcublasLt.so.",
        _ => null,
    };

    /// <summary>Environment variable that names the file directly, overriding the search.</summary>
    public static string OverrideVariable(CudaLibrary library) => EnvironmentVariables.LibraryPath(library.ToString());

    private static string Describe(CudaLibrary library) => library switch
    {
        CudaLibrary.Driver => "libcuda (the CUDA driver API, installed by the NVIDIA driver: without it no GPU can be used)",
        CudaLibrary.Nvrtc => "libnvrtc (NVRTC, the CUDA runtime compiler; Debian: apt-get install libnvrtc11.2 from non-free, pip: nvidia-cuda-nvrtc)",
        CudaLibrary.Cublas => "libcublas (cuBLAS; CUDA toolkit or pip: nvidia-cublas)",
        CudaLibrary.CublasLt => "libcublasLt (cuBLASLt; CUDA toolkit or pip: nvidia-cublas)",
        CudaLibrary.Cudnn => "libcudnn 9 (cuDNN; pip: nvidia-cudnn-cu12 / -cu13)",
        CudaLibrary.Nccl => "libnccl 2 (NCCL; pip: nvidia-nccl-cu12 / -cu13, which PyTorch's CUDA wheels install)",
        _ => library.ToString(),
    };

    /// <summary>
    /// Folders searched, in order: LD_LIBRARY_PATH, CUDA_PATH/CUDA_HOME, /usr/local/cuda*/lib64 (newest first),
    /// the distribution's library folders, then Python wheels' site-packages/nvidia/*/lib (system, /usr/local,
    /// ~/.local, the active virtualenv or conda env). <paramref name="root"/> prefixes the fixed folders (tests).
    /// </summary>
    public static IReadOnlyList<string> SearchDirectories(Func<string, string?> getEnv, string root = "/")
    {
        var dirs = new List<string>();
        void Add(string? d)
        {
            if (!string.IsNullOrWhiteSpace(d) && !dirs.Contains(d)) dirs.Add(d);
        }
        string R(string path) => Path.Join(root, path);

        foreach (var d in (getEnv("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)) Add(d);
        foreach (var v in new[] { "CUDA_PATH", "CUDA_HOME" })
            if (getEnv(v) is { Length: > 0 } cudaHome) Add(Path.Join(cudaHome, "lib64"));
        Add(R("usr/local/cuda/lib64"));
        Add(R("usr/local/cuda/targets/x86_64-linux/lib"));
        foreach (var d in SortedNewestFirst(Subdirectories(R("usr/local"), "cuda-*"))) Add(Path.Join(d, "lib64"));
        Add(R("usr/lib/x86_64-linux-gnu"));
        Add(R("lib/x86_64-linux-gnu"));
        Add(R("usr/lib64"));
        Add(R("usr/lib/wsl/lib"));

        var pythonLibs = new List<string> { R("usr/lib"), R("usr/local/lib") };
        if (getEnv("HOME") is { Length: > 0 } home) pythonLibs.Add(Path.Join(home, ".local/lib"));
        if (getEnv("VIRTUAL_ENV") is { Length: > 0 } venv) pythonLibs.Add(Path.Join(venv, "lib"));
        if (getEnv("CONDA_PREFIX") is { Length: > 0 } conda)
        {
            pythonLibs.Add(Path.Join(conda, "lib"));
            Add(Path.Join(conda, "lib"));
        }
        foreach (var lib in pythonLibs)
            foreach (var python in SortedNewestFirst(Subdirectories(lib, "python3*")))
                foreach (var packages in new[] { "site-packages", "dist-packages" })
                    foreach (var wheel in Subdirectories(Path.Join(python, packages, "nvidia"), "*").Order(StringComparer.Ordinal))
                    {
                        Add(Path.Join(wheel, "lib"));
                        Add(Path.Join(wheel, "lib64"));
                    }
        return dirs;
    }

    private static IEnumerable<string> Subdirectories(string dir, string pattern)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetDirectories(dir, pattern) : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    // cuda-12.4 before cuda-12.10 is wrong in ordinal order; compare the dotted numbers.
    private static IEnumerable<string> SortedNewestFirst(IEnumerable<string> dirs) =>
        dirs.OrderByDescending(d => VersionKey(Path.GetFileName(d)), Comparer<(int, int, string)>.Default);

    private static (int, int, string) VersionKey(string name)
    {
        var digits = new string(name.SkipWhile(c => !char.IsAsciiDigit(c)).ToArray()).Split('.');
        int major = digits.Length > 0 && int.TryParse(digits[0], out int a) ? a : -1;
        int minor = digits.Length > 1 && int.TryParse(digits[1], out int b) ? b : -1;
        return (major, minor, name);
    }

    /// <summary>Candidate files in search order: within each folder the exact names, then other versioned names.</summary>
    public static IEnumerable<string> Candidates(CudaLibrary library, IReadOnlyList<string> directories)
    {
        var prefix = FallbackPrefix(library);
        foreach (var dir in directories)
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var name in FileNames(library))
            {
                var path = Path.Join(dir, name);
                if (File.Exists(path)) yield return path;
            }
            if (prefix is null) continue;
            string[] others;
            try
            {
                others = Directory.GetFiles(dir, prefix + "*");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            foreach (var path in others.OrderByDescending(p => p, StringComparer.Ordinal))
                if (!FileNames(library).Contains(Path.GetFileName(path))) yield return path;
        }
    }

    /// <summary>The first candidate file for <paramref name="library"/> in <paramref name="directories"/>, without loading it.</summary>
    public static string? Locate(CudaLibrary library, IReadOnlyList<string> directories) => Candidates(library, directories).FirstOrDefault();

    /// <summary>The message for a library that is not there (also used by tests, so it is built in one place).</summary>
    public static string NotFoundMessage(CudaLibrary library, IReadOnlyList<string> directories, IReadOnlyList<string> loadErrors)
    {
        var existing = directories.Where(Directory.Exists).ToList();
        var msg = $"{Describe(library)} was not found. Looked for {string.Join(", ", FileNames(library))}"
            + (FallbackPrefix(library) is { } p ? $" and {p}*" : "")
            + $" in {existing.Count} existing folder(s) [{string.Join(", ", existing)}]"
            + $" (searched in order: LD_LIBRARY_PATH, CUDA_PATH/CUDA_HOME, /usr/local/cuda*/lib64, the system library folders,"
            + $" Python site-packages/nvidia/*/lib; {directories.Count - existing.Count} candidate folder(s) do not exist here),"
            + $" then the system loader's default paths. Set {OverrideVariable(library)} to the file to use a library elsewhere.";
        if (loadErrors.Count > 0) msg += " Files found but not loadable: " + string.Join("; ", loadErrors);
        return msg;
    }

    /// <summary>Loads the library once per process; throws <see cref="CudaLibraryNotFoundException"/> when absent.</summary>
    public static nint Load(CudaLibrary library)
    {
        var (handle, _, error) = Loaded.GetOrAdd(library, l => new Lazy<(nint, string?, string?)>(() => LoadUncached(l))).Value;
        return handle != 0 ? handle : throw new CudaLibraryNotFoundException(library, error!);
    }

    /// <summary>True when the library can be loaded; <paramref name="error"/> says why not otherwise.</summary>
    public static bool TryLoad(CudaLibrary library, out string? error)
    {
        var (handle, _, err) = Loaded.GetOrAdd(library, l => new Lazy<(nint, string?, string?)>(() => LoadUncached(l))).Value;
        error = err;
        return handle != 0;
    }

    /// <summary>The file that was loaded for <paramref name="library"/>, or null when it is not available.</summary>
    public static string? LoadedPath(CudaLibrary library) =>
        TryLoad(library, out _) ? Loaded[library].Value.Path : null;

    private static (nint, string?, string?) LoadUncached(CudaLibrary library)
    {
        if (!OperatingSystem.IsLinux())
            return (0, null, $"{Describe(library)}: only Linux is supported by this resolver (found {RuntimeInformation.OSDescription})");
        var errors = new List<string>();
        if (Environment.GetEnvironmentVariable(OverrideVariable(library)) is { Length: > 0 } forced)
        {
            if (NativeLibrary.TryLoad(forced, out nint h)) return (h, forced, null);
            return (0, null, $"{OverrideVariable(library)}={forced} could not be loaded ({(File.Exists(forced) ? "the file exists but the loader rejected it" : "no such file")})");
        }
        var dirs = SearchDirectories(Environment.GetEnvironmentVariable);
        foreach (var path in Candidates(library, dirs))
        {
            try
            {
                return (NativeLibrary.Load(path), path, null);
            }
            catch (DllNotFoundException e)
            {
                errors.Add($"{path}: {e.Message}");
            }
            catch (BadImageFormatException e)
            {
                errors.Add($"{path}: {e.Message}");
            }
        }
        // Last: the loader's own search (ld.so.cache, RPATH of the process), e.g. a driver in a custom prefix.
        foreach (var name in FileNames(library))
            if (NativeLibrary.TryLoad(name, out nint h)) return (h, name, null);
        return (0, null, NotFoundMessage(library, dirs, errors));
    }

    /// <summary>Maps an import name to a library: ours, plus the names other bindings use (cuda, libcuda.so, nvrtc, ...).</summary>
    public static CudaLibrary? LibraryFor(string importName)
    {
        var n = importName.StartsWith("lib", StringComparison.Ordinal) ? importName[3..] : importName;
        int dot = n.IndexOf(".so", StringComparison.Ordinal);
        if (dot >= 0) n = n[..dot];
        return n switch
        {
            DriverImport or "cuda" or "nvcuda" => CudaLibrary.Driver,
            NvrtcImport or "nvrtc" => CudaLibrary.Nvrtc,
            CublasImport or "cublas" => CudaLibrary.Cublas,
            CublasLtImport or "cublasLt" => CudaLibrary.CublasLt,
            CudnnImport or "cudnn" => CudaLibrary.Cudnn,
            NcclImport or "nccl" => CudaLibrary.Nccl,
            _ => null,
        };
    }

    /// <summary>
    /// Registers the resolver for <paramref name="assembly"/> (this one by default; another binding such as
    /// ILGPU's may be passed). Idempotent per assembly. A library that is absent makes the call throw
    /// <see cref="CudaLibraryNotFoundException"/> with the full search report.
    /// </summary>
    public static void Install(Assembly? assembly = null)
    {
        assembly ??= typeof(NativeLibraryResolver).Assembly;
        lock (Installed)
        {
            if (!Installed.Add(assembly)) return;
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => LibraryFor(name) is { } lib ? Load(lib) : 0);
        }
    }
}
