// Benchmarks: dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*'
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Cuda.Nn.Bench.BenchMarker).Assembly).Run(args);

namespace Cuda.Nn.Bench
{
    /// <summary>Anchors the assembly for BenchmarkSwitcher.</summary>
    public static class BenchMarker;
}
