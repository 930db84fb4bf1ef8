// The CPU conv2d variants of training's three passes, and the one place that chooses between them. Each variant
// is a name, the geometries it applies to and its kernels; the choice is the first variant in the list that
// applies and is not disabled (CpuKernelOptions), after any preferred one. The order is the policy: specialised
// kernels first, the general im2col + GEMM last (it applies to everything and cannot be disabled). docs/kernels.md
// lists the variants with their tests and benchmarks.
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

public enum ConvPass { Forward, BackwardData, BackwardFilter }

/// <summary>One conv2d pass's kernel on (a, b, c, d): forward (x, w, bias, y); backward-data (gy, w, gx, -);
/// backward-filter (x, gy, gw, -).</summary>
internal unsafe delegate void ConvKernel<T>(T* a, T* b, T* c, T* d, in Conv2dGeometry g) where T : unmanaged;

/// <summary>Whether a variant runs a geometry in F32 (true) or F64 (false), under the given options.</summary>
internal delegate bool ConvApplies(in Conv2dGeometry g, bool f32, CpuKernelOptions options);

internal sealed class ConvVariant(ConvPass pass, string name, ConvApplies applies, ConvKernel<float> f32, ConvKernel<double>? f64)
{
    public ConvPass Pass { get; } = pass;
    public string Name { get; } = name;
    public string FullName { get; } = ConvVariants.Family(pass) + ":" + name;
    public ConvKernel<float> F32 { get; } = f32;
    public ConvKernel<double>? F64 { get; } = f64;

    public bool Applies(in Conv2dGeometry g, bool f32, CpuKernelOptions options) => (f32 || F64 is not null) && applies(g, f32, options);

    public override string ToString() => FullName;
}

internal static unsafe class ConvVariants
{
    public static string Family(ConvPass pass) => pass switch
    {
        ConvPass.Forward => "conv2d.forward",
        ConvPass.BackwardData => "conv2d.backward-data",
        _ => "conv2d.backward-filter",
    };

    private static bool Depthwise(in Conv2dGeometry g) => g.Groups > 1 && g.Groups == g.C;

    private static bool Pointwise(in Conv2dGeometry g) => g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0;

    /// <summary>The direct 3x3-class kernel (CpuConvDirect): stride 1, one group, a real kernel, padding within the
    /// dilated reach (so backward-data is the same kernel), output rows wide enough to fill vectors; AVX-512, F32.</summary>
    private static bool Direct(in Conv2dGeometry g, bool f32, CpuKernelOptions o) =>
        f32 && Avx512F.IsSupported && g.Groups == 1 && g.SH == 1 && g.SW == 1 && g.KH * g.KW > 1
        && g.PH <= g.DH * (g.KH - 1) && g.PW <= g.DW * (g.KW - 1) && g.OW >= o.DirectConvMinOutputWidth;

    private static bool DirectStride2(in Conv2dGeometry g, bool f32, CpuKernelOptions o) =>
        f32 && Avx512F.IsSupported && g.Groups == 1 && g.SH == 2 && g.SW == 2 && g.KH * g.KW > 1 && g.OW >= o.DirectConvMinOutputWidth;

    private static bool Batched(in Conv2dGeometry g, CpuKernelOptions o) =>
        CpuConvBatched.ImagesPerGemm(g, o) > 1;

