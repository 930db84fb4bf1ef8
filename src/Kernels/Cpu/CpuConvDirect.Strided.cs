// The direct kernel for stride-2 forward convolutions (ResNet's 7x7 stem, 3x3 downsampling), F32, AVX-512.
//
// With stride 2, output (oh, ow) of tap (kh, kw) reads bordered input row 2 oh + dy, column 2 ow + dx. Split the
// bordered image into 2 x 2 phase planes (rows of one parity, columns of one parity: plane (a, b) row i holds
// bordered row 2 i + a, columns b, b + 2, ...): the tap then reads phase (dy mod 2, dx mod 2) at row oh + dy / 2,
// column ow + dx / 2, a constant shift from j = oh Wq + ow on a flat grid Wq = ceil(Wp / 2) wide. So the stride-1
// register tiles run unchanged, with each channel's four phases as one "plane" and the phase folded into each tap's
// shift; no im2col matrix (147 x 12544 floats per stem image) is built or re-packed by GEMM.
// A tile of 8 channels x 48 flat positions goes through a 1.5 KB scratch into y, row by row with the bias
// (StoreRows, shared with stride 1), so the flat grid's dropped columns are never stored. The backward passes keep
// im2col + GEMM: a stride-2
// backward-data is a transposed convolution, not this kernel. See docs/conv.md.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe partial class CpuConvDirect
{
    // Stride 2 in both axes, one group, a real kernel, F32 forward, output rows at least 6 wide: ConvVariants'
    // "direct-stride2" rule.

    public static void ForwardStride2(float* x, float* w, float* bias, float* y, in Conv2dGeometry g)
    {
        int kk = g.KH * g.KW, blocks = (g.O + MR - 1) / MR;
        int hq = (g.H + 2 * g.PH + 1) / 2, wq = (g.W + 2 * g.PW + 1) / 2;
        nint phase = (nint)hq * wq, plane = 4 * phase;
        int oh = g.OH, ow = g.OW, jn = (oh - 1) * wq + ow;
        // Tiles of the flat grid: NR-wide runs across rows through a scratch (StoreRows), or, when output rows are a
        // multiple of 16 wide, whole blocks of 8 channels and y is aligned, tiles inside one output row that the
        // Stream kernels store straight into y with the bias, by streaming stores (no scratch, no second pass, no
        // read-for-ownership of y). A row's last 64 positions are two tiles of 32 rather than 48 + 16 (8 accumulators
        // are not enough to hide the FMA latency).
        bool rowTiles = CpuKernelOptions.Current.DirectConvRowTiles && ow % 16 == 0 && g.O % MR == 0 && ((nint)y & 63) == 0;
        var tiles = new List<(int Start, int Width)>();
        if (rowTiles)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow;)
                {
                    int width = ow - c == 64 ? 32 : Math.Min(NR, ow - c);
                    tiles.Add((r * wq + c, width));
                    c += width;
                }
        else
            for (int j = 0; j < jn; j += NR) tiles.Add((j, Math.Min(NR, jn - j)));
        var tileList = tiles.ToArray();
        // Every valid output reads inside its channel's phases; the last block's dropped positions read up to NR past
        // the last plane, into zeroed slack.
        long xLen = g.C * plane + NR + 16;
        long inImage = (long)g.C * g.H * g.W, outImage = (long)g.O * oh * ow;

        var taps = new int[kk];
        for (int t = 0; t < kk; t++)
        {
            int dy = t / g.KW * g.DH, dx = t % g.KW * g.DW;
            taps[t] = checked((int)((dy % 2 * 2 + dx % 2) * phase) + dy / 2 * wq + dx / 2);
        }
        using var packedWeights = Workspace.Of<float>((long)blocks * MR * g.C * kk);
        float* packed = (float*)packedWeights.Ptr;
        PackWeights(w, g.O, g.C, kk, transposeAndFlip: false, packed);
        var geo = g;
        int p = oh * ow;
        // The Stream kernels always add a bias: the conv's, or zeros.
        using var zeroBias = Workspace.Of<float>(rowTiles && bias == null ? g.O : 0);
        if (rowTiles && bias == null) new Span<float>(zeroBias.Ptr, g.O).Clear();
        float* rowBias = bias != null ? bias : (float*)zeroBias.Ptr;
        bool innerParallel = CpuConv.ImageChunks(g.N) == 1;
        long macs = (long)g.O * g.C * kk * jn;
        CpuConv.RunImages<float>(g.N, xLen, (_, img, first, xp) =>
        {
            // Only image cells are written below, so the zero border (and slack) survives from the first image on.
            if (first) new Span<float>(xp, checked((int)xLen)).Clear();
            ToPhasePlanes(x + img * inImage, geo, 0, geo.C, 0, hq, xp, plane, phase, hq, wq, usedPhases: 0xF, clearBorder: false);
            float* yi = y + img * outImage;
            fixed (int* tp = taps)
            {
                int* t = tp;
                CpuWorkers.ForRange(tileList.Length, innerParallel && macs >= (1 << 20) ? 1 : int.MaxValue, (j0, j1) =>
                {
                    float* tile = stackalloc float[MR * NR];
                    for (int jb = j0; jb < j1; jb++)
                    {
                        var (start, width) = tileList[jb];
                        if (rowTiles)
                        {
                            var streamKernel = StreamTileKernel(width);
                            float* yt = yi + start / wq * ow + start % wq;
                            for (int blk = 0; blk < blocks; blk++)
                                streamKernel(xp + start, plane, t, kk, geo.C, packed + (nint)blk * geo.C * kk * MR, rowBias + blk * MR, yt + (nint)blk * MR * p, p);
                            continue;
                        }
                        var kernel = TileKernel(width);
                        for (int blk = 0; blk < blocks; blk++)
                        {
                            kernel(xp + start, plane, t, kk, geo.C, packed + (nint)blk * geo.C * kk * MR, tile, NR);
                            StoreRows(tile, start, width, wq, ow, p, blk * MR, Math.Min(MR, geo.O - blk * MR), bias, yi);
                        }
                    }
                    if (rowTiles) Sse.StoreFence(); // the streaming stores are visible before the region ends
                });
            }
        });
    }

    /// <summary>The Stream tile for a row piece of 16, 32 or 48 positions.</summary>
    private static delegate*<float*, nint, int*, int, int, float*, float*, float*, nint, void> StreamTileKernel(int width) =>
        width > 32 ? &StreamKernel8x48 : width > 16 ? &StreamKernel8x32 : &StreamKernel8x16;

    /// <summary>
    /// Copies flat grid positions [start, start + width) of a tile ([channel][NR]) into y [O][OH OW] plus the bias:
    /// each grid row's first ow positions are one run of y, the rest of the row (past the image) is dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StoreRows(float* tile, int start, int width, int wq, int ow, int p, int o0, int channels, float* bias, float* y)
    {
        int end = start + width;
        for (int j = start; j < end;)
        {
            int row = j / wq, col = j - row * wq;
            if (col >= ow) { j += wq - col; continue; }
            int len = Math.Min(ow - col, end - j);
            for (int c = 0; c < channels; c++)
            {
                float* src = tile + c * NR + (j - start), dst = y + (long)(o0 + c) * p + (long)row * ow + col;
                var b = Vector512.Create(bias == null ? 0f : bias[o0 + c]);
                int i = 0;
                for (; i + 16 <= len; i += 16) (Vector512.Load(src + i) + b).Store(dst + i);
                if (i < len)
                {
                    var mask = CpuConv.FirstLanes(len - i);
                    Avx512F.MaskStore(dst + i, mask, Avx512F.MaskLoad(src + i, mask, Vector512<float>.Zero) + b);
                }
            }
            j += len;
        }
    }

    /// <summary>
    /// Copies channels [c0, c1), phase rows [i0, i1), of an NCHW image into bordered phase planes for a stride-s (1 or 2)
    /// grid: channel c's phase (a, b) starts at buf + c channelStride + (a s + b) phaseStride and its row i (of hq, wq
    /// floats wide) holds the bordered image's row i s + a, columns b, b + s, .... Phases not in usedPhases (bit a s + b)
    /// are skipped.
    /// With clearBorder the cells outside the image are zeroed too; without, they are left as they are (zero once).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ToPhasePlanes(float* x, in Conv2dGeometry g, int c0, int c1, int i0, int i1, float* buf, nint channelStride,
        nint phaseStride, int hq, int wq, int usedPhases, bool clearBorder)
    {
        int hw = g.H * g.W, s = g.SH;
        for (int c = c0; c < c1; c++)
            for (int a = 0; a < s; a++)
                for (int b = 0; b < s; b++)
                {
                    if ((usedPhases & (1 << (a * s + b))) == 0) continue; // e.g. a 1x1 stride-2 conv reads phase (0, 0) only
                    float* dst = buf + c * channelStride + (a * s + b) * phaseStride + (nint)i0 * wq;
                    // Phase columns jj read image column jj s + b - pW: valid for jj in [j0, j1).
                    int j0 = Math.Max(0, (g.PW - b + s - 1) / s), last = g.W - 1 + g.PW - b;
                    int j1 = last < 0 ? j0 : Math.Clamp(last / s + 1, j0, wq);
                    for (int i = i0; i < i1; i++, dst += wq)
                    {
                        int h = i * s + a - g.PH;
                        if ((uint)h >= (uint)g.H)
                        {
                            if (clearBorder) new Span<float>(dst, wq).Clear();
                            continue;
                        }
                        float* src = x + (long)c * hw + h * g.W + b - g.PW;
                        if (clearBorder) ZeroShort(dst, j0);
                        if (s == 1) CopyShort(src + j0, dst + j0, j1 - j0);
                        else CpuConv.GatherStride2(src, dst, j0, j1);
                        if (clearBorder) ZeroShort(dst + j1, wq - j1);
                    }
                }
    }

    /// <summary>Zeros n floats: inline for the one- or two-column borders of a padded row (a Span.Clear call per row
    /// border was 4% of a batch-1 ResNet-20 inference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ZeroShort(float* dst, int n)
    {
        if (n > 8) { new Span<float>(dst, n).Clear(); return; }
        for (int i = 0; i < n; i++) dst[i] = 0f;
    }

    /// <summary>Copies n floats with 16-wide vectors and one masked tail: rows of an image are short (7 to 56 floats),
    /// where a memmove call per row cost more than the copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort(float* src, float* dst, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) Vector512.Load(src + i).Store(dst + i);
        if (i < n)
        {
            var mask = CpuConv.FirstLanes(n - i);
            Avx512F.MaskStore(dst + i, mask, Avx512F.MaskLoad(src + i, mask, Vector512<float>.Zero));
        }
    }

    // The Stream tiles are in CpuConvDirect.Kernels.g.cs (tools/gen_conv_kernels.py).
}
