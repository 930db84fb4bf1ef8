// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator PyTorch uses on CUDA. A stream is
// (seed, offset): element j of a fill is a pure function of (seed, offset + j), so CPU and GPU kernels
// can produce the same numbers in parallel and a checkpoint only needs two integers.
namespace Cuda.Nn.Kernels.Cpu;

public static class Philox
{
    private const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>The four 32-bit outputs of the block with the given 64-bit counter and key.</summary>
    public static (uint, uint, uint, uint) Block(ulong counter, ulong key)
    {
        uint c0 = (uint)counter, c1 = (uint)(counter >> 32), c2 = 0, c3 = 0;
        uint k0 = (uint)key, k1 = (uint)(key >> 32);
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    /// <summary>The 32-bit output number `index` of the stream keyed by seed.</summary>
    public static uint At(ulong seed, ulong index)
    {
        var (a, b, c, d) = Block(index >> 2, seed);
        return (index & 3) switch { 0 => a, 1 => b, 2 => c, _ => d };
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable in float32).</summary>
    public static double ToUnit(uint u) => (u >> 8) * (1.0 / (1 << 24));

    /// <summary>Uniform in [0, 1) with the given number of random bits (1 to 32), so that the value is exact in a
    /// type with that many significand bits and cannot round up to 1 there (PyTorch's rule for half types).</summary>
    public static double ToUnit(uint u, int bits) => (u >> (32 - bits)) * (1.0 / (1L << bits));

    /// <summary>Fills n values; uniform uses one output each, normal two (Box-Muller, cosine branch).
    /// uniformBits is the random bits per uniform value: 24, or 11 for F16 and 8 for BF16 destinations.</summary>
    public static unsafe void Fill(double* dst, int n, ulong seed, ulong offset, bool normal, double low, double high, int uniformBits = 24)
    {
        for (int i = 0; i < n; i++)
        {
            if (!normal)
            {
                dst[i] = low + (high - low) * ToUnit(At(seed, offset + (ulong)i), uniformBits);
            }
            else
            {
                ulong j = offset + 2 * (ulong)i;
                double u1 = 1.0 - ToUnit(At(seed, j)); // (0, 1]: log stays finite
                double u2 = ToUnit(At(seed, j + 1));
                dst[i] = low + high * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            }
        }
    }
}
