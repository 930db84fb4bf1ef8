// cudann info: what this machine offers the engine.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Kernels.Ilgpu;

namespace Cuda.Nn.Cli;

public static class InfoCommand
{
    public static int Run(Options _)
    {
        Console.WriteLine($"cudann {CliMain.Version} on .NET {Environment.Version}, {RuntimeInformation.OSDescription} {RuntimeInformation.ProcessArchitecture}");
        Console.WriteLine($"cpu: {CpuModel()} ({Environment.ProcessorCount} logical processors)");
        Console.WriteLine($"simd: {SimdWidth()} bits in use (Vector512 {(Vector512.IsHardwareAccelerated ? "yes" : "no")}, Vector256 {(Vector256.IsHardwareAccelerated ? "yes" : "no")})");
        Console.WriteLine($"gemm kernel: {Gemm.ActiveKernel}");
        Console.WriteLine($"threads: {CpuWorkers.ThreadCount}");
        Console.WriteLine("devices:");
        foreach (var d in Backends.Available) Console.WriteLine($"  {d}  ({Backends.For(d).Name} backend)");
        bool driver = NativeLibrary.TryLoad("libcuda.so.1", out var h);
        if (driver) NativeLibrary.Free(h);
        Console.WriteLine(driver
            ? "  cuda: driver library libcuda.so.1 found, but this build has no CUDA backend yet"
            : "  cuda: no driver library (libcuda.so.1) found: CPU only");
        using (var ilgpu = IlgpuBackend.TryCreateCuda(0, out var why))
            Console.WriteLine(ilgpu != null
                ? $"  ilgpu: {ilgpu.Name} available (IlgpuBackend.TryCreateCuda)"
                : $"  ilgpu: {why}; ILGPU's CPU accelerator is available (IlgpuBackend.CreateCpu)");
        return 0;
    }

    public static int SimdWidth() =>
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : Vector128.IsHardwareAccelerated ? 128 : 0;

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return "unknown";
    }
}
