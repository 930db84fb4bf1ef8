// The CPU's frozen (inference) conv variants behind the backend contract (IBackend.Frozen.cs): conv2d.frozen:blocked
// (BlockedConv2d, channel-blocked activations) and conv2d.frozen:packed (PackedConv2d, NCHW ones), the one place that
// chooses between them and the eager ops, and the layout conversions and blocked max pool the plan runs between them.
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static class FrozenConvVariants
{
    public const string Blocked = BlockedConv2d.FrozenVariant, Packed = PackedConv2d.FrozenVariant;

    /// <summary>Every registered frozen variant, in choice order (the fallback is the eager ops, not a variant).</summary>
    public static readonly IReadOnlyList<string> All = [Blocked, Packed];

    /// <summary>The border of the blocked input a blocked conv reads: the layout's, or for an NCHW input its own copy's,
    /// as wide as its padding.</summary>
    public static int InputBorder(in Conv2dGeometry g, bool blockedInput) => blockedInput ? BlockedLayout.Border : BlockedConv2d.InputBorderFor(g);

    public static string? Choose(in Conv2dGeometry g, DType dtype, bool blockedInput, CpuKernelOptions o)
    {
        // Both run AVX-512 F32 tiles over one group; depthwise and grouped convs stay eager.
        if (dtype != DType.F32 || !Avx512F.IsSupported || g.Groups != 1 || g.OH <= 0 || g.OW <= 0) return null;
        bool packed = PackedConv2d.Applies(g), blocked = BlockedConv2d.Applies(g, InputBorder(g, blockedInput));
        // A batch that fills the threads runs the eager kernels unless the packed one measured faster there; below that
        // (one image above all) a frozen one always runs: on one thread too, the eager direct kernel took 0.068 ms on
        // ResNet-20's 28x28 conv, the packed one 0.036 (docs/inference.md).
        if (g.N > 1 && g.N >= o.Threads) return packed && PackedConv2d.FasterThanEagerAtBatch(g) ? Packed : null;
        if (packed && o.Preferred.Contains(Packed)) return Packed;
        return blocked ? Blocked : packed ? Packed : null;
    }
}

public sealed unsafe partial class CpuBackend
{
    /// <summary>A prepared frozen conv: one of the two kernels, with the packed weights it owns.</summary>
    private sealed class FrozenConv(BlockedConv2d? blocked, PackedConv2d? packed) : IFrozenConv2d
    {
        public BlockedConv2d? Blocked => blocked;
        public PackedConv2d? Packed => packed;
        public string Variant => blocked is not null ? FrozenConvVariants.Blocked : FrozenConvVariants.Packed;
        public Conv2dGeometry Geometry => blocked?.Geometry ?? packed!.Geometry;
        public string Describe => blocked?.Describe ?? packed!.Describe;
        public bool WritesBlocked => blocked is not null;

        public void Dispose()
        {
            blocked?.Dispose();
            packed?.Dispose();
        }
    }

    public bool FrozenConv2dReadsBlocked(int groups, int strideH, int strideW, int padH, int padW) =>
        BlockedConv2d.Takes(groups, strideH, strideW, padH, padW);

    public string? ChooseFrozenConv2d(in Conv2dGeometry g, DType dtype, bool blockedInput) =>
        FrozenConvVariants.Choose(g, dtype, blockedInput, CpuKernelOptions.Current);

    public IFrozenConv2d PrepareFrozenConv2d(string variant, Storage w, Layout wLayout, Storage bias, Layout biasLayout, in Conv2dGeometry g, bool blockedInput)
    {
        const string op = "frozen conv2d";
        CheckGeometry(g, op);
        CheckShape(wLayout, "weight", op, g.O, g.C / g.Groups, g.KH, g.KW);
        CheckShape(biasLayout, "bias", op, g.O);
        if (C(w).DType != DType.F32 || C(bias).DType != DType.F32) throw new NotSupportedException($"{op}: weights must be F32, got {C(w).DType} and {C(bias).DType}");
        using var ws = new Lease(DenseView(C(w), wLayout, DType.F32, out var pw));
        using var bs = new Lease(DenseView(C(bias), biasLayout, DType.F32, out var pb));
        return variant switch
        {
            FrozenConvVariants.Blocked => new FrozenConv(new BlockedConv2d((float*)pw, (float*)pb, g, FrozenConvVariants.InputBorder(g, blockedInput)), null),
            FrozenConvVariants.Packed => new FrozenConv(null, new PackedConv2d((float*)pw, (float*)pb, g)),
            _ => throw new ArgumentException($"{op}: unknown variant '{variant}' (the CPU has {string.Join(", ", FrozenConvVariants.All)})", nameof(variant)),
        };
    }

