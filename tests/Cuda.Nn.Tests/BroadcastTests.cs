namespace Cuda.Nn.Tests;

public class BroadcastTests
{
    /// <summary>Every binary op over broadcast shape pairs equals an explicit loop over the broadcast index.</summary>
    [Theory]
    [InlineData(new[] { 2, 3, 4, 20 }, new[] { 1, 3, 1, 1 })]
    [InlineData(new[] { 2, 3, 4, 20 }, new[] { 3, 4, 20 })]
    [InlineData(new[] { 2, 3, 4, 20 }, new[] { 2, 1, 4, 20 })]
    [InlineData(new[] { 4, 17 }, new[] { 17 })]
    [InlineData(new[] { 5, 1, 18 }, new[] { 1, 3, 18 })]
    [InlineData(new[] { 3, 40 }, new[] { 3, 1 })]
    public void BinaryOpsMatchTheScalarLoop(int[] aShape, int[] bShape)
    {
        using var scope = new DisposeScope();
        var a = Tensor.Randn(aShape, new Generator(1));
        var b = Tensor.Rand(bShape, new Generator(2), low: 0.5, high: 2);
        var outShape = Kernels.Layout.BroadcastShapes(aShape, bShape);
        var av = a.ToFloatArray();
        var bv = b.ToFloatArray();
        foreach (var (name, f, r) in new (string, Func<Tensor, Tensor, Tensor>, Func<float, float, float>)[]
                 {
                     ("add", (x, y) => x + y, (x, y) => x + y), ("sub", (x, y) => x - y, (x, y) => x - y),
                     ("mul", (x, y) => x * y, (x, y) => x * y), ("div", (x, y) => x / y, (x, y) => x / y),
                     ("max", (x, y) => x.Maximum(y), MathF.Max),
                 })
        {
            foreach (var swap in new[] { false, true })
            {
                var got = (swap ? f(b, a) : f(a, b)).ToFloatArray();
                var l = Kernels.Layout.Contiguous(outShape);
                var idx = new int[outShape.Length];
                for (int i = 0; i < got.Length; i++)
                {
                    float x = av[Offset(idx, aShape)], y = bv[Offset(idx, bShape)];
                    float want = swap ? r(y, x) : r(x, y);
                    Assert.True(Math.Abs(got[i] - want) <= 1e-6f * Math.Max(1, Math.Abs(want)), $"{name}{(swap ? " swapped" : "")} [{string.Join(",", idx)}]: {got[i]} vs {want}");
                    for (int d = outShape.Length - 1; d >= 0; d--) { if (++idx[d] < outShape[d]) break; idx[d] = 0; }
                }
            }
        }
    }

    private static int Offset(int[] idx, int[] shape)
    {
        int lead = idx.Length - shape.Length, off = 0;
        for (int d = 0; d < shape.Length; d++) off = off * shape[d] + (shape[d] == 1 ? 0 : idx[d + lead]);
        return off;
    }
}
