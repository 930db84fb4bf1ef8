// The frozen conv on channel-blocked activations (BlockedConv2d, the inference plan's layout between convs) against
// the scalar reference of ConvReferenceTests: both tilings (grid across rows, single rows), strides 1 and 2, dead
// taps, dilation, ragged channel counts, every generated register tile, and the layout's zero border and padding
// channels, which the next conv reads as its padding; max pooling on the same layout against the NCHW kernel.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public unsafe class BlockedConvTests
{
    // N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW
    private static readonly Dictionary<string, Conv2dGeometry> Geometries = new()
    {
        ["grid 3x3 p1 32x32, 16 -> 16, batch 2"] = new(2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 9x11, 3 -> 21 (ragged blocks)"] = new(1, 3, 9, 11, 21, 3, 3, 1, 1, 1, 1),
        ["grid 1x1 7x9, 20 -> 16, batch 3"] = new(3, 20, 7, 9, 16, 1, 1),
        ["grid 3x3 p1 on 2x2, 64 outputs"] = new(1, 8, 2, 2, 64, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 on 1x1 (centre tap), batch 3"] = new(3, 9, 1, 1, 64, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 1x4, 64 outputs"] = new(1, 4, 1, 4, 64, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 3x4, 32 outputs"] = new(2, 5, 3, 4, 32, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 1x3, 30 outputs"] = new(1, 6, 1, 3, 30, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 2x1, 32 outputs"] = new(1, 3, 2, 1, 32, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 1x2, 64 outputs"] = new(1, 3, 1, 2, 64, 3, 3, 1, 1, 1, 1),
        ["rows 3x3 s2 p1 16x16 -> 8x8, 16 -> 32"] = new(1, 16, 16, 16, 32, 3, 3, 2, 2, 1, 1),
        ["rows 1x1 s2 odd 15x13, batch 2"] = new(2, 16, 15, 13, 32, 1, 1, 2, 2),
        ["rows 3x3 no pad (shrinks) 10x12"] = new(1, 5, 10, 12, 17, 3, 3, 1, 1, 0, 0),
        ["rows 3x3 d2 p1 9x10"] = new(1, 4, 9, 10, 16, 3, 3, 1, 1, 1, 1, 2, 2),
        ["rows 3x3 s2 p1 50x50 -> 25x25"] = new(1, 3, 50, 50, 16, 3, 3, 2, 2, 1, 1),
        ["rows 3x3 s2 p1 4x4 -> 2x2, 64 outputs"] = new(1, 16, 4, 4, 64, 3, 3, 2, 2, 1, 1),
        ["rows 3x3 s2 p1 8x13 -> 4x7, 32 outputs"] = new(1, 6, 8, 13, 32, 3, 3, 2, 2, 1, 1),
        ["rows 3x3 s2 p1 2x12 -> 1x6, 64 outputs"] = new(1, 5, 2, 12, 64, 3, 3, 2, 2, 1, 1),
        ["rows 1x1 s2 20x31 -> 10x16, 16 outputs"] = new(1, 7, 20, 31, 16, 1, 1, 2, 2),
        ["rows 3x3 s2 p1 6x25 -> 3x13, 32 outputs"] = new(1, 4, 6, 25, 32, 3, 3, 2, 2, 1, 1),
        ["rows 3x3 s2 p1 2x9 -> 1x5, 64 outputs"] = new(1, 4, 2, 9, 64, 3, 3, 2, 2, 1, 1),
        ["grid 3x3 p1 1x16"] = new(1, 3, 1, 16, 16, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 1x12"] = new(1, 3, 1, 12, 16, 3, 3, 1, 1, 1, 1),
        ["rows 1x1 s2 2x30 -> 1x15"] = new(1, 3, 2, 30, 16, 1, 1, 2, 2),
        ["rows 1x1 s2 3x16 -> 2x8"] = new(1, 3, 3, 16, 16, 1, 1, 2, 2),
        ["rows 3x3 s2 p1 4x8 -> 2x4"] = new(1, 3, 4, 8, 16, 3, 3, 2, 2, 1, 1),
        ["rows 3x3 s2 p1 1x4 -> 1x2"] = new(1, 3, 1, 4, 16, 3, 3, 2, 2, 1, 1),
    };

    public static TheoryData<string> Shapes() => new(Geometries.Keys);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesScalarReference(string shape)
    {
        if (!Avx512F()) Assert.Skip("BlockedConv2d needs AVX-512 (the inference plan runs the eager ops without it)");
        var g = Geometries[shape];
        var rng = new Random(shape.Length);
        double[] Rand(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x = Rand(g.N * g.C * g.H * g.W), w = Rand(g.O * g.C * g.KH * g.KW), b = Rand(g.O);
        int yLen = g.N * g.O * g.OH * g.OW;
        double[] res = Rand(yLen);
        var (reference, _, _, _) = ConvReferenceTests.Reference(x, w, b, new double[yLen], g);

        float[] wf = Array.ConvertAll(w, v => (float)v), bf = Array.ConvertAll(b, v => (float)v);
        float[] xb = Blocked(Array.ConvertAll(x, v => (float)v), g.N, g.C, g.H, g.W);
        float[] rb = Blocked(Array.ConvertAll(res, v => (float)v), g.N, g.O, g.OH, g.OW);
        long yImage = BlockedLayout.ImageFloats(g.O, g.OH, g.OW);
        float[] xn = Array.ConvertAll(x, v => (float)v);
        foreach (bool fromNchw in new[] { false, true }) // true: the conv blocks a dense input itself, in row bands
        foreach (bool? grid in new bool?[] { null, true, false }) // the cost model's choice, then each tiling
        foreach (var threads in new[] { 1, 2, 4 }) // 4: batches of 2 and 3 then share each image between threads
            foreach (var (residual, act) in new[] { (false, FusedActivation.None), (true, FusedActivation.Relu), (false, FusedActivation.Relu) })
            {
                var threadScope = CpuKernelOptions.UseThreads(threads);
                var yb = new float[g.N * yImage];
                Array.Fill(yb, float.NaN); // the border must be written, not found zero
                var y = new float[yLen];
                string desc;
                try
                {
                    int border = fromNchw ? BlockedConv2d.InputBorderFor(g) : BlockedLayout.Border;
                    var room = new float[fromNchw ? g.N * BlockedLayout.ImageFloats(g.C, g.H, g.W, border) : 0];
                    Array.Fill(room, float.NaN); // every float of the conv's own copy must be written
                    fixed (float* px = xb, pxn = xn, proom = room, pw = wf, pb = bf, pr = rb, py = yb, pyn = y)
                    {
                        using var conv = new BlockedConv2d(pw, pb, g, border, grid);
                        desc = conv.Describe + (fromNchw ? ", from NCHW" : "");
                        if (fromNchw) conv.Run(proom, pxn, residual ? pr : null, py, g.N, act);
                        else conv.Run(px, residual ? pr : null, py, g.N, act);
                        BlockedLayout.ImagesToNchw(py, g.N, g.O, g.OH, g.OW, pyn);
                    }
                }
                finally { threadScope.Dispose(); }
                for (int i = 0; i < yLen; i++)
                {
                    double e = reference[i] + (residual ? res[i] : 0);
                    if (act == FusedActivation.Relu) e = Math.Max(e, 0);
                    Assert.True(Math.Abs(y[i] - e) <= 1e-4 + 1e-4 * Math.Abs(e),
                        $"{shape} ({desc}; {threads} threads, residual {residual}, {act}): y[{i}] = {y[i]}, reference {e}");
                }
                AssertZeroOutsideImage(yb, g.N, g.O, g.OH, g.OW, $"{shape} ({desc}; {threads} threads, residual {residual})");
            }
    }

    [Fact]
    public void EveryRegisterTileIsTested()
    {
        if (!Avx512F()) Assert.Skip("BlockedConv2d needs AVX-512");
        var w = new float[64 * 64 * 9];
        var used = new HashSet<string>();
        fixed (float* pw = w)
            foreach (var g in Geometries.Values)
                foreach (bool grid in new[] { true, false })
                {
                    using var c = new BlockedConv2d(pw, null, g, grid: grid);
                    used.UnionWith(c.TileKernels);
                }
        var missing = new List<string>();
        foreach (var step in new[] { 16, 32 })
            foreach (var (lanes, widths) in new[] { (16, new[] { 24, 16, 12, 8, 4, 2, 1 }), (32, new[] { 12, 8, 4, 2, 1 }), (64, new[] { 6, 4, 2, 1 }) })
                foreach (int r in widths)
                    if (!used.Contains($"{lanes}x{r}/s{step}")) missing.Add($"{lanes}x{r}/s{step}");
        Assert.True(missing.Count == 0, $"register tiles no test shape reaches: {string.Join(", ", missing)}");
    }

    [Fact]
    public void ConvOfADenseInputRunsInsideAnotherParallelRegion()
    {
        // Nested, the conv's parts run one after another on one thread: part 0 must lay out the other parts' bands of
        // the input itself rather than wait for threads that never come.
        if (!Avx512F()) Assert.Skip("BlockedConv2d needs AVX-512");
        var g = new Conv2dGeometry(1, 3, 32, 32, 64, 7, 7, 2, 2, 3, 3); // ResNet's stem on a CIFAR image
        var rng = new Random(7);
        float[] x = Enumerable.Range(0, 3 * 32 * 32).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] w = Enumerable.Range(0, 64 * 3 * 49).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        int border = BlockedConv2d.InputBorderFor(g);
        long yImage = BlockedLayout.ImageFloats(64, g.OH, g.OW);
        var threadScope = CpuKernelOptions.UseThreads(2);
        try
        {
            float[] Run(bool nested)
            {
                var room = new float[BlockedLayout.ImageFloats(3, 32, 32, border)];
                var y = new float[yImage];
                fixed (float* px = x, pw = w, proom = room, py = y)
                {
                    using var conv = new BlockedConv2d(pw, null, g, border);
                    float* xp = px, roomp = proom, yp = py;
                    if (nested) CpuWorkers.For(2, c => { if (c == 0) conv.Run(roomp, xp, null, yp, 1, FusedActivation.None); });
                    else conv.Run(proom, px, null, py, 1, FusedActivation.None);
                }
                return y;
            }
            Assert.Equal(Run(nested: false), Run(nested: true));
        }
        finally { threadScope.Dispose(); }
    }

    [Fact]
    public void RunDenseFromManyThreadsAtOnceGivesEachItsOwnResult()
    {
        // RunDense blocks its input into a buffer the conv keeps; a call made while another holds it uses a temporary one.
        if (!Avx512F()) Assert.Skip("BlockedConv2d needs AVX-512");
        var g = new Conv2dGeometry(1, 3, 20, 20, 32, 3, 3, 1, 1, 1, 1);
        var rng = new Random(11);
        float[] w = Enumerable.Range(0, 32 * 3 * 9).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        float[][] xs = Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 3 * 20 * 20).Select(_ => (float)rng.NextDouble()).ToArray()).ToArray();
        long yImage = BlockedLayout.ImageFloats(32, 20, 20);
        fixed (float* pw = w)
        {
            using var conv = new BlockedConv2d(pw, null, g, BlockedConv2d.InputBorderFor(g));
            float[] Run(float[] x)
            {
                var y = new float[yImage];
                fixed (float* px = x, py = y) conv.RunDense(px, null, py, 1, FusedActivation.None);
                return y;
            }
            var alone = xs.Select(Run).ToArray();
            var together = new float[xs.Length][];
            Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => together[i % xs.Length] = Run(xs[i % xs.Length]));
            for (int i = 0; i < xs.Length; i++) Assert.Equal(alone[i], together[i]);
        }
    }

    [Theory]
    [InlineData(2, 2, false, 6.0 / 9)] // each row of a 2x2 plane reads the border in one of three kernel rows
    [InlineData(4, 4, false, 30.0 / 36)] // the top and bottom rows only
    [InlineData(4, 4, true, 168.0 / 198)] // grid: tiles of 6 over the 22-position run (with junk columns) fall in one row each, the last 4 wide
    [InlineData(1, 1, false, 1.0)] // the dead taps are gone before tiling (only the centre tap is live)
    public void TilesSkipKernelRowsThatReadOnlyBorder(int h, int w, bool grid, double share)
    {
        if (!Avx512F()) Assert.Skip("BlockedConv2d needs AVX-512");
        var weights = new float[64 * 16 * 9];
        fixed (float* pw = weights)
        {
            using var conv = new BlockedConv2d(pw, null, new Conv2dGeometry(1, 16, h, w, 64, 3, 3, 1, 1, 1, 1), grid: grid);
            Assert.Equal(share, conv.KShare, 1e-9);
        }
    }

    [Fact]
    public void LayoutRoundTripsAndZerosItsBorder()
    {
        int n = 2, c = 19, h = 5, wd = 7;
        var x = Enumerable.Range(0, n * c * h * wd).Select(i => (float)(i % 113) - 50f).ToArray();
        var blocked = Blocked(x, n, c, h, wd);
        AssertZeroOutsideImage(blocked, n, c, h, wd, "FromNchw");
        var back = new float[x.Length];
        fixed (float* pb = blocked, py = back)
            BlockedLayout.ImagesToNchw(pb, n, c, h, wd, py);
        Assert.Equal(x, back);
    }

    [Theory]
    [InlineData(3, 2, 1, false, 16, 16)] // ResNet's stem pool
    [InlineData(3, 2, 1, true, 9, 11)]
    [InlineData(2, 2, 0, false, 7, 7)]
    [InlineData(2, 2, 0, true, 7, 5)]
    [InlineData(3, 1, 1, false, 5, 6)]
    [InlineData(3, 3, 0, true, 10, 8)]
    public void MaxPoolMatchesTheNchwKernel(int k, int stride, int pad, bool ceil, int h, int w)
    {
        if (!Avx512F()) Assert.Skip("the blocked layout's kernels need AVX-512");
        int n = 2, c = 21; // a ragged last block
        var rng = new Random(k * 100 + stride * 10 + pad);
        var x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        x[5] = float.NaN;                // NaN propagates
        x[c * h * w + 17] = float.NaN;
        x[3 * h * w + 2] = -1e30f;       // padding counts as -inf, not as the layout's zero border
        for (int i = 0; i < h * w; i++) x[(c - 1) * h * w + i] = -(i + 1); // a channel that is negative everywhere
        using var scope = new DisposeScope();
        var expected = F.MaxPool2d(Tensor.FromArray(x, n, c, h, w), (k, k), (stride, stride), (pad, pad), null, ceil);
        int oh = expected.ShapeRef[2], ow = expected.ShapeRef[3];
        var xb = Blocked(x, n, c, h, w);
        long yImage = BlockedLayout.ImageFloats(c, oh, ow);
        var yb = new float[n * yImage];
        Array.Fill(yb, float.NaN);
        var y = new float[n * c * oh * ow];
        long xImage = BlockedLayout.ImageFloats(c, h, w);
        fixed (float* px = xb, py = yb, pyn = y)
            for (int i = 0; i < n; i++)
            {
                BlockedLayout.MaxPool(px + i * xImage, c, h, w, k, k, stride, stride, pad, pad, py + i * yImage, oh, ow);
                BlockedLayout.ToNchw(py + i * yImage, c, oh, ow, pyn + (long)i * c * oh * ow);
            }
        Assert.Equal(expected.ToFloatArray(), y);
        AssertZeroOutsideImage(yb, n, c, oh, ow, "MaxPool");
    }

    private static bool Avx512F() => System.Runtime.Intrinsics.X86.Avx512F.IsSupported;

    /// <summary>n NCHW images, blocked; the destination starts as NaN so FromNchw must write every float.</summary>
    private static float[] Blocked(float[] x, int n, int c, int h, int w)
    {
        long image = BlockedLayout.ImageFloats(c, h, w);
        var dst = new float[n * image];
        Array.Fill(dst, float.NaN);
        fixed (float* px = x, pd = dst)
            BlockedLayout.ImagesFromNchw(px, n, c, h, w, pd);
        return dst;
    }

    /// <summary>The border cells and the channels past c in the last block are exactly zero.</summary>
    private static void AssertZeroOutsideImage(float[] blocked, int n, int c, int h, int w, string what)
    {
        int hp = h + 2, wp = w + 2, blocks = BlockedLayout.Blocks(c);
        for (int i = 0; i < n; i++)
            for (int cb = 0; cb < blocks; cb++)
                for (int r = 0; r < hp; r++)
                    for (int q = 0; q < wp; q++)
                        for (int l = 0; l < 16; l++)
                        {
                            bool inside = r >= 1 && r <= h && q >= 1 && q <= w && cb * 16 + l < c;
                            float v = blocked[((((long)i * blocks + cb) * hp + r) * wp + q) * 16 + l];
                            if (!inside) Assert.True(v == 0f, $"{what}: image {i}, block {cb}, cell ({r}, {q}), lane {l} outside the image is {v}, not 0");
                        }
    }
}
