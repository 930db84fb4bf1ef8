// The ILGPU backends under test, created once per process (kernel compilation is paid once) and registered
// with Backends. Theories take a backend name so a CUDA accelerator joins automatically where one exists.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Ilgpu;

namespace Cuda.Nn.Tests.Support;

public static class IlgpuDevices
{
    public const string CpuName = "ilgpu-cpu", CudaName = "ilgpu-cuda";

    private static readonly Lazy<IlgpuBackend> CpuBackend = new(() =>
    {
        var b = IlgpuBackend.CreateCpu(0);
        Backends.Register(b);
        return b;
    });

    private static readonly Lazy<(IlgpuBackend? Backend, string Reason)> CudaBackend = new(() =>
    {
        var b = IlgpuBackend.TryCreateCuda(1, out var reason);
        if (b != null) Backends.Register(b);
        return (b, reason);
    });

    public static TheoryData<string> Names => new(CpuName, CudaName);

    /// <summary>The backend by name; the CUDA one skips the calling test (visibly) when no GPU is present.</summary>
    public static IlgpuBackend Get(string name)
    {
        if (name == CpuName) return CpuBackend.Value;
        var (b, reason) = CudaBackend.Value;
        if (b == null) Assert.Skip($"ILGPU CUDA accelerator not available: {reason}");
        return b!;
    }

    public static Device Device(string name) => Get(name).Device;
}
