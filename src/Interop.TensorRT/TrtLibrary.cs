// Finds and loads libcudann_trt.so, our C shim over TensorRT (native/tensorrt), for the generated TrtNative
// imports. CUDANN_TRT_PATH names the file outright (how the tests load their recording test double); otherwise
// the application's folder, TensorRT_ROOT/lib, then the CUDA library folders NativeLibraryResolver searches.
// A missing or unloadable shim (libnvinfer.so.10 absent, say) is one TensorRtLibraryNotFoundException naming the
// file and every folder looked in, thrown at the first call, never a crash at a call site.
using System.Runtime.InteropServices;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.CudaNative;

namespace Cuda.Nn.Interop.TensorRT;

/// <summary>Thrown when libcudann_trt.so cannot be found or loaded; the message says where we looked.</summary>
public sealed class TensorRtLibraryNotFoundException(string message) : DllNotFoundException(message);

public static class TrtLibrary
{
    /// <summary>The name in [LibraryImport]; it matches no file, so nothing loads without this resolver.</summary>
    internal const string ImportName = "cudann-trt";

    /// <summary>The shim's file name, as CMake's cudann_trt target writes it.</summary>
    public const string FileName = "libcudann_trt.so";

    /// <summary>CUDANN_TRT_API_VERSION of the header these bindings were generated from (a test holds the two equal).</summary>
    public const int ApiVersion = 1;

    /// <summary>CUDANN_TRT_PATH: the shim's file, overriding the search.</summary>
    public static string OverrideVariable { get; } = EnvironmentVariables.LibraryPath("Trt");

    private static readonly Lazy<(nint Handle, string? Path, string? Error)> Loaded =
        new(() => LoadUncached(Environment.GetEnvironmentVariable));
    private static int installed;

    /// <summary>Folders searched, in order: the application's, TensorRT_ROOT/lib, then the CUDA library folders.</summary>
    public static IReadOnlyList<string> SearchDirectories(Func<string, string?> getEnv, string root = "/")
    {
        var dirs = new List<string> { AppContext.BaseDirectory.TrimEnd('/') };
        if (getEnv("TensorRT_ROOT") is { Length: > 0 } trt) dirs.Add(Path.Join(trt, "lib"));
        foreach (var d in NativeLibraryResolver.SearchDirectories(getEnv, root))
            if (!dirs.Contains(d)) dirs.Add(d);
        return dirs;
    }

    /// <summary>Loads the shim without caching (tests pass their own environment); Handle 0 and Error when it fails.</summary>
    public static (nint Handle, string? Path, string? Error) LoadUncached(Func<string, string?> getEnv, string root = "/")
    {
        if (getEnv(OverrideVariable) is { Length: > 0 } forced)
        {
            if (!File.Exists(forced)) return (0, null, $"{OverrideVariable}={forced}: no such file");
            try
            {
                return Checked(NativeLibrary.Load(forced), forced);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                return (0, null, $"{OverrideVariable}={forced} could not be loaded: {e.Message}");
            }
        }
        var dirs = SearchDirectories(getEnv, root);
        var errors = new List<string>();
        foreach (var dir in dirs)
        {
            string path = Path.Join(dir, FileName);
            if (!File.Exists(path)) continue;
            try
            {
                return Checked(NativeLibrary.Load(path), path);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                errors.Add($"{path}: {e.Message}");
            }
        }
        var existing = dirs.Where(Directory.Exists).ToList();
        string message = $"{FileName} (Cuda.Nn's TensorRT shim, built from native/tensorrt with CMake where TensorRT 10 is installed; " +
            $"see docs/tensorrt.md) was not found in {existing.Count} existing folder(s) [{string.Join(", ", existing)}] " +
            $"(searched in order: the application's folder, TensorRT_ROOT/lib, LD_LIBRARY_PATH, CUDA_PATH/CUDA_HOME, the system " +
            $"library folders, Python site-packages/nvidia/*/lib; {dirs.Count - existing.Count} candidate folder(s) do not exist here). " +
            $"Set {OverrideVariable} to the file to use one elsewhere.";
        if (errors.Count > 0) message += " Found but not loadable (is TensorRT's libnvinfer.so.10 on the loader's path?): " + string.Join("; ", errors);
        return (0, null, message);
    }

    // A shim built from another header would bind wrong signatures: refuse it by its API version.
    private static unsafe (nint, string?, string?) Checked(nint handle, string path)
    {
        if (!NativeLibrary.TryGetExport(handle, "cudann_trt_api_version", out nint export))
            return (0, null, $"{path} has no cudann_trt_api_version: it is not a Cuda.Nn TensorRT shim");
        int version = 0;
        int status = ((delegate* unmanaged<int*, int>)export)(&version);
        if (status != 0 || version != ApiVersion)
            return (0, null, $"{path} implements cudann_trt.h API version {version} (status {status}); these bindings need version {ApiVersion}: rebuild the shim from this checkout's native/tensorrt");
        return (handle, path, null);
    }

    /// <summary>The loaded shim (once per process); throws <see cref="TensorRtLibraryNotFoundException"/> when absent.</summary>
    public static nint Load()
    {
        var (handle, _, error) = Loaded.Value;
        return handle != 0 ? handle : throw new TensorRtLibraryNotFoundException(error!);
    }

    /// <summary>True when the shim loads; <paramref name="error"/> says why not otherwise.</summary>
    public static bool TryLoad(out string? error)
    {
        error = Loaded.Value.Error;
        return Loaded.Value.Handle != 0;
    }

    /// <summary>The file that was loaded, or null.</summary>
    public static string? LoadedPath => Loaded.Value.Path;

    /// <summary>Registers the resolver for this assembly's imports (idempotent); TrtNative's static constructor calls it.</summary>
    public static void Install()
    {
        if (Interlocked.Exchange(ref installed, 1) == 1) return;
        NativeLibrary.SetDllImportResolver(typeof(TrtLibrary).Assembly, (name, _, _) => name == ImportName ? Load() : 0);
    }
}
