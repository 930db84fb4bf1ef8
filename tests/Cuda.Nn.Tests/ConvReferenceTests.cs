// conv2d against a plain scalar reference (direct 7-loop convolution and its backward in double) on shapes
// the oracle does not cover: odd and non-square sizes, batch 1, batches that split over threads, groups,
// depthwise with multipliers and strides, dilation, stride 3, 1x1 with stride; in F32 and F64.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

/// <summary>Runs alone: tests change process-wide settings (the kernel options, thread count included),
/// which would perturb other classes' thread-count-sensitive results (bit-exact resume tests) if run beside them.</summary>
[CollectionDefinition(nameof(GlobalSettingsCollection), DisableParallelization = true)]
public sealed class GlobalSettingsCollection;

[Collection(nameof(GlobalSettingsCollection))]
public class ConvReferenceTests
{
    public static TheoryData<string> Shapes() => new(Geometries.Keys);

    // N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW, Groups
    private static readonly Dictionary<string, Conv2dGeometry> Geometries = new()
    {
        ["batch1 odd non-square 3x3"] = new(1, 3, 7, 12, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        ["stride 3 no pad"] = new(2, 4, 10, 11, 6, 3, 3, 3, 3, 0, 0, 1, 1, 1),
        ["dilation 2 groups 2 batch 3"] = new(3, 4, 10, 11, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2),
        ["depthwise wide rows"] = new(2, 3, 11, 37, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3),
        ["depthwise multiplier 2"] = new(2, 3, 9, 40, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3),
        ["depthwise 5x5 stride 2"] = new(2, 4, 13, 21, 4, 5, 5, 2, 2, 2, 2, 1, 1, 4),
        ["depthwise dilated"] = new(1, 5, 12, 33, 5, 3, 3, 1, 1, 2, 2, 2, 2, 5),
        ["depthwise pad beyond kernel"] = new(2, 2, 6, 7, 2, 3, 3, 1, 1, 3, 3, 1, 1, 2),
        ["depthwise non-square kernel stride (1,2)"] = new(1, 3, 9, 19, 3, 3, 5, 1, 2, 1, 2, 1, 1, 3),
        // 40 planes: runs of several planes per work item that cross image boundaries; pad (2,1) for a 5x3 kernel.
        ["depthwise 5x3 p(2,1) planes in runs"] = new(5, 8, 10, 20, 8, 5, 3, 1, 1, 2, 1, 1, 1, 8),
        ["depthwise multiplier 3 no pad"] = new(3, 4, 7, 24, 12, 3, 3, 1, 1, 0, 0, 1, 1, 4),
        // Row kernel (CpuConvDepthwise.CorrelateRows): stride 2 with odd sizes, a row wide enough for the vector
        // de-interleave, and a 5x5 on a plane narrower than a vector (EfficientNet's late stages).
        ["depthwise 3x3 stride 2 odd 15x17"] = new(2, 4, 15, 17, 4, 3, 3, 2, 2, 1, 1, 1, 1, 4),
        ["depthwise 3x3 stride 2 wide 40x70"] = new(1, 3, 40, 70, 3, 3, 3, 2, 2, 1, 1, 1, 1, 3),
        ["depthwise 5x5 on 7x7"] = new(1, 6, 7, 7, 6, 5, 5, 1, 1, 2, 2, 1, 1, 6),
        ["pointwise"] = new(2, 5, 6, 9, 7, 1, 1),
        ["pointwise groups 2"] = new(2, 4, 5, 7, 6, 1, 1, Groups: 2),
        ["1x1 stride 2 pad 1"] = new(2, 3, 7, 8, 4, 1, 1, 2, 2, 1, 1, 1, 1, 1),
        ["stem 7x7 s2 p3"] = new(2, 3, 20, 18, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1),
        ["stem 7x7 s2 p3 wide rows (vector stride-2 gather)"] = new(1, 2, 9, 83, 3, 7, 7, 2, 2, 3, 3, 1, 1, 1),
        ["kernel 3x5 s(2,1) p(0,2) d(1,2)"] = new(1, 2, 9, 13, 3, 3, 5, 2, 1, 0, 2, 1, 2, 1),
        ["batch 8 splits over threads"] = new(8, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        ["batch 8 grouped 3 stride 2"] = new(8, 6, 9, 8, 9, 3, 3, 2, 2, 1, 1, 1, 1, 3),
        ["late stage 2x2 outputs batch 5"] = new(5, 8, 4, 4, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1),
        ["1x1 outputs batch 7 pointwise"] = new(7, 9, 1, 1, 5, 1, 1),
        // Taps that only ever read padding are dropped from the image-batched GEMM (ResNet-18's 1x1 last stage).
        ["3x3 p1 on 1x1 planes batch 6 (centre tap only)"] = new(6, 5, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        ["3x3 p1 on 1x3 planes batch 4 groups 2 (one tap row)"] = new(4, 4, 1, 3, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2),
        // Direct stride-1 kernel (CpuConvDirect): output channels not a multiple of 8, no padding, dilation,
        // a non-square kernel, and one large image that splits over threads inside the image.
        ["direct 3x3 p1 batch 3, 11 outputs"] = new(3, 5, 9, 20, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        ["direct 3x3 no padding 17 outputs"] = new(2, 4, 12, 13, 17, 3, 3, 1, 1, 0, 0, 1, 1, 1),
        ["direct 3x5 p(1,1) d(2,1)"] = new(2, 3, 11, 16, 8, 3, 5, 1, 1, 1, 1, 2, 1, 1),
        ["direct 3x3 batch 1 large image"] = new(1, 16, 30, 30, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        ["direct small images batch 20 (stacks of 12 + 8)"] = new(20, 3, 6, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1),
        // Direct stride-2 forward (phase planes): odd sizes, 11 outputs, dilation with asymmetric padding, padding
        // past the kernel, and one large image whose position blocks split over threads.
        ["direct stride 2 3x3 p1 odd 13x27, 11 outputs"] = new(3, 4, 13, 27, 11, 3, 3, 2, 2, 1, 1, 1, 1, 1),
        ["direct stride 2 5x3 p(0,2) d(2,1)"] = new(2, 3, 17, 22, 9, 5, 3, 2, 2, 0, 2, 2, 1, 1),
        ["direct stride 2 3x3 pad beyond kernel"] = new(2, 2, 9, 10, 5, 3, 3, 2, 2, 4, 4, 1, 1, 1),
        ["direct stride 2 7x7 batch 1 large image"] = new(1, 3, 64, 70, 16, 7, 7, 2, 2, 3, 3, 1, 1, 1),
        ["direct stride 2 7x7 rows of 64, 16 outputs (Stream kernels: 32 + 32 per row)"] = new(2, 3, 40, 128, 16, 7, 7, 2, 2, 3, 3, 1, 1, 1),
        ["direct stride 2 7x7 rows of 112 (Stream kernels: 48 + 32 + 32 per row)"] = new(1, 3, 9, 224, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1),
    };

    private static double[] Random(int n, int seed, double scale = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>Direct convolution in double: returns y, and given gy the gradients gx, gw, gb.</summary>
    internal static (double[] Y, double[] Gx, double[] Gw, double[] Gb) Reference(double[] x, double[] w, double[] b, double[] gy, Conv2dGeometry g)
    {
        int cg = g.C / g.Groups, og = g.O / g.Groups, oh = g.OH, ow = g.OW;
        var y = new double[g.N * g.O * oh * ow];
        var gx = new double[x.Length];
        var gw = new double[w.Length];
        var gb = new double[g.O];
        for (int n = 0; n < g.N; n++)
            for (int o = 0; o < g.O; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        int yi = ((n * g.O + o) * oh + i) * ow + j;
                        double acc = b[o];
                        gb[o] += gy[yi];
                        int grp = o / og;
                        for (int c = 0; c < cg; c++)
                            for (int kh = 0; kh < g.KH; kh++)
                                for (int kw = 0; kw < g.KW; kw++)
                                {
                                    int ih = i * g.SH - g.PH + kh * g.DH, iw = j * g.SW - g.PW + kw * g.DW;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    int xi = ((n * g.C + grp * cg + c) * g.H + ih) * g.W + iw;
                                    int wi = ((o * cg + c) * g.KH + kh) * g.KW + kw;
                                    acc += x[xi] * w[wi];
                                    gx[xi] += gy[yi] * w[wi];
                                    gw[wi] += gy[yi] * x[xi];
                                }
                        y[yi] = acc;
                    }
        return (y, gx, gw, gb);
    }

    private static void Close(double[] actual, double[] expected, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= atol + rtol * Math.Abs(expected[i]),
                $"{what}[{i}]: {actual[i]} vs reference {expected[i]}");
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesScalarReference(string shape) => Check(shape);

    private static IDisposable With(Func<CpuKernelOptions, CpuKernelOptions> change) => CpuKernelOptions.Use(change(CpuKernelOptions.Current));

    [Fact]
    public void MatchesScalarReferenceWithOneOutputRowPerIm2colBlock()
    {
        // Small planes too take the per-image, per-row-block path.
        using var _ = With(o => o with { ConvColumnBlockBudget = 1, ConvImagesPerGemm = 1 });
        foreach (var shape in Geometries.Keys) Check(shape);
    }

    private static bool Chosen(string variant, string shape) =>
        ConvVariants.Choose(ConvPass.Forward, Geometries[shape], f32: true).FullName == variant;

    [Fact]
    public void DirectKernelsTakeTheShapesTheyShould()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported) Assert.Skip("the direct kernels need AVX-512");
        Assert.True(Chosen("conv2d.forward:direct", "direct 3x3 p1 batch 3, 11 outputs"));
        Assert.False(Chosen("conv2d.forward:direct", "stride 3 no pad"));
        Assert.False(Chosen("conv2d.forward:direct", "dilation 2 groups 2 batch 3"));
        Assert.False(Chosen("conv2d.forward:direct", "depthwise pad beyond kernel"));
        Assert.False(Chosen("conv2d.forward:direct", "pointwise"));
        Assert.True(Chosen("conv2d.forward:direct-stride2", "stem 7x7 s2 p3"));
        Assert.True(Chosen("conv2d.forward:direct-stride2", "direct stride 2 5x3 p(0,2) d(2,1)"));
        Assert.False(Chosen("conv2d.forward:direct-stride2", "1x1 stride 2 pad 1"));
        Assert.False(Chosen("conv2d.forward:direct-stride2", "batch 8 grouped 3 stride 2"));
        Assert.False(Chosen("conv2d.forward:direct-stride2", "late stage 2x2 outputs batch 5"));
    }

    [Fact]
    public void MatchesScalarReferenceWithTheDirectKernelsOff()
    {
        using var _ = With(o => o with { Disabled = new HashSet<string> { "conv2d.forward:direct", "conv2d.forward:direct-stride2", "conv2d.backward-data:direct", "conv2d.backward-filter:direct" } });
        Assert.False(Chosen("conv2d.forward:direct", "direct 3x3 p1 batch 3, 11 outputs"));
        foreach (var shape in Geometries.Keys) Check(shape);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void MatchesScalarReferenceWithThreeImagesPerGemm(int threads)
    {
        // Batches of 5, 7 and 8 split into uneven groups of images (3 + 2, 3 + 3 + 1, ...), on one and two threads.
        var threadScope = CpuKernelOptions.UseThreads(threads);
        try
        {
            using var _ = With(o => o with { ConvImagesPerGemm = 3 });
            foreach (var shape in Geometries.Keys) Check(shape);
        }
        finally { threadScope.Dispose(); }
    }

    /// <summary>The variants this file tests, by registry name. Listed here on purpose: a variant registered without
    /// being added here, or one removed from the registry, fails <see cref="TheRegistryHoldsExactlyTheVariantsTestedHere"/>.</summary>
    private static readonly string[] TestedVariants =
    [
        "conv2d.forward:depthwise", "conv2d.forward:direct", "conv2d.forward:direct-stride2", "conv2d.forward:gemm-batched",
        "conv2d.forward:pointwise", "conv2d.forward:im2col",
        "conv2d.backward-data:depthwise", "conv2d.backward-data:direct", "conv2d.backward-data:gemm-batched",
        "conv2d.backward-data:pointwise", "conv2d.backward-data:im2col",
        "conv2d.backward-filter:depthwise", "conv2d.backward-filter:direct", "conv2d.backward-filter:gemm-batched",
        "conv2d.backward-filter:pointwise", "conv2d.backward-filter:im2col",
    ];

    public static TheoryData<string> Variants() => new(TestedVariants);

    [Fact]
    public void TheRegistryHoldsExactlyTheVariantsTestedHere() =>
        Assert.Equal(TestedVariants.Order(StringComparer.Ordinal), ConvVariants.All.Select(v => v.FullName).Order(StringComparer.Ordinal));

    /// <summary>Each variant, chosen first wherever it applies, against the float64 reference on every shape of
    /// this file it applies to (at least one: a variant no shape reaches fails).</summary>
    [Theory]
    [MemberData(nameof(Variants))]
    public void EachVariantMatchesTheReferenceOnEveryShapeItApplies(string variant)
    {
        var v = ConvVariants.All.Single(x => x.FullName == variant);
        var shapes = Geometries.Where(kv => v.Applies(kv.Value, f32: true, CpuKernelOptions.Current)).Select(kv => kv.Key).ToList();
        if (shapes.Count == 0 && variant.Contains(":direct", StringComparison.Ordinal) && !System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            Assert.Skip($"{variant} needs AVX-512");
        Assert.True(shapes.Count > 0, $"no shape in this file reaches {variant}");
        using var _ = With(o => o with { Preferred = new HashSet<string> { variant } });
        foreach (var shape in shapes)
        {
            Assert.Same(v, ConvVariants.Choose(v.Pass, Geometries[shape], f32: true));
            Check(shape);
        }
    }

    private static void Check(string shape)
    {
        var g = Geometries[shape];
        int cg = g.C / g.Groups;
        var x = Random(g.N * g.C * g.H * g.W, 1);
        var w = Random(g.O * cg * g.KH * g.KW, 2, 1 / Math.Sqrt(cg * g.KH * g.KW));
        var b = Random(g.O, 3);
        var gy = Random(g.N * g.O * g.OH * g.OW, 4);
        var r = Reference(x, w, b, gy, g);
        foreach (var dt in new[] { DType.F32, DType.F64 })
        {
            using var scope = new DisposeScope();
            var xt = Tensor.FromArray(x, g.N, g.C, g.H, g.W).To(dt).RequiresGrad_();
            var wt = Tensor.FromArray(w, g.O, cg, g.KH, g.KW).To(dt).RequiresGrad_();
            var bt = Tensor.FromArray(b, g.O).To(dt).RequiresGrad_();
            var y = F.Conv2d(xt, wt, bt, (g.SH, g.SW), (g.PH, g.PW), (g.DH, g.DW), g.Groups);
            Assert.Equal([g.N, g.O, g.OH, g.OW], y.Shape);
            y.Backward(Tensor.FromArray(gy, y.Shape).To(dt));
            double tol = dt == DType.F32 ? 1e-4 : 1e-10;
            Close(y.ToDoubleArray(), r.Y, tol, tol, $"{shape} {dt} y");
            Close(xt.Grad!.ToDoubleArray(), r.Gx, tol, tol, $"{shape} {dt} gx");
            Close(wt.Grad!.ToDoubleArray(), r.Gw, 10 * tol, tol, $"{shape} {dt} gw");
            Close(bt.Grad!.ToDoubleArray(), r.Gb, 10 * tol, tol, $"{shape} {dt} gb");
        }
    }

    [Fact]
    public void SingleThreadMatchesTwoThreads()
    {
        var g = Geometries["batch 8 grouped 3 stride 2"];
        var x = Random(g.N * g.C * g.H * g.W, 5);
        var w = Random(g.O * (g.C / g.Groups) * 9, 6);
        float[] Run(int threads)
        {
            var threadScope = CpuKernelOptions.UseThreads(threads);
            try
            {
                using var scope = new DisposeScope();
                var xt = Tensor.FromArray(x, g.N, g.C, g.H, g.W).To(DType.F32).RequiresGrad_();
                var wt = Tensor.FromArray(w, g.O, g.C / g.Groups, 3, 3).To(DType.F32).RequiresGrad_();
                var y = F.Conv2d(xt, wt, null, 2, 1, 1, g.Groups);
                y.Sum().Backward();
                return [.. y.ToFloatArray(), .. xt.Grad!.ToFloatArray(), .. wt.Grad!.ToFloatArray()];
            }
            finally { threadScope.Dispose(); }
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++) Assert.True(Math.Abs(one[i] - two[i]) <= 1e-5 + 1e-5 * Math.Abs(one[i]), $"element {i}: {one[i]} vs {two[i]}");
    }

    [Fact]
    public void SamePaddingMatchesExplicitAsymmetricPad()
    {
        using var scope = new DisposeScope();
        var x = Tensor.FromArray(Random(2 * 3 * 7 * 9, 7), 2, 3, 7, 9);
        var w = Tensor.FromArray(Random(4 * 3 * 4 * 3, 8), 4, 3, 4, 3).To(DType.F32);
        x = x.To(DType.F32);
        var same = F.Conv2d(x, w, null, "same");
        Assert.Equal([2, 4, 7, 9], same.Shape);
        // kernel 4 rows: total 3 = 1 top + 2 bottom; kernel 3 cols: 1 + 1.
        var manual = F.Conv2d(F.Pad(x, [1, 1, 1, 2]), w);
        Close(same.ToDoubleArray(), manual.ToDoubleArray(), 1e-6, 1e-6, "same");
        var valid = F.Conv2d(x, w, null, "valid");
        Assert.Equal([2, 4, 4, 7], valid.Shape);
    }

    [Fact]
    public void ShapeErrorsNameTheShapes()
    {
        using var scope = new DisposeScope();
        var x = Tensor.Zeros([1, 6, 5, 5]);
        var e1 = Assert.Throws<ArgumentException>(() => F.Conv2d(x, Tensor.Zeros([4, 2, 3, 3]), null, groups: 2));
        Assert.Contains("[1, 6, 5, 5]", e1.Message);
        Assert.Contains("groups", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => F.Conv2d(x, Tensor.Zeros([4, 6, 9, 9])));
        Assert.Contains("larger than the padded input", e2.Message);
        Assert.Throws<ArgumentException>(() => F.Conv2d(x, Tensor.Zeros([5, 3, 3, 3]), null, groups: 2));
        Assert.Throws<ArgumentException>(() => F.Conv2d(x, Tensor.Zeros([4, 6, 3, 3]), Tensor.Zeros([3])));
        Assert.Throws<ArgumentException>(() => F.MaxPool2d(x, 3, 1, padding: 2));
        Assert.Throws<ArgumentException>(() => F.Conv2d(x, Tensor.Zeros([4, 6, 3, 3]), null, "same", stride: (2, 2)));
    }

    [Fact]
    public void UnbatchedInputAndHalfPrecision()
    {
        using var scope = new DisposeScope();
        var x = Tensor.FromArray(Random(3 * 6 * 6, 9), 3, 6, 6).To(DType.F32);
        var w = Tensor.FromArray(Random(2 * 3 * 3 * 3, 10), 2, 3, 3, 3).To(DType.F32);
        var y3 = F.Conv2d(x, w, null, 1, 1);
        var y4 = F.Conv2d(x.Unsqueeze(0), w, null, 1, 1);
        Assert.Equal([2, 6, 6], y3.Shape);
        Close(y3.ToDoubleArray(), y4.ToDoubleArray(), 0, 0, "unbatched");
        var yh = F.Conv2d(x.To(DType.F16), w.To(DType.F16), null, 1, 1);
        Assert.Equal(DType.F16, yh.DType);
        Close(yh.ToDoubleArray(), y3.ToDoubleArray(), 2e-2, 2e-2, "f16");
    }
}