    /// <summary>Checks that a frozen conv's operand is contiguous NCHW [n, c, h, w] or blocked; true when blocked.
    /// Runs on every call of every fused conv, so it compares dims in place and allocates only for the message.</summary>
    private static bool FrozenOperand(Layout l, string what, int n, int c, int h, int w)
    {
        var s = l.Shape;
        bool blocked = l.Rank == 5;
        bool fits = l.IsContiguous && (blocked
            ? s[0] == n && s[1] == ChannelBlocked.Blocks(c) && s[2] == h + 2 * ChannelBlocked.Border && s[3] == w + 2 * ChannelBlocked.Border && s[4] == ChannelBlocked.Lanes
            : l.Rank == 4 && s[0] == n && s[1] == c && s[2] == h && s[3] == w);
        if (!fits)
        {
            int[] want = blocked ? ChannelBlocked.Shape(n, c, h, w) : [n, c, h, w];
            throw new ArgumentException($"frozen conv2d: {what} must be contiguous {Layout.ShapeString(want)}{(blocked ? " (channel-blocked)" : "")}, got {Layout.ShapeString(s)}{(l.IsContiguous ? "" : ", strided")}");
        }
        return blocked;
    }

    private static void CheckF32(Storage? s)
    {
        if (s is not null && C(s).DType != DType.F32) throw new NotSupportedException($"frozen conv2d computes in F32, got {C(s).DType}");
    }

    private static float* F32(Storage s, Layout l) => C(s).Ptr<float>() + l.Offset;

    public void FrozenConv2d(IFrozenConv2d conv, Storage x, Layout xLayout, Storage? residual, Layout? residualLayout, Storage y, Layout yLayout, FusedActivation act)
    {
        var f = conv as FrozenConv ?? throw new ArgumentException($"frozen conv2d: {conv.Variant} was not prepared by the CPU backend");
        var g = f.Geometry;
        int n = xLayout.Rank > 0 ? xLayout.Shape[0] : 0;
        bool xBlocked = FrozenOperand(xLayout, "input", n, g.C, g.H, g.W), yBlocked = FrozenOperand(yLayout, "output", n, g.O, g.OH, g.OW);
        bool rBlocked = residual is not null && FrozenOperand(residualLayout!, "residual", n, g.O, g.OH, g.OW);
        CheckF32(x);
        CheckF32(y);
        CheckF32(residual);
        float* px = F32(x, xLayout), py = F32(y, yLayout), pr = residual is null ? null : F32(residual, residualLayout!);
        long yImage = BlockedLayout.ImageFloats(g.O, g.OH, g.OW);
        if (f.Blocked is { } b)
        {
            if (xBlocked && b.InputBorder != BlockedLayout.Border)
                throw new ArgumentException($"frozen conv2d: prepared for an NCHW input (border {b.InputBorder}), given a channel-blocked one");
            // The kernel reads a blocked residual and writes a blocked output; NCHW ones go through scratch.
            using var rs = residual is null || rBlocked ? default : Workspace.Of<float>(n * yImage);
            if (rs.Ptr != null) BlockedLayout.ImagesFromNchw(pr, n, g.O, g.OH, g.OW, (float*)rs.Ptr);
            float* rb = rs.Ptr != null ? (float*)rs.Ptr : pr;
            using var ys = yBlocked ? default : Workspace.Of<float>(n * yImage);
            float* yb = yBlocked ? py : (float*)ys.Ptr;
            // An NCHW input is blocked by the conv's own threads, each a band of rows, into the conv's own buffer.
            if (xBlocked) b.Run(px, rb, yb, n, act);
            else b.RunDense(px, rb, yb, n, act);
            if (!yBlocked) BlockedLayout.ImagesToNchw(yb, n, g.O, g.OH, g.OW, py);
            return;
        }
        // Packed: NCHW in and out; blocked operands are converted through scratch.
        var p = f.Packed!;
        using var xs = xBlocked ? Workspace.Of<float>((long)n * g.C * g.H * g.W) : default;
        if (xBlocked) BlockedLayout.ImagesToNchw(px, n, g.C, g.H, g.W, (float*)xs.Ptr);
        long yDense = (long)n * g.O * g.OH * g.OW;
        using var rn = rBlocked ? Workspace.Of<float>(yDense) : default;
        if (rBlocked) BlockedLayout.ImagesToNchw(pr, n, g.O, g.OH, g.OW, (float*)rn.Ptr);
        using var yn = yBlocked ? Workspace.Of<float>(yDense) : default;
        p.Run(xBlocked ? (float*)xs.Ptr : px, rBlocked ? (float*)rn.Ptr : pr, yBlocked ? (float*)yn.Ptr : py, n, act);
        if (yBlocked) BlockedLayout.ImagesFromNchw((float*)yn.Ptr, n, g.O, g.OH, g.OW, py);
    }

