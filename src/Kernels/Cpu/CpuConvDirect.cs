// Direct (implicit-GEMM) convolution for stride-1 convolutions on AVX-512, F32: no im2col matrix at all.
//
// Each image is copied once into a zero-bordered buffer whose rows are Wp = W + 2 pW wide. Flatten the output
// position to j = oh Wp + ow (the rows keep the padded width, so each row has Wp - OW unused columns); tap
// (kh, kw) of every output then reads the input at j + kh dH Wp + kw dW: a constant shift. So 16 consecutive
// outputs of one tap are one unaligned vector load from the padded image, and the convolution is a GEMM whose
// B panels are shifted views of that image, read straight from cache instead of being built by im2col and
// copied again by GEMM's packing. A register tile of 8 output channels x 48 flat positions accumulates over
// all input channels and taps, then the flat rows are compacted into NCHW (plus the bias).
// Backward-data with stride 1 is the same kernel on the output gradient: padding dH (KH - 1) - pH, the kernel
// flipped and its channel axes swapped. Backward-filter runs dot products along the same flat grid.
// F64 (used by the float64 gradient checks) takes the im2col path; this kernel is checked against the same
// scalar reference in F32 (ConvReferenceTests). See docs/conv.md.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConvDirect
{
    private const int MR = 8, NR = 48;

    /// <summary>For tests and benchmarks: route every shape to the im2col paths instead.</summary>
    internal static bool Disabled { get; set; }

    /// <summary>
    /// Stride 1, one group, a real kernel (not 1x1), padding no larger than the dilated kernel's reach (so the
    /// backward-data pass is the same kernel), and output rows at least 6 wide (narrower rows waste most of a
    /// vector on the unused padded columns; the image-batched GEMM handles those).
    /// </summary>
    public static bool Applies(in Conv2dGeometry g) =>
        !Disabled && Avx512F.IsSupported && g.Groups == 1 && g.SH == 1 && g.SW == 1 && g.KH * g.KW > 1
        && g.PH <= g.DH * (g.KH - 1) && g.PW <= g.DW * (g.KW - 1) && g.OW >= MinOutputWidth;

    /// <summary>Benchmark hook: the narrowest output row the direct kernel takes.</summary>
    internal static int MinOutputWidth { get; set; } = 6;

    /// <summary>A stride-1 correlation of C-channel images with an O x C x KH x KW kernel and the derived buffer sizes.</summary>
    private readonly struct Shape
    {
        public readonly int C, H, W, O, KH, KW, PH, PW, DH, DW, Hp, Wp, OH, OW, Jp, Blocks;
        public readonly nint Plane;

        public Shape(int c, int h, int w, int o, int kh, int kw, int ph, int pw, int dh, int dw)
        {
            C = c; H = h; W = w; O = o; KH = kh; KW = kw; PH = ph; PW = pw; DH = dh; DW = dw;
            Hp = h + 2 * ph; Wp = w + 2 * pw;
            OH = Hp - dh * (kh - 1); OW = Wp - dw * (kw - 1);
            int j = (OH - 1) * Wp + OW;
            Jp = (j + 15) / 16 * 16; // blocks of 48 positions, then one of 16 or 32
            Blocks = (o + MR - 1) / MR;
            // The last flat output reads cell Hp Wp - 1; rounding j up to Jp reads up to 15 cells past it.
            Plane = ((nint)Hp * Wp + 16 + 15) / 16 * 16;
        }
    }

    public static void Forward(float* x, float* w, float* b, float* y, in Conv2dGeometry g)
    {
        var s = new Shape(g.C, g.H, g.W, g.O, g.KH, g.KW, g.PH, g.PW, g.DH, g.DW);
        using var packed = Workspace.Of<float>((long)s.Blocks * MR * s.C * g.KH * g.KW);
        PackWeights(w, s, transposeAndFlip: false, (float*)packed.Ptr);
        Run(x, g.N, (float*)packed.Ptr, b, y, s);
    }

    public static void BackwardData(float* gy, float* w, float* gx, in Conv2dGeometry g)
    {
        // gx = gy correlated with the flipped kernel, channels swapped, padded by d (k - 1) - p.
        var s = new Shape(g.O, g.OH, g.OW, g.C, g.KH, g.KW, g.DH * (g.KH - 1) - g.PH, g.DW * (g.KW - 1) - g.PW, g.DH, g.DW);
        using var packed = Workspace.Of<float>((long)s.Blocks * MR * s.C * g.KH * g.KW);
        PackWeights(w, s, transposeAndFlip: true, (float*)packed.Ptr);
        Run(gy, g.N, (float*)packed.Ptr, null, gx, s);
    }

    /// <summary>
    /// packed[block][c][t][r] = weight of output channel block*8 + r, input channel c, tap t (0 past the last
    /// channel). The source is w[o][c][t] of the forward kernel, or w[c][o][KK - 1 - t] for backward-data (there
    /// the source's first axis is the shape's input channel).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackWeights(float* w, in Shape s, bool transposeAndFlip, float* dst)
    {
        // Walk the source in memory order (the scattered side is the destination, 8 floats apart: same cache lines).
        int kk = s.KH * s.KW;
        long total = (long)s.Blocks * MR * s.C * kk;
        if (s.O % MR != 0) new Span<float>(dst, checked((int)total)).Clear();
        // The source's two leading axes: (o, c) for the forward kernel, (c, o) with flipped taps for backward-data.
        int firstAxis = transposeAndFlip ? s.C : s.O, secondAxis = transposeAndFlip ? s.O : s.C;
        for (int i = 0; i < firstAxis; i++)
            for (int j = 0; j < secondAxis; j++)
            {
                int o = transposeAndFlip ? j : i, c = transposeAndFlip ? i : j;
                float* src = w + ((long)i * secondAxis + j) * kk;
                float* d = dst + (((long)(o / MR) * s.C + c) * kk) * MR + o % MR;
                if (transposeAndFlip) for (int t = 0; t < kk; t++) d[(long)t * MR] = src[kk - 1 - t];
                else for (int t = 0; t < kk; t++) d[(long)t * MR] = src[t];
            }
    }

    private static void Run(float* x, int n, float* packed, float* bias, float* y, Shape s)
    {
        int kk = s.KH * s.KW;
        var taps = TapShifts(s);
        long xLen = s.C * s.Plane, yLen = (long)s.Blocks * MR * s.Jp;
        long inImage = (long)s.C * s.H * s.W, outImage = (long)s.O * s.OH * s.OW;
        int jBlocks = (s.Jp + NR - 1) / NR;
        CpuConv.RunImages<float>(n, xLen + yLen, (_, img, first, ws) =>
        {
            float* xp = ws, yf = ws + xLen;
            if (first) new Span<float>(xp, checked((int)xLen)).Clear(); // the border stays zero for every later image
            PadImage(x + img * inImage, xp, s);
            fixed (int* tp = taps)
            {
                int* t = tp;
                // Inside one image only when images do not already fill the threads (batch 1).
                // Tasks are (channel block, position block) pairs, channel-block-major so that two threads get equal
                // shares even when the last position block is narrow.
                long macs = (long)s.O * s.C * kk * s.Jp;
                int tasks = s.Blocks * jBlocks;
                CpuWorkers.ForRange(tasks, macs < (1 << 20) ? tasks : 1, (t0, t1) =>
                {
                    for (int task = t0; task < t1; task++)
                    {
                        int blk = task / jBlocks, jb = task % jBlocks;
                        int width = Math.Min(NR, s.Jp - jb * NR);
                        var kernel = width == 48 ? &Kernel8x48 : width == 32 ? &Kernel8x32 : (delegate*<float*, nint, int*, int, int, float*, float*, nint, void>)&Kernel8x16;
                        kernel(xp + jb * NR, s.Plane, t, kk, s.C, packed + (nint)blk * s.C * kk * MR, yf + (nint)blk * MR * s.Jp + jb * NR, s.Jp);
                    }
                });
            }
            float* dst = y + img * outImage;
            for (int o = 0; o < s.O; o++)
            {
                float bo = bias == null ? 0f : bias[o];
                for (int oh = 0; oh < s.OH; oh++)
                {
                    var from = new ReadOnlySpan<float>(yf + (nint)o * s.Jp + (nint)oh * s.Wp, s.OW);
                    var to = new Span<float>(dst + ((long)o * s.OH + oh) * s.OW, s.OW);
                    if (bias == null) from.CopyTo(to); else System.Numerics.Tensors.TensorPrimitives.Add(from, bo, to);
                }
            }
        });
    }

    /// <summary>Copies one image's C planes into the interior of the zero-bordered buffer (the border is never written).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadImage(float* src, float* xp, in Shape s)
    {
        for (int c = 0; c < s.C; c++)
            for (int h = 0; h < s.H; h++)
                new ReadOnlySpan<float>(src + ((long)c * s.H + h) * s.W, s.W)
                    .CopyTo(new Span<float>(xp + c * s.Plane + (nint)(h + s.PH) * s.Wp + s.PW, s.W));
    }

    /// <summary>Tap t = kh KW + kw reads the padded image t's constant shift ahead of the flat output position.</summary>
    private static int[] TapShifts(in Shape s)
    {
        var taps = new int[s.KH * s.KW];
        for (int kh = 0; kh < s.KH; kh++)
            for (int kw = 0; kw < s.KW; kw++)
                taps[kh * s.KW + kw] = kh * s.DH * s.Wp + kw * s.DW;
        return taps;
    }

    /// <summary>
    /// gW[o, c, t] = sum over images and flat positions j of gy[o, j] x[c, j + shift t]. Images are padded as in the
    /// forward pass and the output gradient is laid out on the same flat grid (zeros in the unused columns); small
    /// images are stacked, each image's padded block after the previous one, so that every dot product runs over
    /// at least ~1024 positions before its horizontal sum. Tiles of 4 output channels x 6 (input channel, tap) pairs
    /// run those dot products; each thread's stacks sum into its own tile matrix, added into gw at the end.
    /// </summary>
    public static void BackwardFilter(float* x, float* gy, float* gw, in Conv2dGeometry g)
    {
        const int TO = 4, TQ = 6;
        var s = new Shape(g.C, g.H, g.W, g.O, g.KH, g.KW, g.PH, g.PW, g.DH, g.DW);
        int kk = g.KH * g.KW, pairs = s.C * kk, pairsPadded = (pairs + TQ - 1) / TQ * TQ, rowsPadded = (s.O + TO - 1) / TO * TO;
        int block = s.Hp * s.Wp, stack = Math.Clamp(1024 / block, 1, g.N), units = (g.N + stack - 1) / stack;
        int jn = ((stack - 1) * block + (s.OH - 1) * s.Wp + s.OW + 15) / 16 * 16;
        nint plane = ((nint)stack * block + 16 + 15) / 16 * 16; // jn + the largest shift stays inside
        var taps = TapShifts(s);
        var offs = new int[pairsPadded]; // padding pairs read offset 0; their sums land in columns nobody reads
        for (int c = 0; c < s.C; c++)
            for (int t = 0; t < kk; t++)
                offs[c * kk + t] = checked((int)(c * plane) + taps[t]);
        long xLen = s.C * plane, gLen = (long)rowsPadded * plane, tileLen = (long)rowsPadded * pairsPadded;
        long inImage = (long)s.C * s.H * s.W, outImage = (long)s.O * s.OH * s.OW;
        int images = g.N, chunks = CpuConv.ImageChunks(units);
        using var tiles = Workspace.Of<float>(chunks * tileLen);
        new Span<float>(tiles.Ptr, checked((int)(chunks * tileLen))).Clear();
        float* tileBase = (float*)tiles.Ptr;
        var counts = CpuConv.RunImages<float>(units, xLen + gLen, (chunk, unit, first, ws) =>
        {
            float* xp = ws, gf = ws + xLen;
            int n0 = unit * stack, count = Math.Min(stack, images - n0);
            if (first || count < stack) new Span<float>(ws, checked((int)(xLen + gLen))).Clear();
            for (int i = 0; i < count; i++)
            {
                float* xs = x + (n0 + i) * inImage, gs = gy + (n0 + i) * outImage;
                for (int c = 0; c < s.C; c++)
                    for (int h = 0; h < s.H; h++)
                        new ReadOnlySpan<float>(xs + ((long)c * s.H + h) * s.W, s.W)
                            .CopyTo(new Span<float>(xp + c * plane + (nint)i * block + (nint)(h + s.PH) * s.Wp + s.PW, s.W));
                for (int o = 0; o < s.O; o++)
                    for (int oh = 0; oh < s.OH; oh++)
                        new ReadOnlySpan<float>(gs + ((long)o * s.OH + oh) * s.OW, s.OW)
                            .CopyTo(new Span<float>(gf + o * plane + (nint)i * block + (nint)oh * s.Wp, s.OW));
            }
            float* tile = tileBase + chunk * tileLen;
            long macs = (long)rowsPadded * pairsPadded * jn;
            fixed (int* op = offs)
            {
                int* pairOffs = op;
                CpuWorkers.ForRange(rowsPadded / TO, macs < (1 << 20) ? rowsPadded / TO : 1, (b0, b1) =>
                {
                    for (int ob = b0; ob < b1; ob++)
                        for (int qb = 0; qb < pairsPadded / TQ; qb++)
                            FilterKernel4x6(gf + ob * TO * plane, plane, xp, pairOffs + qb * TQ, jn,
                                tile + (nint)ob * TO * pairsPadded + qb * TQ, pairsPadded);
                });
            }
        });
        for (int o = 0; o < s.O; o++)
        {
            var dst = new Span<float>(gw + (long)o * pairs, pairs);
            new ReadOnlySpan<float>(tileBase + (long)o * pairsPadded, pairs).CopyTo(dst);
            for (int c = 1; c < chunks; c++)
                if (counts[c] > 0)
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, new ReadOnlySpan<float>(tileBase + c * tileLen + (long)o * pairsPadded, pairs), dst);
        }
    }

    /// <summary>
    /// Weight-gradient tile of 4 output channels x 6 (input channel, tap) pairs: dst[r, q] += the dot product of
    /// gradient row r with the input shifted by offs[q], over jn flat positions (a multiple of 16).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FilterKernel4x6(float* gy, nint ldg, float* x, int* offs, int jn, float* dst, nint ldd)
    {
        Vector512<float> a0_0 = default; Vector512<float> a0_1 = default; Vector512<float> a0_2 = default; Vector512<float> a0_3 = default; Vector512<float> a0_4 = default; Vector512<float> a0_5 = default;
        Vector512<float> a1_0 = default; Vector512<float> a1_1 = default; Vector512<float> a1_2 = default; Vector512<float> a1_3 = default; Vector512<float> a1_4 = default; Vector512<float> a1_5 = default;
        Vector512<float> a2_0 = default; Vector512<float> a2_1 = default; Vector512<float> a2_2 = default; Vector512<float> a2_3 = default; Vector512<float> a2_4 = default; Vector512<float> a2_5 = default;
        Vector512<float> a3_0 = default; Vector512<float> a3_1 = default; Vector512<float> a3_2 = default; Vector512<float> a3_3 = default; Vector512<float> a3_4 = default; Vector512<float> a3_5 = default;
        float* x0 = x + offs[0]; float* x1 = x + offs[1]; float* x2 = x + offs[2]; float* x3 = x + offs[3]; float* x4 = x + offs[4]; float* x5 = x + offs[5];
        float* g0p = gy + 0 * ldg; float* g1p = gy + 1 * ldg; float* g2p = gy + 2 * ldg; float* g3p = gy + 3 * ldg;
        for (int j = 0; j < jn; j += 16)
        {
            Vector512<float> g0 = Avx512F.LoadVector512(g0p + j); Vector512<float> g1 = Avx512F.LoadVector512(g1p + j); Vector512<float> g2 = Avx512F.LoadVector512(g2p + j); Vector512<float> g3 = Avx512F.LoadVector512(g3p + j);
            Vector512<float> v;
            v = Avx512F.LoadVector512(x0 + j); a0_0 = Avx512F.FusedMultiplyAdd(g0, v, a0_0); a1_0 = Avx512F.FusedMultiplyAdd(g1, v, a1_0); a2_0 = Avx512F.FusedMultiplyAdd(g2, v, a2_0); a3_0 = Avx512F.FusedMultiplyAdd(g3, v, a3_0);
            v = Avx512F.LoadVector512(x1 + j); a0_1 = Avx512F.FusedMultiplyAdd(g0, v, a0_1); a1_1 = Avx512F.FusedMultiplyAdd(g1, v, a1_1); a2_1 = Avx512F.FusedMultiplyAdd(g2, v, a2_1); a3_1 = Avx512F.FusedMultiplyAdd(g3, v, a3_1);
            v = Avx512F.LoadVector512(x2 + j); a0_2 = Avx512F.FusedMultiplyAdd(g0, v, a0_2); a1_2 = Avx512F.FusedMultiplyAdd(g1, v, a1_2); a2_2 = Avx512F.FusedMultiplyAdd(g2, v, a2_2); a3_2 = Avx512F.FusedMultiplyAdd(g3, v, a3_2);
            v = Avx512F.LoadVector512(x3 + j); a0_3 = Avx512F.FusedMultiplyAdd(g0, v, a0_3); a1_3 = Avx512F.FusedMultiplyAdd(g1, v, a1_3); a2_3 = Avx512F.FusedMultiplyAdd(g2, v, a2_3); a3_3 = Avx512F.FusedMultiplyAdd(g3, v, a3_3);
            v = Avx512F.LoadVector512(x4 + j); a0_4 = Avx512F.FusedMultiplyAdd(g0, v, a0_4); a1_4 = Avx512F.FusedMultiplyAdd(g1, v, a1_4); a2_4 = Avx512F.FusedMultiplyAdd(g2, v, a2_4); a3_4 = Avx512F.FusedMultiplyAdd(g3, v, a3_4);
            v = Avx512F.LoadVector512(x5 + j); a0_5 = Avx512F.FusedMultiplyAdd(g0, v, a0_5); a1_5 = Avx512F.FusedMultiplyAdd(g1, v, a1_5); a2_5 = Avx512F.FusedMultiplyAdd(g2, v, a2_5); a3_5 = Avx512F.FusedMultiplyAdd(g3, v, a3_5);
        }
        dst[0 * ldd + 0] += Vector512.Sum(a0_0); dst[0 * ldd + 1] += Vector512.Sum(a0_1); dst[0 * ldd + 2] += Vector512.Sum(a0_2); dst[0 * ldd + 3] += Vector512.Sum(a0_3); dst[0 * ldd + 4] += Vector512.Sum(a0_4); dst[0 * ldd + 5] += Vector512.Sum(a0_5);
        dst[1 * ldd + 0] += Vector512.Sum(a1_0); dst[1 * ldd + 1] += Vector512.Sum(a1_1); dst[1 * ldd + 2] += Vector512.Sum(a1_2); dst[1 * ldd + 3] += Vector512.Sum(a1_3); dst[1 * ldd + 4] += Vector512.Sum(a1_4); dst[1 * ldd + 5] += Vector512.Sum(a1_5);
        dst[2 * ldd + 0] += Vector512.Sum(a2_0); dst[2 * ldd + 1] += Vector512.Sum(a2_1); dst[2 * ldd + 2] += Vector512.Sum(a2_2); dst[2 * ldd + 3] += Vector512.Sum(a2_3); dst[2 * ldd + 4] += Vector512.Sum(a2_4); dst[2 * ldd + 5] += Vector512.Sum(a2_5);
        dst[3 * ldd + 0] += Vector512.Sum(a3_0); dst[3 * ldd + 1] += Vector512.Sum(a3_1); dst[3 * ldd + 2] += Vector512.Sum(a3_2); dst[3 * ldd + 3] += Vector512.Sum(a3_3); dst[3 * ldd + 4] += Vector512.Sum(a3_4); dst[3 * ldd + 5] += Vector512.Sum(a3_5);
    }

    /// <summary>8 output channels x 48 flat positions (24 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x48(float* x, nint plane, int* taps, int kk, int channels, float* w, float* y, nint ldy)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default; Vector512<float> c0_2 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default; Vector512<float> c1_2 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default; Vector512<float> c2_2 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default; Vector512<float> c3_2 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default; Vector512<float> c4_2 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default; Vector512<float> c5_2 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default; Vector512<float> c6_2 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default; Vector512<float> c7_2 = default;
        for (int c = 0; c < channels; c++, x += plane)
            for (int t = 0; t < kk; t++, w += 8)
            {
                float* xp = x + taps[t];
                Vector512<float> b0 = Avx512F.LoadVector512(xp + 0); Vector512<float> b1 = Avx512F.LoadVector512(xp + 16); Vector512<float> b2 = Avx512F.LoadVector512(xp + 32);
                Vector512<float> a;
                a = Vector512.Create(w[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1); c0_2 = Avx512F.FusedMultiplyAdd(a, b2, c0_2);
                a = Vector512.Create(w[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1); c1_2 = Avx512F.FusedMultiplyAdd(a, b2, c1_2);
                a = Vector512.Create(w[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1); c2_2 = Avx512F.FusedMultiplyAdd(a, b2, c2_2);
                a = Vector512.Create(w[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1); c3_2 = Avx512F.FusedMultiplyAdd(a, b2, c3_2);
                a = Vector512.Create(w[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1); c4_2 = Avx512F.FusedMultiplyAdd(a, b2, c4_2);
                a = Vector512.Create(w[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1); c5_2 = Avx512F.FusedMultiplyAdd(a, b2, c5_2);
                a = Vector512.Create(w[6]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a, b1, c6_1); c6_2 = Avx512F.FusedMultiplyAdd(a, b2, c6_2);
                a = Vector512.Create(w[7]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a, b1, c7_1); c7_2 = Avx512F.FusedMultiplyAdd(a, b2, c7_2);
            }
        Avx512F.Store(y + 0 * ldy + 0, c0_0); Avx512F.Store(y + 0 * ldy + 16, c0_1); Avx512F.Store(y + 0 * ldy + 32, c0_2);
        Avx512F.Store(y + 1 * ldy + 0, c1_0); Avx512F.Store(y + 1 * ldy + 16, c1_1); Avx512F.Store(y + 1 * ldy + 32, c1_2);
        Avx512F.Store(y + 2 * ldy + 0, c2_0); Avx512F.Store(y + 2 * ldy + 16, c2_1); Avx512F.Store(y + 2 * ldy + 32, c2_2);
        Avx512F.Store(y + 3 * ldy + 0, c3_0); Avx512F.Store(y + 3 * ldy + 16, c3_1); Avx512F.Store(y + 3 * ldy + 32, c3_2);
        Avx512F.Store(y + 4 * ldy + 0, c4_0); Avx512F.Store(y + 4 * ldy + 16, c4_1); Avx512F.Store(y + 4 * ldy + 32, c4_2);
        Avx512F.Store(y + 5 * ldy + 0, c5_0); Avx512F.Store(y + 5 * ldy + 16, c5_1); Avx512F.Store(y + 5 * ldy + 32, c5_2);
        Avx512F.Store(y + 6 * ldy + 0, c6_0); Avx512F.Store(y + 6 * ldy + 16, c6_1); Avx512F.Store(y + 6 * ldy + 32, c6_2);
        Avx512F.Store(y + 7 * ldy + 0, c7_0); Avx512F.Store(y + 7 * ldy + 16, c7_1); Avx512F.Store(y + 7 * ldy + 32, c7_2);
    }

    /// <summary>8 output channels x 32 flat positions (16 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(float* x, nint plane, int* taps, int kk, int channels, float* w, float* y, nint ldy)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        for (int c = 0; c < channels; c++, x += plane)
            for (int t = 0; t < kk; t++, w += 8)
            {
                float* xp = x + taps[t];
                Vector512<float> b0 = Avx512F.LoadVector512(xp + 0); Vector512<float> b1 = Avx512F.LoadVector512(xp + 16);
                Vector512<float> a;
                a = Vector512.Create(w[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0); c0_1 = Avx512F.FusedMultiplyAdd(a, b1, c0_1);
                a = Vector512.Create(w[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0); c1_1 = Avx512F.FusedMultiplyAdd(a, b1, c1_1);
                a = Vector512.Create(w[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0); c2_1 = Avx512F.FusedMultiplyAdd(a, b1, c2_1);
                a = Vector512.Create(w[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0); c3_1 = Avx512F.FusedMultiplyAdd(a, b1, c3_1);
                a = Vector512.Create(w[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0); c4_1 = Avx512F.FusedMultiplyAdd(a, b1, c4_1);
                a = Vector512.Create(w[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0); c5_1 = Avx512F.FusedMultiplyAdd(a, b1, c5_1);
                a = Vector512.Create(w[6]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0); c6_1 = Avx512F.FusedMultiplyAdd(a, b1, c6_1);
                a = Vector512.Create(w[7]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0); c7_1 = Avx512F.FusedMultiplyAdd(a, b1, c7_1);
            }
        Avx512F.Store(y + 0 * ldy + 0, c0_0); Avx512F.Store(y + 0 * ldy + 16, c0_1);
        Avx512F.Store(y + 1 * ldy + 0, c1_0); Avx512F.Store(y + 1 * ldy + 16, c1_1);
        Avx512F.Store(y + 2 * ldy + 0, c2_0); Avx512F.Store(y + 2 * ldy + 16, c2_1);
        Avx512F.Store(y + 3 * ldy + 0, c3_0); Avx512F.Store(y + 3 * ldy + 16, c3_1);
        Avx512F.Store(y + 4 * ldy + 0, c4_0); Avx512F.Store(y + 4 * ldy + 16, c4_1);
        Avx512F.Store(y + 5 * ldy + 0, c5_0); Avx512F.Store(y + 5 * ldy + 16, c5_1);
        Avx512F.Store(y + 6 * ldy + 0, c6_0); Avx512F.Store(y + 6 * ldy + 16, c6_1);
        Avx512F.Store(y + 7 * ldy + 0, c7_0); Avx512F.Store(y + 7 * ldy + 16, c7_1);
    }

    /// <summary>8 output channels x 16 flat positions (8 accumulators).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x16(float* x, nint plane, int* taps, int kk, int channels, float* w, float* y, nint ldy)
    {
        Vector512<float> c0_0 = default;
        Vector512<float> c1_0 = default;
        Vector512<float> c2_0 = default;
        Vector512<float> c3_0 = default;
        Vector512<float> c4_0 = default;
        Vector512<float> c5_0 = default;
        Vector512<float> c6_0 = default;
        Vector512<float> c7_0 = default;
        for (int c = 0; c < channels; c++, x += plane)
            for (int t = 0; t < kk; t++, w += 8)
            {
                float* xp = x + taps[t];
                Vector512<float> b0 = Avx512F.LoadVector512(xp + 0);
                Vector512<float> a;
                a = Vector512.Create(w[0]); c0_0 = Avx512F.FusedMultiplyAdd(a, b0, c0_0);
                a = Vector512.Create(w[1]); c1_0 = Avx512F.FusedMultiplyAdd(a, b0, c1_0);
                a = Vector512.Create(w[2]); c2_0 = Avx512F.FusedMultiplyAdd(a, b0, c2_0);
                a = Vector512.Create(w[3]); c3_0 = Avx512F.FusedMultiplyAdd(a, b0, c3_0);
                a = Vector512.Create(w[4]); c4_0 = Avx512F.FusedMultiplyAdd(a, b0, c4_0);
                a = Vector512.Create(w[5]); c5_0 = Avx512F.FusedMultiplyAdd(a, b0, c5_0);
                a = Vector512.Create(w[6]); c6_0 = Avx512F.FusedMultiplyAdd(a, b0, c6_0);
                a = Vector512.Create(w[7]); c7_0 = Avx512F.FusedMultiplyAdd(a, b0, c7_0);
            }
        Avx512F.Store(y + 0 * ldy + 0, c0_0);
        Avx512F.Store(y + 1 * ldy + 0, c1_0);
        Avx512F.Store(y + 2 * ldy + 0, c2_0);
        Avx512F.Store(y + 3 * ldy + 0, c3_0);
        Avx512F.Store(y + 4 * ldy + 0, c4_0);
        Avx512F.Store(y + 5 * ldy + 0, c5_0);
        Avx512F.Store(y + 6 * ldy + 0, c6_0);
        Avx512F.Store(y + 7 * ldy + 0, c7_0);
    }
}
