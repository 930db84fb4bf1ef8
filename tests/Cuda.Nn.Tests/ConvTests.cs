using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class ConvTests
{
    /// <summary>Plain 7-loop convolution in double: the scalar reference.</summary>
    private static double[] Reference(double[] x, double[] w, double[]? b, ConvGeometry g)
    {
        var y = new double[g.N * g.O * g.OH * g.OW];
        int cg = g.CPerGroup, og = g.OPerGroup;
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
                for (int oy = 0; oy < g.OH; oy++)
                    for (int ox = 0; ox < g.OW; ox++)
                    {
                        double acc = b?[o] ?? 0;
                        int grp = o / og;
                        for (int c = 0; c < cg; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int iy = oy * g.SH - g.PH + kh * g.DH, ix = ox * g.SW - g.PW + kw * g.DW;
                                    if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                                    acc += x[((n * g.C + grp * cg + c) * g.H + iy) * g.W + ix] * w[((o * cg + c) * g.KH + kh) * g.KW + kw];
                                }
                        y[((n * g.O + o) * g.OH + oy) * g.OW + ox] = acc;
                    }
        return y;
    }

    public static TheoryData<int, int, int, int, int, int, int, int, int, int, int> Shapes => new()
    {
        // n, c, h, w, o, k, stride, pad, dilation, groups, kw
        { 1, 3, 7, 5, 4, 3, 1, 1, 1, 1, 3 },
        { 2, 4, 9, 11, 6, 3, 2, 1, 1, 2, 3 },
        { 1, 6, 8, 8, 6, 3, 1, 1, 1, 6, 3 },
        { 2, 4, 10, 7, 8, 5, 3, 2, 1, 4, 5 },
        { 1, 2, 9, 9, 3, 3, 1, 2, 2, 1, 3 },
        { 3, 5, 6, 6, 7, 1, 1, 0, 1, 1, 1 },
        { 1, 3, 11, 13, 2, 7, 2, 3, 1, 1, 7 },
        { 2, 3, 6, 9, 4, 2, 3, 0, 1, 1, 3 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ForwardMatchesTheScalarReferenceAndGradientsMatchFiniteDifferences(int n, int c, int h, int w, int o, int k, int stride, int pad, int dil, int groups, int kw)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, kw, stride, stride, pad, pad, dil, dil, groups);
        var x = GradCheck.Input([n, c, h, w], 1);
        var wt = GradCheck.Input([o, c / groups, k, kw], 2, 0.5);
        var b = GradCheck.Input([o], 3);
        using (x) using (wt) using (b)
        {
            using (var s = new DisposeScope())
            {
                var y = F.Conv2d(x, wt, b, (stride, stride), (pad, pad), (dil, dil), groups);
                var r = Reference(x.ToDoubleArray(), wt.ToDoubleArray(), b.ToDoubleArray(), g);
                Assert.Equal([n, o, g.OH, g.OW], y.Shape);
                var a = y.ToDoubleArray();
                for (int i = 0; i < r.Length; i++) Assert.True(Math.Abs(a[i] - r[i]) < 1e-10, $"conv2d y[{i}] {a[i]} vs reference {r[i]}");
                // and the F32 path agrees with the F64 reference
                var y32 = F.Conv2d(x.To(DType.F32), wt.To(DType.F32), b.To(DType.F32), (stride, stride), (pad, pad), (dil, dil), groups).ToDoubleArray();
                for (int i = 0; i < r.Length; i++) Assert.True(Math.Abs(y32[i] - r[i]) < 1e-4 + 1e-4 * Math.Abs(r[i]), $"conv2d F32 y[{i}] {y32[i]} vs reference {r[i]}");
            }
            GradCheck.Check($"conv2d {g}", t => F.Conv2d(t[0], t[1], t[2], (stride, stride), (pad, pad), (dil, dil), groups), [x, wt, b]);
        }
    }

    [Fact]
    public void PoolingAndBatchNormGradients()
    {
        var x = GradCheck.Input([2, 3, 5, 6], 4);
        var gamma = GradCheck.Input([3], 5);
        var beta = GradCheck.Input([3], 6);
        using (x) using (gamma) using (beta)
        {
            GradCheck.Check("max_pool2d", t => F.MaxPool2d(t[0], (3, 2), (2, 2), (1, 1), ceilMode: true), [x]);
            GradCheck.Check("avg_pool2d", t => F.AvgPool2d(t[0], (3, 3), (2, 1), (1, 1), ceilMode: false, countIncludePad: false), [x]);
            GradCheck.Check("adaptive_avg_pool2d", t => F.AdaptiveAvgPool2d(t[0], (2, 4)), [x]);
            GradCheck.Check("adaptive_max_pool2d", t => F.AdaptiveMaxPool2d(t[0], (3, 4)), [x]);
            GradCheck.Check("batch_norm2d train", t => F.BatchNorm2d(t[0], null, null, t[1], t[2], training: true), [x, gamma, beta]);
            using var rm = Tensor.FromArray([0.1, -0.2, 0.3], 3);
            using var rv = Tensor.FromArray([1.5, 0.5, 2.0], 3);
            GradCheck.Check("batch_norm2d eval", t => F.BatchNorm2d(t[0], rm, rv, t[1], t[2], training: false), [x, gamma, beta]);
        }
    }

    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        using var x = Tensor.Zeros([1, 3, 8, 8]);
        using var w = Tensor.Zeros([4, 2, 3, 3]);
        var e = Assert.Throws<ArgumentException>(() => F.Conv2d(x, w));
        Assert.Contains("[1, 3, 8, 8]", e.Message);
        Assert.Contains("[4, 2, 3, 3]", e.Message);
        using var big = Tensor.Zeros([4, 3, 9, 9]);
        Assert.Contains("larger than the padded input", Assert.Throws<ArgumentException>(() => F.Conv2d(x, big)).Message);
        Assert.Contains("divisible by groups", Assert.Throws<ArgumentException>(() => F.Conv2d(x, w, null, 1, 1, 1, 2)).Message);
    }
}