    private static ConvVariant[] Build(ConvPass pass)
    {
        var list = new List<ConvVariant>();
        void Add(string name, ConvApplies applies, ConvKernel<float> f32, ConvKernel<double>? f64) => list.Add(new(pass, name, applies, f32, f64));
        switch (pass)
        {
            case ConvPass.Forward:
                Add("depthwise", (in g, _, _) => Depthwise(g), (x, w, b, y, in g) => CpuConvDepthwise.Forward(x, w, b, y, g), (x, w, b, y, in g) => CpuConvDepthwise.Forward(x, w, b, y, g));
                Add("direct", Direct, (x, w, b, y, in g) => CpuConvDirect.Forward(x, w, b, y, g), null);
                Add("direct-stride2", DirectStride2, (x, w, b, y, in g) => CpuConvDirect.ForwardStride2(x, w, b, y, g), null);
                Add("gemm-batched", (in g, _, o) => Batched(g, o), (x, w, b, y, in g) => CpuConv.ForwardBatched(x, w, b, y, g), (x, w, b, y, in g) => CpuConv.ForwardBatched(x, w, b, y, g));
                Add("pointwise", (in g, _, _) => Pointwise(g), (x, w, b, y, in g) => CpuConv.ForwardPerImage(x, w, b, y, g, pointwise: true), (x, w, b, y, in g) => CpuConv.ForwardPerImage(x, w, b, y, g, pointwise: true));
                Add("im2col", (in g, _, _) => true, (x, w, b, y, in g) => CpuConv.ForwardPerImage(x, w, b, y, g, pointwise: false), (x, w, b, y, in g) => CpuConv.ForwardPerImage(x, w, b, y, g, pointwise: false));
                break;
            case ConvPass.BackwardData:
                Add("depthwise", (in g, _, _) => Depthwise(g), (gy, w, gx, _, in g) => CpuConvDepthwise.BackwardData(gy, w, gx, g), (gy, w, gx, _, in g) => CpuConvDepthwise.BackwardData(gy, w, gx, g));
                Add("direct", Direct, (gy, w, gx, _, in g) => CpuConvDirect.BackwardData(gy, w, gx, g), null);
                Add("gemm-batched", (in g, _, o) => Batched(g, o), (gy, w, gx, _, in g) => CpuConv.BackwardDataBatched(gy, w, gx, g), (gy, w, gx, _, in g) => CpuConv.BackwardDataBatched(gy, w, gx, g));
                Add("pointwise", (in g, _, _) => Pointwise(g), (gy, w, gx, _, in g) => CpuConv.BackwardDataPerImage(gy, w, gx, g, pointwise: true), (gy, w, gx, _, in g) => CpuConv.BackwardDataPerImage(gy, w, gx, g, pointwise: true));
                Add("im2col", (in g, _, _) => true, (gy, w, gx, _, in g) => CpuConv.BackwardDataPerImage(gy, w, gx, g, pointwise: false), (gy, w, gx, _, in g) => CpuConv.BackwardDataPerImage(gy, w, gx, g, pointwise: false));
                break;
            default:
                Add("depthwise", (in g, _, _) => Depthwise(g), (x, gy, gw, _, in g) => CpuConvDepthwise.BackwardFilter(x, gy, gw, g), (x, gy, gw, _, in g) => CpuConvDepthwise.BackwardFilter(x, gy, gw, g));
                Add("direct", Direct, (x, gy, gw, _, in g) => CpuConvDirect.BackwardFilter(x, gy, gw, g), null);
                Add("gemm-batched", (in g, _, o) => Batched(g, o), (x, gy, gw, _, in g) => CpuConv.BackwardFilterBatched(x, gy, gw, g), (x, gy, gw, _, in g) => CpuConv.BackwardFilterBatched(x, gy, gw, g));
                Add("pointwise", (in g, _, _) => Pointwise(g), (x, gy, gw, _, in g) => CpuConv.BackwardFilterPerImage(x, gy, gw, g, pointwise: true), (x, gy, gw, _, in g) => CpuConv.BackwardFilterPerImage(x, gy, gw, g, pointwise: true));
                Add("im2col", (in g, _, _) => true, (x, gy, gw, _, in g) => CpuConv.BackwardFilterPerImage(x, gy, gw, g, pointwise: false), (x, gy, gw, _, in g) => CpuConv.BackwardFilterPerImage(x, gy, gw, g, pointwise: false));
                break;
        }
        return [.. list];
    }

    private static readonly ConvVariant[][] ByPass = [Build(ConvPass.Forward), Build(ConvPass.BackwardData), Build(ConvPass.BackwardFilter)];

    /// <summary>Every registered variant, in choice order per pass.</summary>
    public static IEnumerable<ConvVariant> All => ByPass.SelectMany(v => v);

    private static readonly Dictionary<string, ConvVariant> ByName = All.ToDictionary(v => v.FullName, StringComparer.Ordinal);

    /// <summary>The variants of one pass, in choice order (the last is the general fallback).</summary>
    public static IReadOnlyList<ConvVariant> Of(ConvPass pass) => ByPass[(int)pass];

    /// <summary>The variant that runs a geometry: a preferred one that applies, else the first that applies and is
    /// not disabled, else the fallback.</summary>
    public static ConvVariant Choose(ConvPass pass, in Conv2dGeometry g, bool f32, CpuKernelOptions? options = null)
    {
        var o = options ?? CpuKernelOptions.Current;
        var list = ByPass[(int)pass];
        if (o.Preferred.Count > 0)
            foreach (var v in list)
                if (o.Preferred.Contains(v.FullName) && v.Applies(g, f32, o)) return v;
        for (int i = 0; i < list.Length - 1; i++)
            if (list[i].Applies(g, f32, o) && o.Allows(list[i].FullName)) return list[i];
        return list[^1];
    }

    /// <summary>Whether the named variant would be chosen for an F32 geometry under the current options, were it
    /// the first in line (it applies and is not disabled).</summary>
    public static bool Takes(string fullName, in Conv2dGeometry g)
    {
        var o = CpuKernelOptions.Current;
        return ByName[fullName].Applies(g, f32: true, o) && o.Allows(fullName);
    }

    /// <summary>What runs each pass of a geometry in F32, for benchmarks and logs ("direct", or one name per pass).</summary>
    public static string Describe(in Conv2dGeometry g)
    {
        var o = CpuKernelOptions.Current;
        var geo = g;
        string Name(ConvPass p)
        {
            var v = Choose(p, geo, f32: true, o);
            return v.Name == "gemm-batched" ? $"gemm-batched ({CpuConvBatched.ImagesPerGemm(geo, o)} images per GEMM)" : v.Name;
        }
        string f = Name(ConvPass.Forward), d = Name(ConvPass.BackwardData), w = Name(ConvPass.BackwardFilter);
        return f == d && d == w ? f : $"forward {f}, backward-data {d}, backward-filter {w}";
    }
}
