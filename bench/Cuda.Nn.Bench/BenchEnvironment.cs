// Every environment variable the benchmarks read, read here once (docs/kernels.md lists them). Kernel switches
// become a CpuKernelOptions for the whole process; the rest are settings of the quick profile modes.
//   CUDANN_VARIANTS_OFF=conv2d.forward:direct,...    variants never chosen (registry names, docs/kernels.md)
//   CUDANN_VARIANTS_PREFER=conv2d.forward:im2col,... variants chosen first wherever they apply
//   CUDANN_DIRECT_STRIDE2=0   = CUDANN_VARIANTS_OFF=conv2d.forward:direct-stride2
//   CUDANN_BLOCKED=0          = CUDANN_VARIANTS_OFF=conv2d.frozen:blocked (the plan keeps NCHW, PackedConv2d)
//   CUDANN_ROW_TILES=0        stride-2 direct rows a multiple of 16 wide go through the scratch like any other
//   CUDANN_DIRECT_MIN_WIDTH=N the direct conv's narrowest output row
//   CUDANN_TILE_BLOCKS=1|2|4  frozen convs' channel blocks per tile, at most
//   CUDANN_BLOCKED_TILING=grid|rows  force one tiling of the blocked conv's stride-1 outputs
//   CUDANN_PREFETCH=0         the blocked conv's parts do not prefetch their rows
//   CUDANN_SPIN_US=N          how long idle workers spin before blocking
//   CUDANN_PASS=forward|frozen, CUDANN_THREADS=N, CUDANN_WARMUP=N, CUDANN_SLEEP_MS=N, CUDANN_GC_EACH_STEP=1,
//   CUDANN_HIGH_PRIORITY=1    settings of conv-profile, inference-profile and model-profile
using System.Globalization;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Bench;

internal static class BenchEnvironment
{
    private static string? Get(string name) => Environment.GetEnvironmentVariable(name);

    private static int? Int(string name) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : null;

    private static string[] List(string name) => Get(name)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    public static string? Pass => Get("CUDANN_PASS");
    public static int Threads => Int("CUDANN_THREADS") ?? 2;
    public static int? Warmup => Int("CUDANN_WARMUP");
    public static int? SleepMs => Int("CUDANN_SLEEP_MS");
    public static bool GcEachStep => Get("CUDANN_GC_EACH_STEP") == "1";
    public static bool HighPriority => Get("CUDANN_HIGH_PRIORITY") == "1";

    /// <summary>The kernel options the variables ask for, over the defaults.</summary>
    public static CpuKernelOptions KernelOptions()
    {
        var o = new CpuKernelOptions();
        var off = new HashSet<string>(List("CUDANN_VARIANTS_OFF"), StringComparer.Ordinal);
        if (Get("CUDANN_DIRECT_STRIDE2") == "0") off.Add("conv2d.forward:direct-stride2");
        if (Get("CUDANN_BLOCKED") == "0") off.Add(BlockedConv2d.FrozenVariant);
        return o with
        {
            Disabled = off,
            Preferred = new HashSet<string>(List("CUDANN_VARIANTS_PREFER"), StringComparer.Ordinal),
            DirectConvRowTiles = Get("CUDANN_ROW_TILES") != "0",
            DirectConvMinOutputWidth = Int("CUDANN_DIRECT_MIN_WIDTH") ?? o.DirectConvMinOutputWidth,
            FrozenConvMaxTileBlocks = Int("CUDANN_TILE_BLOCKS") ?? o.FrozenConvMaxTileBlocks,
            BlockedConvGridTiling = Get("CUDANN_BLOCKED_TILING") is { } t ? t == "grid" : null,
            BlockedConvPrefetchRows = Get("CUDANN_PREFETCH") != "0",
            SpinMicroseconds = Int("CUDANN_SPIN_US") ?? o.SpinMicroseconds,
        };
    }

    private static IDisposable? _applied;

    /// <summary>Applies the variables to this process, with a benchmark's thread count where it has one (BenchmarkDotNet's
    /// child processes call it from their setup, since they do not run Program.cs); a later call replaces the scope.</summary>
    public static void Apply(int? threads = null)
    {
        var options = KernelOptions();
        if (threads is { } t) options = options with { Threads = t };
        _applied?.Dispose();
        _applied = CpuKernelOptions.Use(options);
    }
}
