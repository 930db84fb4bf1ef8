// Float64 central-difference gradient checks of conv2d, pooling, batch norm (train and eval), interpolate,
// pad and the folded batch norm, plus the semantics the oracle does not pin down (dropout2d, ceil mode,
// folding equals eval-mode batch norm, running-stat updates).
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public class ConvGradCheckTests
{
    private static double[] Random(int n, int seed)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = r.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>Checks d sum(f(inputs) * r) / d input against central differences (h = 1e-6) for every element of every input.</summary>
    private static void GradCheck(string what, Func<Tensor[], Tensor> f, params (double[] Data, int[] Shape)[] inputs)
    {
        using var scope = new DisposeScope();
        var leaves = inputs.Select(i => Tensor.FromArray(i.Data, i.Shape).RequiresGrad_()).ToArray();
        var y = f(leaves);
        var r = Tensor.FromArray(Random(y.Numel, 99), y.Shape);
        var rv = r.ToDoubleArray();
        y.Backward(r);
        double Loss()
        {
            using var s = new DisposeScope();
            using var ng = AutogradMode.NoGrad();
            var ts = inputs.Select(i => Tensor.FromArray(i.Data, i.Shape)).ToArray();
            var yy = f(ts).ToDoubleArray();
            double l = 0;
            for (int i = 0; i < yy.Length; i++) l += yy[i] * rv[i];
            return l;
        }
        const double h = 1e-6;
        for (int k = 0; k < inputs.Length; k++)
        {
            var grad = leaves[k].Grad?.ToDoubleArray() ?? new double[inputs[k].Data.Length];
            var data = inputs[k].Data;
            for (int j = 0; j < data.Length; j++)
            {
                double keep = data[j];
                data[j] = keep + h; double lp = Loss();
                data[j] = keep - h; double lm = Loss();
                data[j] = keep;
                double num = (lp - lm) / (2 * h);
                Assert.True(Math.Abs(grad[j] - num) <= 1e-6 + 1e-5 * Math.Abs(num), $"{what}: input {k} element {j}: analytic {grad[j]}, numeric {num}");
            }
        }
    }

    private static (double[], int[]) In(int seed, params int[] shape) => (Random(shape.Aggregate(1, (a, b) => a * b), seed), shape);

    [Fact]
    public void Conv2dGradients()
    {
        GradCheck("conv 3x3 s1 p1 groups 2", t => F.Conv2d(t[0], t[1], t[2], 1, 1, 1, 2), In(1, 2, 4, 5, 6), In(2, 6, 2, 3, 3), In(3, 6));
        GradCheck("conv stride 2 dilation 2", t => F.Conv2d(t[0], t[1], t[2], (2, 1), (2, 1), (2, 1)), In(4, 1, 2, 7, 6), In(5, 3, 2, 3, 2), In(6, 3));
        GradCheck("conv depthwise m2 stride 2", t => F.Conv2d(t[0], t[1], t[2], 2, 1, 1, 3), In(7, 2, 3, 6, 5), In(8, 6, 1, 3, 3), In(9, 6));
        GradCheck("conv depthwise stride 1", t => F.Conv2d(t[0], t[1], null, 1, 1, 1, 2), In(10, 1, 2, 5, 19), In(11, 2, 1, 3, 3));
        GradCheck("conv pointwise", t => F.Conv2d(t[0], t[1], t[2]), In(12, 2, 3, 3, 4), In(13, 4, 3, 1, 1), In(14, 4));
    }

    [Fact]
    public void PoolingGradients()
    {
        GradCheck("max_pool k3 s2 p1 ceil", t => F.MaxPool2d(t[0], (3, 3), (2, 2), (1, 1), null, ceilMode: true), In(20, 2, 2, 6, 7));
        GradCheck("max_pool dilation 2", t => F.MaxPool2d(t[0], (2, 2), (1, 1), (1, 1), (2, 2)), In(21, 1, 2, 6, 5));
        GradCheck("avg_pool include pad", t => F.AvgPool2d(t[0], (3, 3), (2, 2), (1, 1), ceilMode: true), In(22, 1, 2, 6, 7));
        GradCheck("avg_pool exclude pad", t => F.AvgPool2d(t[0], (3, 2), (1, 2), (1, 1), countIncludePad: false), In(23, 1, 2, 5, 6));
        GradCheck("adaptive avg", t => F.AdaptiveAvgPool2d(t[0], (3, 2)), In(24, 2, 2, 7, 5));
        GradCheck("adaptive max", t => F.AdaptiveMaxPool2d(t[0], (2, 3)), In(25, 2, 2, 7, 5));
    }

    [Fact]
    public void BatchNormGradients()
    {
        GradCheck("batch_norm train", t => F.BatchNorm2d(t[0], null, null, t[1], t[2], training: true), In(30, 3, 2, 3, 4), In(31, 2), In(32, 2));
        var rm = Random(2, 33); var rv = Random(2, 34).Select(v => v + 1.5).ToArray();
        GradCheck("batch_norm eval", t => F.BatchNorm2d(t[0], Tensor.FromArray(rm, 2), Tensor.FromArray(rv, 2), t[1], t[2], training: false),
            In(35, 2, 2, 3, 3), In(36, 2), In(37, 2));
        GradCheck("channel affine", t => F.ChannelAffine(t[0], t[1], t[2]), In(38, 2, 3, 2, 2), In(39, 3), In(40, 3));
    }

    [Fact]
    public void InterpolateAndPadGradients()
    {
        GradCheck("bilinear", t => F.Interpolate(t[0], size: (7, 4), mode: "bilinear"), In(50, 1, 2, 4, 5));
        GradCheck("bilinear align corners", t => F.Interpolate(t[0], size: (3, 8), mode: "bilinear", alignCorners: true), In(51, 1, 2, 4, 5));
        GradCheck("bilinear scale 1.5", t => F.Interpolate(t[0], scaleFactor: (1.5, 0.7), mode: "bilinear"), In(52, 1, 1, 5, 6));
        GradCheck("nearest", t => F.Interpolate(t[0], size: (7, 3), mode: "nearest"), In(53, 1, 2, 4, 5));
        GradCheck("pad constant", t => F.Pad(t[0], [1, 2, 0, 3], "constant", 0.5), In(54, 1, 2, 3, 4));
        GradCheck("pad reflect", t => F.Pad(t[0], [2, 1, 2, 2], "reflect"), In(55, 1, 2, 3, 4));
        GradCheck("pad replicate", t => F.Pad(t[0], [3, 0, 1, 4], "replicate"), In(56, 2, 3, 4));
        GradCheck("pad last dim", t => F.Pad(t[0], [2, 3], "reflect"), In(57, 2, 5));
    }

    [Fact]
    public void PadValuesMatchPyTorchSemantics()
    {
        using var scope = new DisposeScope();
        var x = Tensor.FromArray(new float[] { 1, 2, 3, 4, 5, 6 }, 1, 2, 3);
        Assert.Equal(new float[] { 3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4 }, F.Pad(x, [2, 2], "reflect").ToFloatArray());
        Assert.Equal(new float[] { 1, 1, 2, 3, 3, 4, 4, 5, 6, 6 }, F.Pad(x, [1, 1], "replicate").ToFloatArray());
        var c = F.Pad(x, [1, 1, 1, 0], "constant", 9).ToFloatArray();
        Assert.Equal(new float[] { 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 9 }, c);
    }

    [Fact]
    public void MaxPoolIndicesAndCeilMode()
    {
        using var scope = new DisposeScope();
        var x = Tensor.FromArray(Enumerable.Range(0, 25).Select(i => (float)((i * 7) % 25)).ToArray(), 1, 1, 5, 5);
        var (y, idx) = F.MaxPool2dWithIndices(x, 2, 2, ceilMode: true);
        Assert.Equal([1, 1, 3, 3], y.Shape);
        var xv = x.ToFloatArray();
        var yv = y.ToFloatArray();
        var iv = idx.ToArray<long>();
        for (int i = 0; i < 9; i++) Assert.Equal(yv[i], xv[iv[i]]);
        // The last window of each row starts at 4 and holds one column.
        Assert.Equal(Math.Max(xv[4], xv[9]), yv[2]);
        // Ceil mode never starts a window in the right padding: 5 -> k2 s2 p1 gives 3, not 4.
        Assert.Equal(3, Pool2dGeometry.OutputSize(5, 2, 2, 1, 1, true));
        var g = F.GlobalAvgPool2d(x);
        Assert.Equal([1, 1, 1, 1], g.Shape);
        Assert.Equal(xv.Average(), g.Item(), 5);
    }

    [Fact]
    public void BatchNormRunningStatsAndFolding()
    {
        using var scope = new DisposeScope();
        var x = Tensor.FromArray(Random(2 * 3 * 4 * 5, 60), 2, 3, 4, 5).To(DType.F32);
        var rm = Tensor.Zeros([3]);
        var rv = Tensor.Ones([3]);
        var w = Tensor.FromArray(new float[] { 1.5f, -0.5f, 2 });
        var b = Tensor.FromArray(new float[] { 0.1f, 0.2f, -0.3f });
        F.BatchNorm2d(x, rm, rv, w, b, training: true, momentum: 0.25);
        var mean = x.Mean([0, 2, 3]).ToFloatArray();
        var varU = x.Var([0, 2, 3], correction: 1).ToFloatArray();
        var rmv = rm.ToFloatArray(); var rvv = rv.ToFloatArray();
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(0.25 * mean[c], rmv[c], 5);
            Assert.Equal(0.75 + 0.25 * varU[c], rvv[c], 5);
        }
        var eval = F.BatchNorm2d(x, rm, rv, w, b, training: false);
        var (scale, shift) = F.FoldBatchNorm(rm, rv, w, b);
        var folded = F.ChannelAffine(x, scale, shift);
        var ev = eval.ToFloatArray(); var fv = folded.ToFloatArray();
        for (int i = 0; i < ev.Length; i++) Assert.Equal(ev[i], fv[i], 5);
        Assert.Throws<ArgumentException>(() => F.BatchNorm2d(Tensor.Zeros([1, 3, 1, 1]), null, null, training: true));
        Assert.Throws<ArgumentException>(() => F.BatchNorm2d(x, Tensor.Zeros([4]), Tensor.Ones([4])));
    }

    [Fact]
    public void Dropout2dZeroesWholeChannels()
    {
        using var scope = new DisposeScope();
        var x = Tensor.Ones([4, 16, 3, 3]).RequiresGrad_();
        var y = F.Dropout2d(x, 0.5, generator: new Generator(7));
        var v = y.ToFloatArray();
        int dropped = 0;
        for (int ch = 0; ch < 64; ch++)
        {
            var plane = v.Skip(ch * 9).Take(9).Distinct().ToArray();
            Assert.Single(plane);
            Assert.True(plane[0] == 0 || plane[0] == 2, $"channel {ch} value {plane[0]}");
            if (plane[0] == 0) dropped++;
        }
        Assert.InRange(dropped, 16, 48);
        y.Sum().Backward();
        Assert.Equal(v, x.Grad!.ToFloatArray());
        var same = F.Dropout2d(x, 0.5, training: false);
        Assert.Equal(x.ToFloatArray(), same.ToFloatArray());
    }
}
