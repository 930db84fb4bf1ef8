// Shared pieces of the property tests: a deterministic FsCheck runner, shape generators and scalar
// row-major index helpers that the references are written with (independent of Layout).
using Cuda.Nn.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;

namespace Cuda.Nn.Tests;

internal static class PropCheck
{
    /// <summary>Runs body on maxTest generated cases from a fixed seed, throwing (with the case) on the first failure.</summary>
    public static void Run<T>(Gen<T> gen, Action<T> body, int maxTest = 100, ulong seed = 0x5EED_2025)
    {
        var replay = new Replay(new Rnd(seed, 0x9E3779B97F4A7C15UL), FSharpOption<int>.None);
        var config = Config.QuickThrowOnFailure
            .WithMaxTest(maxTest)
            .WithQuietOnSuccess(true)
            .WithReplay(FSharpOption<Replay>.Some(replay));
        Check.One(config, Prop.ForAll(Arb.From(gen), body));
    }

    /// <summary>A shape of rank [minRank, maxRank] with dims in [minDim, maxDim].</summary>
    public static Gen<int[]> Shape(int minRank = 0, int maxRank = 4, int minDim = 0, int maxDim = 5) =>
        Gen.Choose(minRank, maxRank).SelectMany(r => Gen.ArrayOf(Gen.Choose(minDim, maxDim), r));

    public static Gen<int> Seed => Gen.Choose(0, int.MaxValue - 1);

    public static Gen<bool> Bool => Gen.Elements(false, true);
}

internal static class Ref
{
    public static int Numel(int[] shape)
    {
        int n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    public static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }

    public static int Ravel(int[] idx, int[] shape)
    {
        int f = 0;
        for (int i = 0; i < shape.Length; i++) f = f * shape[i] + idx[i];
        return f;
    }

    public static string S(int[] shape) => Layout.ShapeString(shape);

    public static bool Close(double actual, double expected, double atol, double rtol) =>
        (double.IsNaN(actual) && double.IsNaN(expected)) || actual == expected || Math.Abs(actual - expected) <= atol + rtol * Math.Abs(expected);

    public static void AllClose(double[] expected, double[] actual, double atol, double rtol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} elements, expected {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Close(actual[i], expected[i], atol, rtol), $"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
    }

    /// <summary>Builds a tensor holding `logical` in row-major order of `shape`; when permuted (rank >= 2)
    /// it is a non-contiguous view: a reversed-shape storage seen through Permute(r-1, ..., 0).</summary>
    public static Tensor Make<T>(T[] logical, int[] shape, bool permuted) where T : unmanaged
    {
        int r = shape.Length;
        if (!permuted || r < 2) return Tensor.FromArray(logical, shape);
        var rev = shape.Reverse().ToArray();
        var stored = new T[logical.Length];
        for (int f = 0; f < logical.Length; f++)
        {
            var idx = Unravel(f, shape);
            Array.Reverse(idx);
            stored[Ravel(idx, rev)] = logical[f];
        }
        using var b = Tensor.FromArray(stored, rev);
        var view = b.Permute(Enumerable.Range(0, r).Reverse().ToArray());
        Assert.False(view.IsContiguous && Numel(shape) > 1 && shape.Count(d => d > 1) > 1, "permuted test tensor should be non-contiguous");
        return view;
    }

    /// <summary>A float-valued tensor of a floating dtype (values must be exact in that dtype).</summary>
    public static Tensor MakeFloat(double[] logical, int[] shape, DType dtype, bool permuted) => dtype switch
    {
        DType.F32 => Make(logical.Select(v => (float)v).ToArray(), shape, permuted),
        DType.F64 => Make(logical, shape, permuted),
        DType.F16 => Make(logical.Select(v => (Half)v).ToArray(), shape, permuted),
        DType.I64 => Make(logical.Select(v => (long)v).ToArray(), shape, permuted),
        DType.I32 => Make(logical.Select(v => (int)v).ToArray(), shape, permuted),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };
}
