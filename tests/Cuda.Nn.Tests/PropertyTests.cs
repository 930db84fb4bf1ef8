using FsCheck;
using FsCheck.Fluent;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

/// <summary>FsCheck properties for views, reductions and broadcasting over random small shapes.</summary>
public class PropertyTests
{
    private static Gen<int[]> Shapes => Gen.Choose(0, 4).SelectMany(rank => Gen.ArrayOf(Gen.Choose(1, 4), rank));

    private static double[] Data(int[] shape, int seed)
    {
        var n = shape.Aggregate(1, (a, d) => a * d);
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => Math.Round(r.NextDouble() * 8 - 4, 3)).ToArray();
    }

    private static void Check(Gen<int[]> shapes, Func<int[], int, bool> property) =>
        Prop.ForAll(shapes.ToArbitrary(), Gen.Choose(0, 1000).ToArbitrary(), (s, seed) => property(s, seed)).QuickCheckThrowOnFailure();

    [Fact]
    public void PermuteThenInverseIsIdentityAndContiguousFollowsThePermutation() => Check(Shapes, (shape, seed) =>
    {
        using var scope = new DisposeScope();
        var t = Tensor.FromArray(Data(shape, seed), shape);
        var perm = Enumerable.Range(0, shape.Length).OrderBy(i => (i * 7919 + seed) % 13).ToArray();
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        var p = t.Permute(perm);
        var back = p.Contiguous().Permute(inverse);
        return back.ToDoubleArray().SequenceEqual(t.ToDoubleArray()) && p.Shape.SequenceEqual(perm.Select(i => shape[i]));
    });

    [Fact]
    public void SumOverAnyDimSetMatchesAScalarLoop() => Check(Shapes.Where(s => s.Length > 0), (shape, seed) =>
    {
        using var scope = new DisposeScope();
        var data = Data(shape, seed);
        var t = Tensor.FromArray(data, shape);
        var dims = Enumerable.Range(0, shape.Length).Where(d => ((seed >> d) & 1) == 1).ToArray();
        if (dims.Length == 0) dims = [0];
        var got = t.Sum(dims, keepDim: true).ToDoubleArray();
        var outShape = shape.Select((d, i) => dims.Contains(i) ? 1 : d).ToArray();
        var want = new double[got.Length];
        var idx = new int[shape.Length];
        for (int i = 0; i < data.Length; i++)
        {
            int o = 0;
            for (int d = 0; d < shape.Length; d++) o = o * outShape[d] + (dims.Contains(d) ? 0 : idx[d]);
            want[o] += data[i];
            for (int d = shape.Length - 1; d >= 0; d--) { if (++idx[d] < shape[d]) break; idx[d] = 0; }
        }
        return got.Zip(want).All(p => Math.Abs(p.First - p.Second) < 1e-9);
    });

    [Fact]
    public void ViewsShareStorageAndReshapeKeepsRowMajorOrder() => Check(Shapes.Where(s => s.Length > 0 && s[0] > 1), (shape, seed) =>
    {
        using var scope = new DisposeScope();
        var t = Tensor.FromArray(Data(shape, seed), shape);
        var flat = t.Reshape(-1).ToDoubleArray();
        var n = t.Narrow(0, 1, 1);
        n.Fill_(42);
        int block = flat.Length / shape[0];
        var after = t.ToDoubleArray();
        return after.Skip(block).Take(block).All(v => v == 42) && after.Take(block).SequenceEqual(flat.Take(block));
    });

    [Fact]
    public void IncompatibleShapesNameBothShapes() => Check(Shapes.Where(s => s.Length > 0 && s[^1] > 1), (shape, seed) =>
    {
        using var scope = new DisposeScope();
        var a = Tensor.Zeros(shape);
        var other = (int[])shape.Clone();
        other[^1] += 1;
        var b = Tensor.Zeros(other);
        try { a.Add(b); return false; }
        catch (ArgumentException e) { return e.Message.Contains(Layout.ShapeString(shape)) && e.Message.Contains(Layout.ShapeString(other)); }
    });

    [Fact]
    public void CastsRoundTripThroughWiderTypes() => Check(Shapes, (shape, seed) =>
    {
        using var scope = new DisposeScope();
        var t = Tensor.FromArray(Data(shape, seed), shape).Mul(100).To(DType.I32);
        var ints = t.ToArray<int>();
        return t.To(DType.I64).To(DType.F64).To(DType.I32).ToArray<int>().SequenceEqual(ints)
            && t.To(DType.F32).ToArray<float>().Select(v => (int)v).SequenceEqual(ints);
    });
}
