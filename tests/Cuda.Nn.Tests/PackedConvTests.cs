// The frozen inference conv (PackedConv2d: weights packed once, bias + residual + ReLU fused) against the
// scalar reference of ConvReferenceTests, on both of its input layouts (grid and patch), every tile width,
// dead taps, strides, dilation, padding wider than the kernel's reach, and batches that split by image or by tile.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public unsafe class PackedConvTests
{
    // N, C, H, W, O, KH, KW, SH, SW, PH, PW, DH, DW
    private static readonly Dictionary<string, Conv2dGeometry> Geometries = new()
    {
        ["grid 3x3 p1 28x28, 16 outputs"] = new(2, 3, 28, 28, 16, 3, 3, 1, 1, 1, 1),
        ["grid 3x3 p1 9x11, 21 outputs (two blocks, ragged)"] = new(1, 4, 9, 11, 21, 3, 3, 1, 1, 1, 1),
        ["grid 3x5 d(2,1) p(2,2) 10x13"] = new(3, 2, 10, 13, 5, 3, 5, 1, 1, 2, 2, 2, 1),
        ["grid 1x1 no pad 9x9"] = new(2, 6, 9, 9, 7, 1, 1),
        ["grid pad beyond reach"] = new(1, 2, 8, 9, 3, 3, 3, 1, 1, 3, 3),
        ["grid stride 2: stem 7x7 s2 p3 on 40x38"] = new(2, 3, 40, 38, 20, 7, 7, 2, 2, 3, 3),
        ["grid stride 2: 3x3 s2 p1 odd 29x31, batch 1"] = new(1, 5, 29, 31, 16, 3, 3, 2, 2, 1, 1),
        ["grid stride 2: 1x1 s2 no pad 30x16"] = new(3, 4, 30, 16, 8, 1, 1, 2, 2),
        ["grid stride 2: 3x3 d2 p2 on 17x20"] = new(1, 2, 17, 20, 4, 3, 3, 2, 2, 2, 2, 2, 2),
        ["grid stride 2: width 1 image, pad 7"] = new(1, 2, 9, 1, 3, 3, 3, 2, 2, 7, 7),
        ["patch 3x3 p1 8x8 batch 1"] = new(1, 8, 8, 8, 32, 3, 3, 1, 1, 1, 1),
        ["patch 3x3 p1 4x4"] = new(3, 5, 4, 4, 17, 3, 3, 1, 1, 1, 1),
        ["patch 3x3 p1 2x2"] = new(1, 7, 2, 2, 33, 3, 3, 1, 1, 1, 1),
        ["patch 3x3 p1 on 1x1 (centre tap)"] = new(4, 9, 1, 1, 20, 3, 3, 1, 1, 1, 1),
        ["patch 3x3 s2 p1 2x2 -> 1x1 (4 live taps)"] = new(1, 6, 2, 2, 16, 3, 3, 2, 2, 1, 1),
        ["patch 1x1 s2 (downsample)"] = new(2, 6, 8, 8, 12, 1, 1, 2, 2),
        ["patch stem 7x7 s2 p3"] = new(2, 3, 20, 18, 16, 7, 7, 2, 2, 3, 3),
        ["patch 3x1 on 1x3 rows"] = new(1, 3, 3, 1, 5, 3, 1, 1, 1, 1, 0),
        ["patch stride 3 no pad"] = new(5, 4, 10, 11, 6, 3, 3, 3, 3, 0, 0),
        ["patch 5x5 s2 p2 batch 6"] = new(6, 3, 12, 12, 9, 5, 5, 2, 2, 2, 2),
        // Planes of at most 12 positions take tiles of 2 or 4 blocks of 16 channels: every such kernel, ragged O.
        ["patch 64x6 tiles: 1x5 plane, 64 outputs"] = new(2, 3, 1, 5, 64, 3, 3, 1, 1, 1, 1),
        ["patch 64x4 tiles: 2x2 plane, 60 outputs"] = new(2, 5, 2, 2, 60, 3, 3, 1, 1, 1, 1),
        ["patch 64x4 tiles: 3x3 s2 p1 -> 2x2, batch 3"] = new(3, 4, 3, 3, 64, 3, 3, 2, 2, 1, 1),
        ["patch 64x2 tiles: 1x2 plane"] = new(1, 3, 1, 2, 64, 3, 3, 1, 1, 1, 1),
        ["patch 64x1 tiles: 1x1 plane, batch 3"] = new(3, 9, 1, 1, 64, 3, 3, 1, 1, 1, 1),
        ["patch 32x12 tiles: 3x4 plane, 30 outputs"] = new(1, 4, 3, 4, 30, 3, 3, 1, 1, 1, 1),
        ["patch 32x8 tiles: 2x4 plane"] = new(2, 3, 2, 4, 32, 3, 3, 1, 1, 1, 1),
        ["patch 32x4 tiles: 1x3 plane"] = new(1, 6, 1, 3, 30, 3, 3, 1, 1, 1, 1),
        ["patch 32x2 tiles: 2x1 plane"] = new(2, 3, 2, 1, 32, 3, 3, 1, 1, 1, 1),
    };

    public static TheoryData<string> Shapes() => new(Geometries.Keys);

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesScalarReference(string shape)
    {
        if (!PackedConv2d.Supported) Assert.Skip("PackedConv2d needs AVX-512 (the inference plan runs the eager ops without it)");
        var g = Geometries[shape];
        var rng = new Random(shape.Length);
        double[] Rand(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x = Rand(g.N * g.C * g.H * g.W), w = Rand(g.O * g.C * g.KH * g.KW), b = Rand(g.O);
        int yLen = g.N * g.O * g.OH * g.OW;
        double[] res = Rand(yLen);
        var (reference, _, _, _) = ConvReferenceTests.Reference(x, w, b, new double[yLen], g);

        float[] xf = Array.ConvertAll(x, v => (float)v), wf = Array.ConvertAll(w, v => (float)v), bf = Array.ConvertAll(b, v => (float)v);
        float[] rf = Array.ConvertAll(res, v => (float)v);
        foreach (var threads in new[] { 1, 2 })
            foreach (var (residual, act) in new[] { (false, FusedActivation.None), (true, FusedActivation.Relu), (false, FusedActivation.Relu) })
            {
                var threadScope = CpuKernelOptions.UseThreads(threads);
                var y = new float[yLen];
                string desc;
                try
                {
                    fixed (float* px = xf, pw = wf, pb = bf, pr = rf, py = y)
                    {
                        using var conv = new PackedConv2d(pw, pb, g);
                        desc = conv.Describe;
                        conv.Run(px, residual ? pr : null, py, g.N, act);
                    }
                }
                finally { threadScope.Dispose(); }
                for (int i = 0; i < yLen; i++)
                {
                    double e = reference[i] + (residual ? rf[i] : 0);
                    if (act == FusedActivation.Relu) e = Math.Max(e, 0);
                    Assert.True(Math.Abs(y[i] - e) <= 1e-4 + 1e-4 * Math.Abs(e),
                        $"{shape} ({desc}; {threads} threads, residual {residual}, {act}): y[{i}] = {y[i]}, reference {e}");
                }
            }
    }

    [Fact]
    public void PicksTheLayoutAndDropsDeadTaps()
    {
        if (!PackedConv2d.Supported) Assert.Skip("PackedConv2d needs AVX-512");
        var w = new float[512 * 512 * 9];
        fixed (float* pw = w)
        {
            using var late = new PackedConv2d(pw, null, new Conv2dGeometry(1, 512, 1, 1, 512, 3, 3, 1, 1, 1, 1));
            Assert.Equal("patch, 64x1 tiles, 1 of 9 taps", late.Describe);
            using var early = new PackedConv2d(pw, null, new Conv2dGeometry(1, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1));
            Assert.Equal("grid, 16x24 tiles, 9 of 9 taps", early.Describe);
            using var stem = new PackedConv2d(pw, null, new Conv2dGeometry(1, 3, 224, 224, 64, 7, 7, 2, 2, 3, 3));
            Assert.StartsWith("grid", stem.Describe);
            // Every generated multi-block tile is reached by one of the shapes above.
            var described = new List<string>();
            foreach (var g in Geometries.Values)
            {
                using var c = new PackedConv2d(pw, null, g);
                described.Add(c.Describe);
            }
            foreach (var tile in new[] { "64x6", "64x4", "64x2", "64x1", "32x12", "32x8", "32x4", "32x2", "32x1" })
                Assert.Contains(described, d => d.Contains($" {tile} tiles", StringComparison.Ordinal));
        }
    }
}
