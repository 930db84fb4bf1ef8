// The library search: where it looks, in which order, what it accepts, and the message when nothing is there.
// Uses a fake file tree under a temp folder, so it runs the same on every machine.
using Cuda.Nn.Kernels.CudaNative;

namespace Cuda.Nn.Tests.CudaNative;

public sealed class NativeLibraryResolverTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "cudann-resolver-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Touch(string relative)
    {
        var path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "");
        return path;
    }

    private IReadOnlyList<string> Dirs(Dictionary<string, string>? env = null) =>
        NativeLibraryResolver.SearchDirectories(v => env?.GetValueOrDefault(v), _root);

    [Fact]
    public void FindsNvrtcInAPythonWheel()
    {
        var wheel = Touch("usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
        Touch("usr/local/lib/python3.12/dist-packages/nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.8");
        Assert.Equal(wheel, NativeLibraryResolver.Locate(CudaLibrary.Nvrtc, Dirs()));
    }

    [Fact]
    public void FindsDebiansNvrtcAndCudnnInHomeLocal()
    {
        var debian = Touch("usr/lib/x86_64-linux-gnu/libnvrtc.so.11.2");
        Assert.Equal(debian, NativeLibraryResolver.Locate(CudaLibrary.Nvrtc, Dirs()));
        var home = Path.Combine(_root, "home/me");
        var cudnn = Touch("home/me/.local/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        Assert.Equal(cudnn, NativeLibraryResolver.Locate(CudaLibrary.Cudnn, Dirs(new() { ["HOME"] = home })));
    }

    [Fact]
    public void FindsNcclInPyTorchsWheelAndNamesItWhenMissing()
    {
        Assert.Null(NativeLibraryResolver.Locate(CudaLibrary.Nccl, Dirs()));
        var message = NativeLibraryResolver.NotFoundMessage(CudaLibrary.Nccl, Dirs(), []);
        Assert.Contains("libnccl 2 (NCCL; pip: nvidia-nccl-cu12", message);
        Assert.Contains("Looked for libnccl.so.2 in", message);
        Assert.Contains("CUDANN_NCCL_PATH", message);
        var venv = Path.Combine(_root, "venv");
        var wheel = Touch("venv/lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2");
        Assert.Equal(wheel, NativeLibraryResolver.Locate(CudaLibrary.Nccl, Dirs(new() { ["VIRTUAL_ENV"] = venv })));
        Assert.Equal(CudaLibrary.Nccl, NativeLibraryResolver.LibraryFor("libnccl.so.2"));
    }

    [Fact]
    public void NcclsVersionOrOneErrorNamingTheLibrary()
    {
        // Runs on every machine: without NCCL (CI) the binding must fail with the resolver's report, not a crash.
        if (NativeLibraryResolver.TryLoad(CudaLibrary.Nccl, out var why))
            Assert.Matches(@"^2\.\d+\.\d+$", Nccl.Version());
        else
        {
            var e = Assert.Throws<CudaLibraryNotFoundException>(Nccl.Version);
            Assert.Equal(CudaLibrary.Nccl, e.Library);
            Assert.Equal(why, e.Message);
            Assert.Contains("libnccl.so.2", e.Message);
        }
    }

    [Fact]
    public void LdLibraryPathComesFirstAndNewerMajorWinsWithinAFolder()
    {
        Touch("usr/local/cuda/lib64/libcublas.so.13");
        var mine = Touch("opt/mine/libcublas.so.12");
        var dirs = Dirs(new() { ["LD_LIBRARY_PATH"] = Path.Combine(_root, "opt/mine") + ":" });
        Assert.Equal(mine, NativeLibraryResolver.Locate(CudaLibrary.Cublas, dirs));

        var twelve = Touch("usr/lib/x86_64-linux-gnu/libcublasLt.so.12");
        var thirteen = Touch("usr/lib/x86_64-linux-gnu/libcublasLt.so.13");
        Assert.Equal(thirteen, NativeLibraryResolver.Locate(CudaLibrary.CublasLt, Dirs()));
        File.Delete(thirteen);
        Assert.Equal(twelve, NativeLibraryResolver.Locate(CudaLibrary.CublasLt, Dirs()));
    }

    [Fact]
    public void ToolkitFoldersAreNewestVersionFirst()
    {
        var newest = Touch("usr/local/cuda-12.10/lib64/libnvrtc.so.12");
        Touch("usr/local/cuda-12.4/lib64/libnvrtc.so.12");
        Assert.Equal(newest, NativeLibraryResolver.Locate(CudaLibrary.Nvrtc, Dirs()));
    }

    [Fact]
    public void UnlistedVersionedNvrtcIsAFallbackButBuiltinsAreNot()
    {
        Touch("usr/lib/x86_64-linux-gnu/libnvrtc-builtins.so.11.8");
        Assert.Null(NativeLibraryResolver.Locate(CudaLibrary.Nvrtc, Dirs()));
        var versioned = Touch("usr/lib/x86_64-linux-gnu/libnvrtc.so.11.8.89");
        Assert.Equal(versioned, NativeLibraryResolver.Locate(CudaLibrary.Nvrtc, Dirs()));
    }

    [Fact]
    public void DriverIsLibcudaSo1()
    {
        Touch("usr/lib/x86_64-linux-gnu/libcuda.so");
        var so1 = Touch("usr/lib/x86_64-linux-gnu/libcuda.so.1");
        Assert.Equal(so1, NativeLibraryResolver.Locate(CudaLibrary.Driver, Dirs()));
        Assert.Equal("libcuda.so.1", NativeLibraryResolver.FileNames(CudaLibrary.Driver)[0]);
    }

    [Fact]
    public void NotFoundMessageNamesTheLibraryAndWhereItLooked()
    {
        Directory.CreateDirectory(Path.Combine(_root, "usr/lib/x86_64-linux-gnu"));
        var dirs = Dirs(new() { ["LD_LIBRARY_PATH"] = "/nonexistent/cudann-test" });
        Assert.Null(NativeLibraryResolver.Locate(CudaLibrary.Cudnn, dirs));
        var message = NativeLibraryResolver.NotFoundMessage(CudaLibrary.Cudnn, dirs, ["x.so: bad ELF"]);
        Assert.Contains("libcudnn.so.9", message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_root, "usr/lib/x86_64-linux-gnu"), message, StringComparison.Ordinal);
        Assert.Contains("LD_LIBRARY_PATH", message, StringComparison.Ordinal);
        Assert.Contains("site-packages", message, StringComparison.Ordinal);
        Assert.Contains("CUDANN_CUDNN_PATH", message, StringComparison.Ordinal);
        Assert.Contains("x.so: bad ELF", message, StringComparison.Ordinal);
        Assert.Contains("libnvrtc.so.11.2", NativeLibraryResolver.NotFoundMessage(CudaLibrary.Nvrtc, dirs, []), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("libcuda.so.1", CudaLibrary.Driver)]
    [InlineData("cuda", CudaLibrary.Driver)]
    [InlineData("libcuda.so", CudaLibrary.Driver)]
    [InlineData("cudann-nvrtc", CudaLibrary.Nvrtc)]
    [InlineData("libnvrtc.so.12", CudaLibrary.Nvrtc)]
    [InlineData("cublas", CudaLibrary.Cublas)]
    [InlineData("libcublasLt.so.13", CudaLibrary.CublasLt)]
    [InlineData("libcudnn.so.9", CudaLibrary.Cudnn)]
    public void ImportNamesMapToLibraries(string name, CudaLibrary expected) => Assert.Equal(expected, NativeLibraryResolver.LibraryFor(name));

    [Fact]
    public void UnknownImportNamesAreLeftToTheRuntime()
    {
        Assert.Null(NativeLibraryResolver.LibraryFor("libc"));
        Assert.Null(NativeLibraryResolver.LibraryFor("cudart"));
    }

    [Fact]
    public void MissingDriverIsOneClearExceptionNotACrash()
    {
        if (CudaDriver.IsAvailable) Assert.Skip("libcuda.so.1 is present on this machine; the missing-driver path cannot be observed");
        var e = Assert.Throws<CudaLibraryNotFoundException>(() => CudaDriver.DeviceCount);
        Assert.Equal(CudaLibrary.Driver, e.Library);
        Assert.Contains("libcuda.so.1", e.Message, StringComparison.Ordinal);
        Assert.Contains("NVIDIA driver", e.Message, StringComparison.Ordinal);
        Assert.NotNull(CudaDriver.UnavailableReason());
        // A raw binding reached without the safe wrapper fails the same way, through the import resolver.
        var raw = Assert.ThrowsAny<DllNotFoundException>(() => CudaDriverNative.cuInit(0));
        Assert.Contains("libcuda.so.1", raw.Message, StringComparison.Ordinal);
        // So do the other wrappers' libraries when absent.
        if (!NativeLibraryResolver.TryLoad(CudaLibrary.Cudnn, out _))
            Assert.Contains("libcudnn.so.9", Assert.Throws<CudaLibraryNotFoundException>(() => new Cudnn()).Message, StringComparison.Ordinal);
        if (!NativeLibraryResolver.TryLoad(CudaLibrary.Cublas, out _))
            Assert.Contains("libcublas.so.12", Assert.Throws<CudaLibraryNotFoundException>(() => new Cublas()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverrideVariableNamesEachLibrary()
    {
        Assert.Equal("CUDANN_NVRTC_PATH", NativeLibraryResolver.OverrideVariable(CudaLibrary.Nvrtc));
        Assert.Equal("CUDANN_DRIVER_PATH", NativeLibraryResolver.OverrideVariable(CudaLibrary.Driver));
    }
}
