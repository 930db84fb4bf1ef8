// Deterministic F64 inputs for gradient checks (System.Random, so they do not depend on the engine's RNG).
namespace Cuda.Nn.Tests.Support;

public static class TestInputs
{
    /// <summary>Uniform values in [lo, hi) as an F64 tensor.</summary>
    public static Tensor Uniform(int seed, int[] shape, double lo = -2, double hi = 2)
    {
        var rng = new Random(seed);
        int n = 1;
        foreach (var d in shape) n *= d;
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        return Tensor.FromArray(v, shape);
    }

    /// <summary>Uniform values in [lo, hi) kept at least margin away from every kink point (resampled until they are).</summary>
    public static Tensor AwayFrom(int seed, int[] shape, double lo, double hi, double[] kinks, double margin = 0.05)
    {
        var rng = new Random(seed);
        int n = 1;
        foreach (var d in shape) n *= d;
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            double x;
            do x = lo + (hi - lo) * rng.NextDouble();
            while (kinks.Any(k => Math.Abs(x - k) < margin));
            v[i] = x;
        }
        return Tensor.FromArray(v, shape);
    }

    /// <summary>Values with magnitude in [lo, hi) and random sign (away from 0 for log/reciprocal-like ops).</summary>
    public static Tensor SignedMagnitude(int seed, int[] shape, double lo, double hi)
    {
        var rng = new Random(seed);
        int n = 1;
        foreach (var d in shape) n *= d;
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (lo + (hi - lo) * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
        return Tensor.FromArray(v, shape);
    }

    public static Tensor Longs(long[] values, params int[] shape) => Tensor.FromArray(values, shape.Length == 0 ? [values.Length] : shape);
}
