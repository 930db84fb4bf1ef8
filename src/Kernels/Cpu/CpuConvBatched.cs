// Convolutions whose output planes are small (late ResNet stages: 7x7, 4x4, 2x2, 1x1 positions) run one GEMM
// per group of images instead of one per image. Per image the GEMM would be nearly a matrix-vector product
// (N = OH*OW columns), and the weight matrix (up to 512 x 4608 floats) would be packed and streamed from
// memory once per image; side by side, nb images give N = nb*OH*OW columns and the weights are read once per
// group. The price is one copy of the output (forward) or of the output gradient (backward) between NCHW and
// the [O, nb*P] GEMM operand, which is small next to the GEMM at these shapes.
using System.Numerics;
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConvBatched
{
    /// <summary>Output planes with at least this many positions already make a wide enough GEMM per image.</summary>
    internal const int WideEnoughColumns = 256;

    /// <summary>
    /// Images side by side in one GEMM (1 = the per-image paths in CpuConv). Aim for at least as many columns
    /// as the weight matrix has rows, so packing the weights costs no more than packing the columns, and for
    /// a column block of about 1 MiB; never past the batch.
    /// </summary>
    internal static int ImagesPerGemm(in Conv2dGeometry g, CpuKernelOptions? options = null) =>
        ImagesPerGemm(g, g.C / g.Groups * g.KH * g.KW, g.O / g.Groups, options);

    internal static int ImagesPerGemm(in Conv2dGeometry g, int k, int og, CpuKernelOptions? options = null)
    {
        int forced = (options ?? CpuKernelOptions.Current).ConvImagesPerGemm; // for tests: 1 = one GEMM per image
        if (forced > 0) return Math.Min(forced, g.N);
        int p = g.OH * g.OW;
        if (g.N == 1 || p >= WideEnoughColumns) return 1;
        long target = Math.Clamp(Math.Max((1L << 18) / k, og), WideEnoughColumns, 2048);
        return (int)Math.Clamp(target / p, 1, g.N);
    }

    /// <summary>Per group: input and output channels, GEMM depth, output and input plane sizes; columns per GEMM; GEMMs per group.</summary>
    private static (int Groups, int Cg, int Og, int K, int P, int Hw, long Cols, int Units) Sizes(in Conv2dGeometry g, int nb)
    {
        int cg = g.C / g.Groups, p = g.OH * g.OW;
        return (g.Groups, cg, g.O / g.Groups, cg * g.KH * g.KW, p, g.H * g.W, (long)nb * p, (g.N + nb - 1) / nb);
    }

    public static void Forward<T>(T* x, T* w, T* b, T* y, in Conv2dGeometry g, int nb) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var geo = g;
        var (groups, cg, og, k, p, hw, cols, units) = Sizes(g, nb);
        var taps = TapOffsets(g);
        using var trimmed = TrimDeadTaps(ref taps, ref k, w, g, out w);
        CpuConv.RunImages<T>(units, (k + og) * cols, (_, u, _, ws) =>
        {
            int n0 = u * nb, count = Math.Min(nb, geo.N - n0);
            T* col = ws, prod = ws + k * cols;
            for (int gi = 0; gi < groups; gi++)
            {
                Im2col(x + ((long)n0 * geo.C + gi * cg) * hw, (long)geo.C * hw, count, cg, hw, taps, p, col, cols);
                CpuConv.Mm(false, false, og, count * p, k, w + (long)gi * og * k, k, col, (int)cols, false, prod, (int)cols);
                // prod[o, i*P + q] -> y[n0 + i, gi*og + o, q], plus the bias.
                for (int o = 0; o < og; o++)
                {
                    int oc = gi * og + o;
                    T bias = b == null ? T.Zero : b[oc];
                    for (int i = 0; i < count; i++)
                    {
                        var src = new ReadOnlySpan<T>(prod + o * cols + (long)i * p, p);
                        var dst = new Span<T>(y + ((long)(n0 + i) * geo.O + oc) * p, p);
                        if (b == null) src.CopyTo(dst); else TensorPrimitives.Add(src, bias, dst);
                    }
                }
            }
        });
    }

    public static void BackwardData<T>(T* gy, T* w, T* gx, in Conv2dGeometry g, int nb) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var geo = g;
        var (groups, cg, og, k, p, hw, cols, units) = Sizes(g, nb);
        var taps = TapOffsets(g);
        using var trimmed = TrimDeadTaps(ref taps, ref k, w, g, out w);
        CpuConv.RunImages<T>(units, (k + og) * cols, (_, u, _, ws) =>
        {
            int n0 = u * nb, count = Math.Min(nb, geo.N - n0);
            T* col = ws, gyc = ws + k * cols;
            for (int gi = 0; gi < groups; gi++)
            {
                GatherPlanes(gy, geo.O, gi * og, og, n0, count, p, gyc, cols);
                CpuConv.Mm(true, false, k, count * p, og, w + (long)gi * og * k, k, gyc, (int)cols, false, col, (int)cols);
                Col2im(col, cols, count, cg, hw, taps, p, gx + ((long)n0 * geo.C + gi * cg) * hw, (long)geo.C * hw);
            }
        });
    }

    /// <summary>gW (+)= gy_g · colᵀ per group of images; each worker chunk sums into its own partial (chunk 0 into gw).</summary>
    public static void BackwardFilter<T>(T* x, T* gy, T* gw, in Conv2dGeometry g, int nb) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var geo = g;
        var (groups, cg, og, k, p, hw, cols, units) = Sizes(g, nb);
        int chunks = CpuConv.ImageChunks(units), kFull = k;
        var taps = TapOffsets(g);
        var live = LiveTaps(ref taps, p);
        if (live is not null) k = cg * live.Length;
        long gwLen = (long)g.O * k;
        // With dead taps the live part of the gradient is summed in its own buffer, then spread into gw (zeros elsewhere).
        using var live0 = Workspace.Of<T>(live is null ? 0 : gwLen);
        T* gwLive = live is null ? gw : (T*)live0.Ptr;
        using var partials = Workspace.Of<T>((chunks - 1) * gwLen);
        T* part = (T*)partials.Ptr;
        var counts = CpuConv.RunImages<T>(units, (k + og) * cols, (c, u, first, ws) =>
        {
            int n0 = u * nb, count = Math.Min(nb, geo.N - n0);
            T* col = ws, gyc = ws + k * cols;
            T* acc = c == 0 ? gwLive : part + (c - 1) * gwLen;
            for (int gi = 0; gi < groups; gi++)
            {
                Im2col(x + ((long)n0 * geo.C + gi * cg) * hw, (long)geo.C * hw, count, cg, hw, taps, p, col, cols);
                GatherPlanes(gy, geo.O, gi * og, og, n0, count, p, gyc, cols);
                CpuConv.Mm(false, true, og, k, count * p, gyc, (int)cols, col, (int)cols, !first, acc + (long)gi * og * k, k);
            }
        }, summed: true);
        CpuConv.SumPartials(gwLive, part, gwLen, counts);
        if (live is null) return;
        int kk = kFull / cg;
        new Span<T>(gw, checked(g.O * kFull)).Clear();
        for (int r = 0; r < g.O * cg; r++)
            for (int j = 0; j < live.Length; j++)
                gw[(long)r * kk + live[j]] = gwLive[(long)r * live.Length + j];
    }

    /// <summary>
    /// Taps that read only padding for every output position contribute nothing (a 3x3 kernel with padding 1 on a 1x1
    /// plane keeps only its centre tap: 8/9 of the multiply-adds were on zeros). Drops them from the offset table and
    /// returns the live taps' indices, or null when every tap is live.
    /// </summary>
    internal static int[]? LiveTaps(ref int[] taps, int p)
    {
        int kk = taps.Length / p;
        var live = new List<int>(kk);
        for (int t = 0; t < kk; t++)
            if (Array.FindIndex(taps, t * p, p, o => o >= 0) >= 0) live.Add(t);
        if (live.Count == kk) return null;
        var kept = new int[live.Count * p];
        for (int j = 0; j < live.Count; j++) Array.Copy(taps, live[j] * p, kept, j * p, p);
        taps = kept;
        return live.ToArray();
    }

    /// <summary>
    /// Drops dead taps (<see cref="LiveTaps"/>) from the table, the GEMM depth k and the weights: trimmedW[o, c KK' + j] =
    /// w[o, c KK + live[j]] in a workspace the caller disposes. Without dead taps trimmedW is w and nothing is copied.
    /// </summary>
    private static Workspace TrimDeadTaps<T>(ref int[] taps, ref int k, T* w, in Conv2dGeometry g, out T* trimmedW) where T : unmanaged
    {
        int p = g.OH * g.OW, kk = g.KH * g.KW, cg = g.C / g.Groups;
        var live = LiveTaps(ref taps, p);
        trimmedW = w;
        if (live is null) return default;
        k = cg * live.Length;
        var ws = Workspace.Of<T>((long)g.O * k);
        trimmedW = (T*)ws.Ptr;
        for (int r = 0; r < g.O * cg; r++)
            for (int j = 0; j < live.Length; j++)
                trimmedW[(long)r * live.Length + j] = w[(long)r * kk + live[j]];
        return ws;
    }

    /// <summary>
    /// For tap t = kh KW + kw and output position q = oh OW + ow: the input cell oh sH - pH + kh dH, ow sW - pW + kw dW
    /// as an offset within the plane, or -1 where it falls in the padding. Small planes make this table cheap, and it
    /// turns im2col of several small images into one gather loop instead of a call per (channel, tap, row).
    /// </summary>
    internal static int[] TapOffsets(in Conv2dGeometry g)
    {
        int p = g.OH * g.OW;
        var t = new int[g.KH * g.KW * p];
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
                for (int oh = 0; oh < g.OH; oh++)
                    for (int ow = 0; ow < g.OW; ow++)
                    {
                        int ih = oh * g.SH - g.PH + kh * g.DH, iw = ow * g.SW - g.PW + kw * g.DW;
                        bool inside = (uint)ih < (uint)g.H && (uint)iw < (uint)g.W;
                        t[(kh * g.KW + kw) * p + oh * g.OW + ow] = inside ? ih * g.W + iw : -1;
                    }
        return t;
    }

    /// <summary>col[c KK + t, i P + q] = x[i, c, taps[t P + q]] (0 for -1) for count images imageStride apart, c &lt; channels.</summary>
    private static void Im2col<T>(T* x, long imageStride, int count, int channels, int hw, int[] taps, int p, T* col, long ld)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int kk = taps.Length / p;
        long work = (long)channels * kk * count * p;
        CpuWorkers.ForRange(channels, work < (1 << 18) ? channels : 1, (c0, c1) =>
        {
            fixed (int* tp = taps)
                for (int c = c0; c < c1; c++)
                    for (int t = 0; t < kk; t++)
                    {
                        T* row = col + ((long)c * kk + t) * ld;
                        int* off = tp + t * p;
                        for (int i = 0; i < count; i++)
                        {
                            T* xs = x + i * imageStride + (long)c * hw;
                            T* dst = row + (long)i * p;
                            for (int q = 0; q < p; q++) dst[q] = off[q] >= 0 ? xs[off[q]] : T.Zero;
                        }
                    }
        });
    }

    /// <summary>The transpose of Im2col: gx[i, c] is cleared, then each column entry is added into the cell it read.</summary>
    private static void Col2im<T>(T* col, long ld, int count, int channels, int hw, int[] taps, int p, T* gx, long imageStride)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int kk = taps.Length / p;
        long work = (long)channels * kk * count * p;
        CpuWorkers.ForRange(channels, work < (1 << 18) ? channels : 1, (c0, c1) =>
        {
            fixed (int* tp = taps)
                for (int c = c0; c < c1; c++)
                    for (int i = 0; i < count; i++)
                    {
                        T* dst = gx + i * imageStride + (long)c * hw;
                        new Span<T>(dst, hw).Clear();
                        for (int t = 0; t < kk; t++)
                        {
                            T* src = col + ((long)c * kk + t) * ld + (long)i * p;
                            int* off = tp + t * p;
                            for (int q = 0; q < p; q++)
                                if (off[q] >= 0) dst[off[q]] += src[q];
                        }
                    }
        });
    }

    /// <summary>dst[o, i*P + q] = src[n0 + i, c0 + o, q] for o &lt; channels, i &lt; count: NCHW planes side by side.</summary>
    private static void GatherPlanes<T>(T* src, int srcChannels, int c0, int channels, int n0, int count, int p, T* dst, long ld) where T : unmanaged
    {
        for (int o = 0; o < channels; o++)
            for (int i = 0; i < count; i++)
                new ReadOnlySpan<T>(src + ((long)(n0 + i) * srcChannels + c0 + o) * p, p).CopyTo(new Span<T>(dst + o * ld + (long)i * p, p));
    }
}
