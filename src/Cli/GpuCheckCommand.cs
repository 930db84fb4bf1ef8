// cudann gpu-check: every op family and a short ResNet-20 run on the GPU against the CPU (see scripts/gpu-check.sh).
using Cuda.Nn.Diagnostics;

namespace Cuda.Nn.Cli;

public static class GpuCheckCommand
{
    public static readonly string[] OptionNames = ["dry-run", "steps", "batch", "data", "out", "threads"];

    public static int Run(Options o)
    {
        using var threadScope = Kernels.Cpu.CpuKernelOptions.UseThreads(o.Int("threads", Environment.ProcessorCount, 1, 1024));
        var path = o.String("out") ?? "gpu-check.json";
        IO.AtomicFile.Preflight(path, "--out");
        var report = GpuCheck.Run(o.Bool("dry-run", false), o.Int("steps", 200, 0, 100000), o.Int("batch", 128, 1, 4096),
            o.String("data") ?? Data.ImageClassificationSet.DefaultFashionMnistDir, Console.Out);
        GpuCheck.Write(report, path);
        Console.WriteLine($"wrote {path}: {(report.Skipped is not null ? "skipped (no GPU)" : report.Passed ? "passed" : "FAILED")}");
        return report.Skipped is not null || report.Passed ? 0 : 1;
    }
}
