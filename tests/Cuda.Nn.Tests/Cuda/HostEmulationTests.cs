// The production kernels compiled as plain C++ (native/cuda/test/host_emulation.h runs each block as
// threads with barrier-emulated __syncthreads and shuffles) and checked against double-precision
// references by native/cuda/test/kernels_on_host.cpp. Needs a C++20 compiler, not a GPU.
using System.Diagnostics;
using Cuda.Nn.Kernels.CudaNative;
using static Cuda.Nn.Tests.CudaNative.CudaTestSupport;

namespace Cuda.Nn.Tests.CudaNative;

public sealed class HostEmulationTests
{
    private static string ProgramSource => Path.Combine(NativeCudaDir, "test", "kernels_on_host.cpp");

    private static (int ExitCode, string Output) Run(string file, string arguments, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} ran longer than {timeout}");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void EveryProductionKernelFileIsEmulated()
    {
        var program = File.ReadAllText(ProgramSource);
        foreach (var file in NativeKernelSources.Kernels.Keys)
            Assert.Contains($"#include \"../{file}\"", program, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelsMatchReferencesOnTheCpuEmulation()
    {
        var compiler = Support.NativeCompilers.Cxx();
        if (compiler is null) Assert.Skip("no C++ compiler (g++, c++, clang++ or $CXX) on PATH: the kernels' host emulation was not run");
        var dir = Path.Combine(Path.GetTempPath(), "cudann-emulation-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var exe = Path.Combine(dir, "kernels_on_host");
            var (build, buildLog) = Run(compiler, $"-std=c++20 -O1 -pthread -o \"{exe}\" \"{ProgramSource}\"", TimeSpan.FromMinutes(4));
            Assert.True(build == 0, $"{compiler} could not build {ProgramSource}:\n{buildLog}");
            var (status, output) = Run(exe, "", TimeSpan.FromMinutes(2));
            TestContext.Current.TestOutputHelper?.WriteLine(output);
            Assert.True(status == 0 && output.Contains("all kernel checks passed", StringComparison.Ordinal), output);
            Assert.DoesNotContain("FAIL", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
