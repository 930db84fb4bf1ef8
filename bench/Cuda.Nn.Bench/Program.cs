// Benchmarks: dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*'
// Per-pass conv timings (quick, no BenchmarkDotNet): ... -- conv-profile [case|all|b1|s2] [threads] [reps]
//   (env CUDANN_PASS=forward|frozen: that pass only; CUDANN_DIRECT_STRIDE2=0, CUDANN_ROW_TILES=0: switch paths off)
// Per-stage image pipeline timings: ... -- pipeline-profile [reps]
// Ours against ONNX Runtime (quick, no BenchmarkDotNet): ... -- inference-profile [case|all] [reps]
// Whole-model step timings (quick, no BenchmarkDotNet): ... -- model-profile [case|all] [reps]
// Memory soak, a pass/fail check, not a timing (SoakRun.cs): ... -- soak [--train-steps N] [--inferences N] [--batch N] [--threads N] [--out FILE.csv]
if (Environment.GetEnvironmentVariable("CUDANN_SPIN_US") is { } spin)
    Cuda.Nn.Kernels.Cpu.CpuWorkers.SpinMicroseconds = int.Parse(spin, System.Globalization.CultureInfo.InvariantCulture);
// CUDANN_TILE_BLOCKS=1: the frozen conv's tiles hold one block of 16 channels only, to compare.
if (Environment.GetEnvironmentVariable("CUDANN_TILE_BLOCKS") is { } tileBlocks)
{
    Cuda.Nn.Kernels.Cpu.PackedConv2d.MaxTileBlocks = int.Parse(tileBlocks, System.Globalization.CultureInfo.InvariantCulture);
    Cuda.Nn.Kernels.Cpu.BlockedConv2d.MaxTileBlocks = Cuda.Nn.Kernels.Cpu.PackedConv2d.MaxTileBlocks;
}
// CUDANN_BLOCKED=0: the inference plan keeps NCHW activations between convs (PackedConv2d), to compare.
if (Environment.GetEnvironmentVariable("CUDANN_BLOCKED") == "0") Cuda.Nn.Kernels.Cpu.BlockedConv2d.Enabled = false;
// CUDANN_BLOCKED_TILING=grid|rows: force one tiling of the blocked conv's stride-1 outputs (default: its cost model).
if (Environment.GetEnvironmentVariable("CUDANN_BLOCKED_TILING") is { } tiling)
    Cuda.Nn.Kernels.Cpu.BlockedConv2d.GridTiling = tiling == "grid";
// CUDANN_PREFETCH=0: the blocked conv's parts do not prefetch their input and residual rows, to compare.
if (Environment.GetEnvironmentVariable("CUDANN_PREFETCH") == "0") Cuda.Nn.Kernels.Cpu.BlockedConv2d.PrefetchRows = false;
if (args is ["soak", ..])
{
    Environment.ExitCode = Cuda.Nn.Bench.SoakRun.Run(args[1..]);
    return;
}
if (args is ["conv-profile", ..])
{
    Cuda.Nn.Bench.ConvProfile.Run(args[1..]);
    return;
}
if (args is ["model-profile", ..])
{
    Cuda.Nn.Bench.ModelProfile.Run(args[1..]);
    return;
}
if (args is ["inference-profile", ..])
{
    Cuda.Nn.Bench.InferenceProfile.Run(args[1..]);
    return;
}
if (args is ["pipeline-profile", ..])
{
    Cuda.Nn.Bench.PipelineProfile.Run(args[1..]);
    return;
}
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Cuda.Nn.Bench.BenchMarker).Assembly).Run(args);

namespace Cuda.Nn.Bench
{
    /// <summary>Anchors the assembly for BenchmarkSwitcher.</summary>
    public static class BenchMarker;
}
