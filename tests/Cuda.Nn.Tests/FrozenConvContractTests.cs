// The frozen (inference) conv through the backend contract (IBackend.Frozen.cs), as the inference plan calls it:
// every registered CPU variant, forced in turn, against the float64 reference of ConvReferenceTests on every
// combination of input, residual and output layout (NCHW or channel-blocked); the choice rules; the errors.
using System.Runtime.Intrinsics.X86;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

[Collection(nameof(GlobalSettingsCollection))]
public class FrozenConvContractTests
{
    private static readonly IBackend Cpu = CpuBackend.Instance;

    /// <summary>Every frozen variant the registry holds must be listed here, so it is run below.</summary>
    private static readonly string[] TestedVariants = ["conv2d.frozen:blocked", "conv2d.frozen:packed"];

    // N, C, H, W, O, KH, KW, SH, SW, PH, PW
    private static readonly Dictionary<string, Conv2dGeometry> Geometries = new()
    {
        ["3x3 s1 p1 12x10, batch 1, ragged blocks"] = new(1, 5, 12, 10, 20, 3, 3, 1, 1, 1, 1),
        ["3x3 s2 p1 13x11, batch 2"] = new(2, 7, 13, 11, 18, 3, 3, 2, 2, 1, 1),
        ["1x1 s1 9x9, batch 1, 33 outputs"] = new(1, 16, 9, 9, 33, 1, 1),
        ["1x1 s2 10x10 downsample, batch 3"] = new(3, 8, 10, 10, 16, 1, 1, 2, 2),
    };

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var v in TestedVariants)
            foreach (var shape in Geometries.Keys) data.Add(v, shape);
        return data;
    }

    [Fact]
    public void EveryRegisteredVariantIsTested() =>
        Assert.Equal(TestedVariants.Order(StringComparer.Ordinal), FrozenConvVariants.All.Order(StringComparer.Ordinal));

    /// <summary>Only `variant` enabled, and more threads than images, so that a choice of anything else fails the test.</summary>
    private static IDisposable Only(string variant, in Conv2dGeometry g) => CpuKernelOptions.Use(CpuKernelOptions.Current with
    {
        Disabled = FrozenConvVariants.All.Where(v => v != variant).ToHashSet(),
        Threads = Math.Max(2, g.N + 1),
    });

    private static Tensor Blocked(Tensor nchw)
    {
        var s = nchw.ShapeRef;
        var y = Tensor.Empty(ChannelBlocked.Shape(s[0], s[1], s[2], s[3]));
        Cpu.ToChannelBlocked(nchw.Storage, nchw.Layout, y.Storage, y.Layout);
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryLayoutMatchesTheScalarReference(string variant, string shape)
    {
        if (!Avx512F.IsSupported) Assert.Skip("the CPU's frozen conv variants need AVX-512 (the inference plan runs the eager ops without it)");
        var g = Geometries[shape];
        var rng = new Random(shape.Length * 31 + variant.Length);
        double[] Rand(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x = Rand(g.N * g.C * g.H * g.W), w = Rand(g.O * g.C * g.KH * g.KW), b = Rand(g.O);
        int yLen = g.N * g.O * g.OH * g.OW;
        double[] res = Rand(yLen);
        var (reference, _, _, _) = ConvReferenceTests.Reference(x, w, b, new double[yLen], g);
        static float[] F(double[] a) => Array.ConvertAll(a, v => (float)v);
        using var xt = Tensor.FromArray(F(x), g.N, g.C, g.H, g.W);
        using var wt = Tensor.FromArray(F(w), g.O, g.C, g.KH, g.KW);
        using var bt = Tensor.FromArray(F(b), g.O);
        using var rt = Tensor.FromArray(F(res), g.N, g.O, g.OH, g.OW);
        using var xb = Blocked(xt);
        using var rb = Blocked(rt);
        using var options = Only(variant, g);
        int act = 0;
        foreach (bool xBlocked in new[] { false, true })
        {
            Assert.Equal(variant, Cpu.ChooseFrozenConv2d(g, DType.F32, xBlocked));
            using var conv = Cpu.PrepareFrozenConv2d(variant, wt.Storage, wt.Layout, bt.Storage, bt.Layout, g, xBlocked);
            Assert.Equal(variant, conv.Variant);
            foreach (int residual in new[] { 0, 1, 2 }) // none, NCHW, blocked
                foreach (bool yBlocked in new[] { false, true })
                {
                    var activation = act++ % 2 == 0 ? FusedActivation.Relu : FusedActivation.None;
                    var xi = xBlocked ? xb : xt;
                    var ri = residual switch { 1 => rt, 2 => rb, _ => null };
                    using var y = Tensor.Empty(yBlocked ? ChannelBlocked.Shape(g.N, g.O, g.OH, g.OW) : [g.N, g.O, g.OH, g.OW]);
                    if (yBlocked) ((CpuStorage)y.Storage).AsSpan<float>().Fill(float.NaN); // the border must be written, not assumed zero
                    Cpu.FrozenConv2d(conv, xi.Storage, xi.Layout, ri?.Storage, ri?.Layout, y.Storage, y.Layout, activation);
                    string what = $"{variant} on {shape} ({conv.Describe}): input {(xBlocked ? "blocked" : "NCHW")}, residual {new[] { "none", "NCHW", "blocked" }[residual]}, output {(yBlocked ? "blocked" : "NCHW")}, {activation}";
                    float[] got;
                    if (yBlocked)
                    {
                        AssertPaddingZero(y, g.O, what);
                        using var yn = Tensor.Empty([g.N, g.O, g.OH, g.OW]);
                        Cpu.FromChannelBlocked(y.Storage, y.Layout, g.O, yn.Storage, yn.Layout);
                        got = yn.ToFloatArray();
                    }
                    else got = y.ToFloatArray();
                    for (int i = 0; i < yLen; i++)
                    {
                        double e = reference[i] + (residual > 0 ? (float)res[i] : 0);
                        if (activation == FusedActivation.Relu) e = Math.Max(e, 0);
                        Assert.True(Math.Abs(got[i] - e) <= 1e-4 + 1e-4 * Math.Abs(e), $"{what}: y[{i}] = {got[i]}, reference {e}");
                    }
                }
        }
    }

    /// <summary>A blocked tensor's border cells and the channels past `channels` in its last block hold zeros.</summary>
    private static void AssertPaddingZero(Tensor blocked, int channels, string what)
    {
        var s = blocked.ShapeRef;
        var v = blocked.ToFloatArray();
        int hp = s[2], wp = s[3];
        for (int i = 0; i < v.Length; i++)
        {
            int lane = i % 16, col = i / 16 % wp, row = i / 16 / wp % hp, block = i / 16 / wp / hp % s[1];
            bool inside = row >= 1 && row < hp - 1 && col >= 1 && col < wp - 1 && block * 16 + lane < channels;
            if (!inside) Assert.True(v[i] == 0, $"{what}: padding float {i} (block {block}, cell {row},{col}, lane {lane}) = {v[i]}, not 0");
        }
    }

    [Fact]
    public void ChoiceFollowsTheRules()
    {
        if (!Avx512F.IsSupported) Assert.Skip("the CPU's frozen conv variants need AVX-512");
        var one = new Conv2dGeometry(1, 16, 14, 14, 16, 3, 3, 1, 1, 1, 1);
        using (CpuKernelOptions.Use(CpuKernelOptions.Current with { Threads = 2, Disabled = new HashSet<string>(), Preferred = new HashSet<string>() }))
        {
            Assert.Equal("conv2d.frozen:blocked", Cpu.ChooseFrozenConv2d(one, DType.F32, blockedInput: false));
            Assert.Null(Cpu.ChooseFrozenConv2d(one, DType.F64, blockedInput: false));
            Assert.Null(Cpu.ChooseFrozenConv2d(one with { C = 16, Groups = 16 }, DType.F32, blockedInput: false)); // depthwise: eager
            // A batch that fills the threads: the packed conv only where it measured faster than the eager kernels.
            var wideBatch = one with { N = 4 };
            Assert.Equal(PackedConv2d.FasterThanEagerAtBatch(wideBatch) ? "conv2d.frozen:packed" : null, Cpu.ChooseFrozenConv2d(wideBatch, DType.F32, false));
            var lateBatch = new Conv2dGeometry(4, 256, 4, 4, 256, 3, 3, 1, 1, 1, 1);
            Assert.True(PackedConv2d.FasterThanEagerAtBatch(lateBatch), "ResNet-18's late stage is where the packed conv wins at batch");
            Assert.Equal("conv2d.frozen:packed", Cpu.ChooseFrozenConv2d(lateBatch, DType.F32, false));
        }
        using (CpuKernelOptions.Use(CpuKernelOptions.Current with { Threads = 2, Preferred = new HashSet<string> { "conv2d.frozen:packed" } }))
            Assert.Equal("conv2d.frozen:packed", Cpu.ChooseFrozenConv2d(one, DType.F32, false));
        using (CpuKernelOptions.Use(CpuKernelOptions.Current with { Threads = 2, Disabled = FrozenConvVariants.All.ToHashSet() }))
            Assert.Null(Cpu.ChooseFrozenConv2d(one, DType.F32, false));
    }

    [Fact]
    public void WrongOperandsNameTheShape()
    {
        if (!Avx512F.IsSupported) Assert.Skip("the CPU's frozen conv variants need AVX-512");
        var g = new Conv2dGeometry(1, 4, 6, 6, 8, 3, 3, 1, 1, 1, 1);
        using var w = Tensor.Zeros([8, 4, 3, 3]);
        using var b = Tensor.Zeros([8]);
        using var conv = Cpu.PrepareFrozenConv2d("conv2d.frozen:packed", w.Storage, w.Layout, b.Storage, b.Layout, g, blockedInput: false);
        using var x = Tensor.Zeros([1, 5, 6, 6]);
        using var y = Tensor.Zeros([1, 8, 6, 6]);
        var e = Assert.Throws<ArgumentException>(() => Cpu.FrozenConv2d(conv, x.Storage, x.Layout, null, null, y.Storage, y.Layout, FusedActivation.None));
        Assert.Contains("input must be contiguous [1, 4, 6, 6], got [1, 5, 6, 6]", e.Message);
        var unknown = Assert.Throws<ArgumentException>(() => Cpu.PrepareFrozenConv2d("conv2d.frozen:nope", w.Storage, w.Layout, b.Storage, b.Layout, g, false));
        Assert.Contains("unknown variant 'conv2d.frozen:nope'", unknown.Message);
    }

    [Fact]
    public void TheInferenceRuntimeReachesKernelsOnlyThroughTheBackendContract()
    {
        // Issue 25: no pointer code and no CPU kernel types in src/Nn/Inference; the plan calls IBackend's frozen ops.
        var root = Support.OracleFixture.RepoRoot() ?? throw new DirectoryNotFoundException("no folder holding Cuda.Nn.sln above the test binary");
        var files = Directory.GetFiles(Path.Combine(root, "src", "Nn", "Inference"), "*.cs");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            foreach (var banned in new[] { "unsafe", "Kernels.Cpu", "CpuStorage", "BlockedConv2d", "PackedConv2d", "BlockedLayout", "CpuWorkers" })
                Assert.False(text.Contains(banned, StringComparison.Ordinal), $"{Path.GetFileName(file)} uses {banned}");
        }
    }
}