    public void ToChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout)
    {
        if (xLayout.Rank != 4) throw new ArgumentException($"to channel-blocked: input must be [N, C, H, W], got {Layout.ShapeString(xLayout.Shape)}");
        var s = xLayout.Shape;
        FrozenOperand(yLayout, "to channel-blocked output", s[0], s[1], s[2], s[3]);
        using var xs = new Lease(DenseView(C(x), xLayout, DType.F32, out var px));
        BlockedLayout.ImagesFromNchw((float*)px, s[0], s[1], s[2], s[3], F32(y, yLayout));
    }

    public void FromChannelBlocked(Storage x, Layout xLayout, int channels, Storage y, Layout yLayout)
    {
        var s = xLayout.Shape;
        if (xLayout.Rank != 5 || s[4] != ChannelBlocked.Lanes || s[1] != ChannelBlocked.Blocks(channels) || !xLayout.IsContiguous)
            throw new ArgumentException($"from channel-blocked: input {Layout.ShapeString(s)} is not a contiguous blocked tensor of {channels} channels");
        var (h, w) = ChannelBlocked.Plane(s);
        FrozenOperand(yLayout, "from channel-blocked output", s[0], channels, h, w);
        BlockedLayout.ImagesToNchw(F32(x, xLayout), s[0], channels, h, w, F32(y, yLayout));
    }

    public void MaxPool2dChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout, in Pool2dGeometry g)
    {
        if (!FrozenOperand(xLayout, "blocked max pool input", g.N, g.C, g.H, g.W) || !FrozenOperand(yLayout, "blocked max pool output", g.N, g.C, g.OH, g.OW))
            throw new ArgumentException("blocked max pool: input and output must both be channel-blocked");
        if (g.DH != 1 || g.DW != 1) throw new NotSupportedException($"blocked max pool: dilation must be 1, got {g.DH}x{g.DW}");
        if (g.PH > g.KH / 2 || g.PW > g.KW / 2)
            throw new ArgumentException($"MaxPool: padding ({g.PH}, {g.PW}) must be at most half the kernel size ({g.KH}, {g.KW})");
        if (g.OH < 1 || g.OW < 1) throw new ArgumentException($"MaxPool: kernel ({g.KH}, {g.KW}) is larger than the padded input {g.H + 2 * g.PH}x{g.W + 2 * g.PW}");
        long xImage = BlockedLayout.ImageFloats(g.C, g.H, g.W), yImage = BlockedLayout.ImageFloats(g.C, g.OH, g.OW);
        float* px = F32(x, xLayout), py = F32(y, yLayout);
        for (int i = 0; i < g.N; i++)
            BlockedLayout.MaxPool(px + i * xImage, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, py + i * yImage, g.OH, g.OW);
    }
}
