// The C# launch code against the compiled kernels, without a GPU: every FusedKernels launch is recorded and
// its argument list compared with the kernel's parameter list in NVRTC's PTX (count, 4 vs 8 bytes, float vs
// integer), its launch shape with what the kernel assumes, and every exported kernel must be reachable.
using System.Text.RegularExpressions;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.CudaNative;
using static Cuda.Nn.Tests.CudaNative.CudaTestSupport;

namespace Cuda.Nn.Tests.CudaNative;

public sealed partial class FusedKernelsAbiTests
{
    private sealed record Launch(string File, string Kernel, (uint X, uint Y, uint Z) Grid, (uint X, uint Y, uint Z) Block, KernelArguments Args);

    private sealed class Recorder : IKernelLauncher
    {
        public List<Launch> Launches { get; } = [];

        public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, KernelArguments args, uint sharedMemoryBytes = 0) =>
            Launches.Add(new Launch(file, kernel, grid, block, args));
    }

    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(([^)]*)\)")]
    private static partial Regex Entry();

    [GeneratedRegex(@"\.param\s+\.(\w+)\s")]
    private static partial Regex Param();

    /// <summary>Calls every FusedKernels method for every dtype with small shapes and fake pointers.</summary>
    private static List<Launch> RecordAll()
    {
        var rec = new Recorder();
        var k = new FusedKernels(rec);
        foreach (var d in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            k.BiasActivationForward(d, 1, 2, 3, 1000, 10, 1, BiasActivation.Gelu);
            k.BiasActivationBackward(d, 1, 2, 3, 4, 1000, 10, 1, BiasActivation.Silu);
            k.BiasGrad(d, 1, 2, 100, 10, 1);
            k.SoftmaxForward(d, 1, 2, 7, 1000);
            k.SoftmaxBackward(d, 1, 2, 3, 7, 1000);
            k.CrossEntropyForward(d, 1, 2, 3, 4, 7, 10, -100, 0.1f);
            k.CrossEntropyBackward(d, 1, 2, 3, 4, 5, 0, 0.5f, 7, 10, -100, 0.1f);
            k.LayerNormForward(d, 1, 2, 3, 4, 5, 6, 7, 300, 1e-5f);
            k.LayerNormBackward(d, 1, 2, 3, 4, 5, 6, 7, 8, 7, 300);
            k.AdamStep(d, 1, 2, 3, 4, 1000, 1e-3, 0.9, 0.999, 1e-8, 0.01, true, 1, 5, 6);
            k.SgdStep(d, 1, 2, 3, 1000, 0.1, 0.9, 0, 5e-4, true, false);
            k.UnscaleCheck(d, 1, 1000, 2, 3);
        }
        k.UpdateScale(1, 2, 3, 4);
        return rec.Launches;
    }

    [Fact]
    public void LaunchShapesSuitTheKernels()
    {
        foreach (var l in RecordAll())
        {
            uint threads = l.Block.X * l.Block.Y * l.Block.Z;
            Assert.True(threads is > 0 and <= 1024 && threads % 32 == 0, $"{l.Kernel}: block {l.Block}");
            Assert.True(l.Grid.X > 0 && l.Grid.Y > 0 && l.Grid.Z > 0, $"{l.Kernel}: grid {l.Grid}");
            if (l.Kernel.StartsWith("layernorm_backward_params", StringComparison.Ordinal)) Assert.Equal((32u, 8u, 1u), l.Block);
            else Assert.True(l.Block.Y == 1 && l.Block.Z == 1, $"{l.Kernel}: 1-D kernels take 1-D blocks");
        }
        Assert.Equal(32u, FusedKernels.RowBlock(10));
        Assert.Equal(256u, FusedKernels.RowBlock(1000));
        Assert.Equal(64u, FusedKernels.RowBlock(33));
    }

    [Fact]
    public void EveryExportedKernelHasALaunch()
    {
        var launched = RecordAll().Select(l => (l.File, l.Kernel)).ToHashSet();
        foreach (var (file, kernels) in NativeKernelSources.Kernels)
            foreach (var kernel in kernels) Assert.Contains((file, kernel), launched);
    }

    [Fact]
    public void ArgumentsMatchThePtxParameterLists()
    {
        RequireNvrtc();
        var compiler = new NvrtcCompiler("");
        var signatures = new Dictionary<string, string[]>();
        foreach (var file in NativeKernelSources.Kernels.Keys)
            foreach (Match m in Entry().Matches(NativeKernelSources.Compile(compiler, file, "compute_80").Ptx))
                signatures[m.Groups[1].Value] = Param().Matches(m.Groups[2].Value).Select(p => p.Groups[1].Value).ToArray();

        foreach (var l in RecordAll())
        {
            Assert.True(signatures.TryGetValue(l.Kernel, out var ptx), $"{l.Kernel} is not in the PTX of {l.File}");
            var ours = l.Args.Kinds.Select(k => k switch
            {
                KernelArgumentKind.Int => "u32",
                KernelArgumentKind.Float => "f32",
                _ => "u64",
            }).ToArray();
            Assert.True(ptx!.SequenceEqual(ours), $"{l.Kernel}: PTX takes ({string.Join(", ", ptx!)}), the launch passes ({string.Join(", ", ours)})");
        }
    }

    [Fact]
    public void UnsupportedDTypesAndBadShapesAreRefused()
    {
        var k = new FusedKernels(new Recorder());
        Assert.Contains("I64", Assert.Throws<NotSupportedException>(() => k.SoftmaxForward(DType.I64, 1, 2, 3, 4)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => k.SoftmaxForward(DType.F32, 1, 2, 0, 4));
        Assert.Throws<ArgumentException>(() => k.SgdStep(DType.F32, 1, 2, 0, 10, 0.1, 0.9, 0, 0, false, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => k.AdamStep(DType.F32, 1, 2, 3, 4, 10, 1e-3, 0.9, 0.999, 1e-8, 0, true, 0));
    }
}
