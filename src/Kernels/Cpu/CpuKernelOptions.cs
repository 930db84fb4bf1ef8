// The CPU kernels' tunables and variant switches in one immutable object, instead of mutable statics spread over
// the kernel files. Defaults are what users run; tests and benchmarks pick another value for a scope:
//
//   using (CpuKernelOptions.Use(CpuKernelOptions.Current with { Disabled = ["conv2d.forward:direct"] })) { ... }
//
// The options are process-wide (the kernels run on CpuWorkers' threads, which no async context reaches), so a
// scope is for code that owns the process for its length: a benchmark, or tests in the GlobalSettings collection.
// Variant names are the registry's (`docs/kernels.md`): FAMILY:VARIANT, e.g. "conv2d.backward-filter:im2col".
namespace Cuda.Nn.Kernels.Cpu;

public sealed record CpuKernelOptions
{
    /// <summary>Threads the parallel kernels use, the calling thread included (CpuWorkers); the processor count by
    /// default. The same seed and thread count give the same bits (docs/reproducibility.md).</summary>
    public int Threads { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>How long an idle worker thread spins for the next parallel region before it blocks: a wake-up through
    /// the kernel costs tens of microseconds, as long as a small kernel.</summary>
    public int SpinMicroseconds { get; init; } = 100;

    /// <summary>Variants never chosen (FAMILY:VARIANT names); a family always keeps its general fallback.</summary>
    public IReadOnlySet<string> Disabled { get; init; } = new HashSet<string>();

    /// <summary>Variants chosen first wherever they apply (FAMILY:VARIANT names), ahead of the usual order.</summary>
    public IReadOnlySet<string> Preferred { get; init; } = new HashSet<string>();

    /// <summary>The direct 3x3 conv's narrowest output row; narrower planes go to the GEMM paths.</summary>
    public int DirectConvMinOutputWidth { get; init; } = 6;

    /// <summary>Stride-2 direct forward: rows a multiple of 16 wide write whole tiles (false: through the scratch).</summary>
    public bool DirectConvRowTiles { get; init; } = true;

    /// <summary>Images per GEMM of the image-batched conv paths (0: the cost model decides).</summary>
    public int ConvImagesPerGemm { get; init; }

    /// <summary>Column-block budget of the im2col paths, in elements (0: the defaults; 1: one output row per block).</summary>
    public long ConvColumnBlockBudget { get; init; }

    /// <summary>Upper bound of GEMM's shared packed-B buffer (floats); sets the k super-block.</summary>
    public int GemmMaxPackedB { get; init; } = 1 << 20;

    /// <summary>GEMM micro-kernel family (Auto: the widest this CPU runs).</summary>
    public GemmIsa GemmIsa { get; init; } = GemmIsa.Auto;

    /// <summary>For trying a micro-kernel without rewiring (docs/gemm.md): replaces the ISA's kernel and blocking,
    /// and turns off the vector and narrow special paths. Internal: the bench and tests see it.</summary>
    internal Gemm.Config? GemmConfig { get; init; }

    /// <summary>Frozen (inference) convs: channel blocks of 16 per tile, at most.</summary>
    public int FrozenConvMaxTileBlocks { get; init; } = 4;

    /// <summary>Blocked frozen conv, stride-1 outputs: force grid (true) or row (false) tiling; null: its cost model.</summary>
    public bool? BlockedConvGridTiling { get; init; }

    /// <summary>Blocked frozen conv: each part prefetches its input and residual rows.</summary>
    public bool BlockedConvPrefetchRows { get; init; } = true;

    /// <summary>Upper bound on bytes the CPU memory pool keeps after release; beyond it blocks go back to the OS.</summary>
    public long PoolMaxBytes { get; init; } = 4L << 30;

    /// <summary>int8 GEMM: the scalar path even where VPDPBUSD exists (for comparing the two).</summary>
    public bool Int8ForceScalar { get; init; }

    private static volatile CpuKernelOptions _current = new();

    /// <summary>The options the kernels run with now.</summary>
    public static CpuKernelOptions Current => _current;

    /// <summary>Runs with <paramref name="options"/> until the returned scope is disposed, then restores the
    /// previous options. Throws if a GEMM family is asked for that this CPU cannot run.</summary>
    public static IDisposable Use(CpuKernelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Threads < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Threads, "CpuKernelOptions.Threads must be at least 1");
        if (options.SpinMicroseconds < 0) throw new ArgumentOutOfRangeException(nameof(options), options.SpinMicroseconds, "CpuKernelOptions.SpinMicroseconds must not be negative");
        if (!Gemm.IsSupported(options.GemmIsa)) throw new PlatformNotSupportedException($"this CPU cannot run the {options.GemmIsa} GEMM kernel");
        var previous = _current;
        _current = options;
        return new Restore(previous);
    }

    /// <summary>The current options with another thread count, until the returned scope is disposed (a command or a
    /// training run sets its --threads this way).</summary>
    public static IDisposable UseThreads(int threads) => Use(Current with { Threads = threads });

    /// <summary>Whether a variant may be chosen.</summary>
    public bool Allows(string variant) => !Disabled.Contains(variant);

    private sealed class Restore(CpuKernelOptions previous) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _current = previous;
        }
    }
}
