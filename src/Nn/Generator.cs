// Random number generator: a Philox4x32-10 stream identified by (seed, offset). Every random op draws
// from offset and advances it by the numbers it used, so the state is two integers that a checkpoint
// saves and restores exactly, and a GPU kernel can produce the same stream.
namespace Cuda.Nn;

public sealed class Generator
{
    public ulong Seed { get; private set; }
    /// <summary>How many 32-bit numbers this stream has used.</summary>
    public ulong Offset { get; set; }

    public Generator(ulong seed = 0) { Seed = seed; }

    [ThreadStatic] private static Generator? _default;

    /// <summary>
    /// The default generator of the calling thread (torch.manual_seed's, but per thread: concurrent work such as
    /// parallel tests or two trainers in one process cannot shift each other's streams). Seed 0 until ManualSeed.
    /// </summary>
    public static Generator Default => _default ??= new Generator(0);

    /// <summary>Re-seeds the calling thread's default generator.</summary>
    public static void ManualSeed(ulong seed) => Default.Reset(seed);

    public void Reset(ulong seed)
    {
        Seed = seed;
        Offset = 0;
    }

    /// <summary>Reserves count numbers and returns the offset they start at.</summary>
    internal ulong Take(ulong count)
    {
        ulong o = Offset;
        Offset += count;
        return o;
    }

    /// <summary>A uniform double in [0, 1) drawn on the host (for shuffles and samplers).</summary>
    public double NextDouble() => Kernels.Cpu.Philox.ToUnit(Kernels.Cpu.Philox.At(Seed, Take(1)));

    /// <summary>A uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        // 64 random bits make the modulo bias negligible (< n / 2^64).
        ulong hi = Kernels.Cpu.Philox.At(Seed, Take(1)), lo = Kernels.Cpu.Philox.At(Seed, Take(1));
        return (int)(((hi << 32) | lo) % (ulong)n);
    }

    public (ulong Seed, ulong Offset) GetState() => (Seed, Offset);

    public void SetState(ulong seed, ulong offset)
    {
        Seed = seed;
        Offset = offset;
    }
}
