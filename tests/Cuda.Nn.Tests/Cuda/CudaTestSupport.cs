// Shared by the CUDA tests: where native/cuda is, and the visible skips for machines without NVRTC or a GPU.
using Cuda.Nn.Kernels.CudaNative;

namespace Cuda.Nn.Tests.CudaNative;

internal static class CudaTestSupport
{
    /// <summary>The architectures every kernel file must compile for (A100 and H100 class).</summary>
    public static readonly string[] Architectures = ["compute_80", "compute_90"];

    /// <summary>native/cuda of this checkout (walks up from the test binary to the folder holding Cuda.Nn.sln).</summary>
    public static string NativeCudaDir
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Cuda.Nn.sln"))) return Path.Combine(d.FullName, "native", "cuda");
            throw new DirectoryNotFoundException($"no folder holding Cuda.Nn.sln above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>
    /// Every kernel-only .cu file, relative to native/cuda: the production files and dev/kernels/*.cu. The
    /// harness mains directly in dev/ include host code (main, the runtime API) that only nvcc compiles.
    /// </summary>
    public static IEnumerable<string> KernelFiles()
    {
        var root = NativeCudaDir;
        return Directory.GetFiles(root, "*.cu", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !(f.StartsWith("dev/", StringComparison.Ordinal) && f.Count(c => c == '/') == 1))
            .Order(StringComparer.Ordinal);
    }

    public static void RequireNvrtc()
    {
        if (!NativeLibraryResolver.TryLoad(CudaLibrary.Nvrtc, out var error))
            Assert.Skip("NVRTC not available, CUDA kernels not compiled: " + error);
    }

    public static void RequireGpu()
    {
        if (CudaDriver.UnavailableReason() is { } why) Assert.Skip("no CUDA device, GPU test not run: " + why);
    }

    public static void RequireLibrary(CudaLibrary library)
    {
        if (!NativeLibraryResolver.TryLoad(library, out var error)) Assert.Skip($"{library} not available, test not run: " + error);
    }
}
