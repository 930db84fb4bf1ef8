// Benchmarks: dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*'
// Per-pass conv timings (quick, no BenchmarkDotNet): ... -- conv-profile [case|all|b1|s2] [threads] [reps]
//   (env CUDANN_PASS=forward|frozen: that pass only; CUDANN_VARIANTS_OFF=...: switch variants off; BenchEnvironment.cs)
// Per-stage image pipeline timings: ... -- pipeline-profile [reps]
// Ours against ONNX Runtime (quick, no BenchmarkDotNet): ... -- inference-profile [case,...|all|zoo] [reps] [steps|ortsteps]
// Whole-model step timings (quick, no BenchmarkDotNet): ... -- model-profile [case|all] [reps]
// Memory soak, a pass/fail check, not a timing (SoakRun.cs): ... -- soak [--train-steps N] [--inferences N] [--batch N] [--threads N] [--out FILE.csv]
// Environment variables (kernel variants and switches, profile settings): BenchEnvironment.cs.
Cuda.Nn.Bench.BenchEnvironment.Apply();
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
