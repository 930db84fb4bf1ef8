// CPU 2-D convolution: the pass entry points (through ConvVariants), the per-image and image-batched GEMM paths,
// im2col/col2im and the shared helpers. The backend entry points are in CpuBackend.Conv.cs.
//
//   Pointwise (1x1, stride 1, no padding): the NCHW image of a group already is the [C/G, H*W] GEMM operand,
//     so forward, backward-data and backward-filter are one GEMM per image and group, no copies.
//   Depthwise (groups == C > 1): a direct vectorised kernel per plane (CpuConvDepthwise.cs).
//   Everything else: im2col of one image (and group) into a workspace rented from CpuMemoryPool, then GEMM;
//     backward-data runs GEMM into a column buffer and col2im scatters it back.
// Parallelism: when the batch splits evenly over the workers, images go to threads (each GEMM single-threaded,
// no synchronisation inside an image); otherwise images run in turn and GEMM/im2col parallelise inside.
// See docs/conv.md.
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConv
{
    /// <summary>Below this many multiply-adds per image, parallel regions inside an image are not worth their dispatch.</summary>
    private const long InnerParallelMin = 1 << 18;

    /// <summary>Images go to threads when they split evenly (or there are many); else GEMM parallelises inside each image.</summary>
    internal static int ImageChunks(int n)
    {
        int t = CpuWorkers.ThreadCount;
        if (t <= 1 || n < t) return 1;
        return n % t == 0 || n >= 4 * t ? t : 1;
    }

    /// <summary>
    /// Runs body over all images; first is true for the first image a chunk handles, and each chunk rents its
    /// workspace. Returns how many images each chunk handled. With several chunks, chunks whose results are
    /// independent per image take images dynamically (a busy core gets fewer); when the chunks sum into partials
    /// (summed: a weight gradient), chunk c takes the fixed range [c n / chunks, (c + 1) n / chunks) in order, so
    /// every partial, and the sum of the partials in chunk order, is the same bits whichever thread ran it.
    /// </summary>
    internal static int[] RunImages<T>(int n, long workspaceElements, ImageBody<T> body, bool summed = false) where T : unmanaged
    {
        int chunks = ImageChunks(n);
        var counts = new int[chunks];
        if (chunks == 1)
        {
            using var ws = Workspace.Of<T>(workspaceElements);
            for (int i = 0; i < n; i++) body(0, i, i == 0, (T*)ws.Ptr);
            counts[0] = n;
            return counts;
        }
        if (summed)
        {
            CpuWorkers.For(chunks, c =>
            {
                using var ws = Workspace.Of<T>(workspaceElements);
                int start = (int)((long)c * n / chunks), end = (int)((long)(c + 1) * n / chunks);
                for (int i = start; i < end; i++) body(c, i, i == start, (T*)ws.Ptr);
                counts[c] = end - start;
            });
            return counts;
        }
        int next = -1;
        CpuWorkers.For(chunks, c =>
        {
            using var ws = Workspace.Of<T>(workspaceElements);
            int i, done = 0;
            while ((i = Interlocked.Increment(ref next)) < n) body(c, i, done++ == 0, (T*)ws.Ptr);
            counts[c] = done;
        });
        return counts;
    }

    /// <summary>C = op(A) op(B) (+ C when accumulate), row-major, through the packed SGEMM or DGEMM.</summary>
    internal static void Mm<T>(bool ta, bool tb, int m, int n, int k, T* a, int lda, T* b, int ldb, bool accumulate, T* c, int ldc) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Gemm.Sgemm(ta, tb, m, n, k, 1f, (float*)a, lda, (float*)b, ldb, accumulate ? 1f : 0f, (float*)c, ldc);
        else Gemm.Dgemm(ta, tb, m, n, k, 1.0, (double*)a, lda, (double*)b, ldb, accumulate ? 1.0 : 0.0, (double*)c, ldc);
    }

    private static bool IsF32<T>() => typeof(T) == typeof(float);

    /// <summary>conv2d forward through the variant ConvVariants chooses.</summary>
    public static void Forward<T>(T* x, T* w, T* b, T* y, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var v = ConvVariants.Choose(ConvPass.Forward, g, IsF32<T>());
        if (IsF32<T>()) v.F32((float*)x, (float*)w, (float*)b, (float*)y, g);
        else v.F64!((double*)x, (double*)w, (double*)b, (double*)y, g);
    }

    /// <summary>The image-batched GEMM forward (several images side by side in one GEMM).</summary>
    internal static void ForwardBatched<T>(T* x, T* w, T* b, T* y, in Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CpuConvBatched.Forward(x, w, b, y, g, CpuConvBatched.ImagesPerGemm(g));

    /// <summary>One GEMM per image and group: straight on the NCHW plane (pointwise) or on im2col blocks of rows.</summary>
    internal static void ForwardPerImage<T>(T* x, T* w, T* b, T* y, in Conv2dGeometry geometry, bool pointwise) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var g = geometry;
        int groups = g.Groups, cg = g.C / groups, og = g.O / groups, k = cg * g.KH * g.KW, p = g.OH * g.OW, hw = g.H * g.W;
        int rows = BlockRows(g, k);
        RunImages<T>(g.N, pointwise ? 0 : (long)k * rows * g.OW, (_, n, _, col) =>
        {
            for (int gi = 0; gi < groups; gi++)
            {
                T* xg = x + ((long)n * g.C + gi * cg) * hw;
                T* wg = w + (long)gi * og * k;
                T* yg = y + ((long)n * g.O + gi * og) * p;
                if (pointwise) { Mm(false, false, og, p, k, wg, k, xg, p, false, yg, p); continue; }
                for (int r0 = 0; r0 < g.OH; r0 += rows)
                {
                    int r1 = Math.Min(g.OH, r0 + rows), pb = (r1 - r0) * g.OW;
                    Im2col(xg, cg, g, r0, r1, col);
                    Mm(false, false, og, pb, k, wg, k, col, pb, false, yg + (long)r0 * g.OW, p);
                }
            }
            if (b != null)
                for (int o = 0; o < g.O; o++)
                {
                    var row = new Span<T>(y + ((long)n * g.O + o) * p, p);
                    TensorPrimitives.Add(row, b[o], row);
                }
        });
    }

    /// <summary>conv2d backward-data through the variant ConvVariants chooses.</summary>
    public static void BackwardData<T>(T* gy, T* w, T* gx, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var v = ConvVariants.Choose(ConvPass.BackwardData, g, IsF32<T>());
        if (IsF32<T>()) v.F32((float*)gy, (float*)w, (float*)gx, null, g);
        else v.F64!((double*)gy, (double*)w, (double*)gx, null, g);
    }

    internal static void BackwardDataBatched<T>(T* gy, T* w, T* gx, in Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CpuConvBatched.BackwardData(gy, w, gx, g, CpuConvBatched.ImagesPerGemm(g));

    internal static void BackwardDataPerImage<T>(T* gy, T* w, T* gx, in Conv2dGeometry geometry, bool pointwise) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var g = geometry;
        int groups = g.Groups, cg = g.C / groups, og = g.O / groups, k = cg * g.KH * g.KW, p = g.OH * g.OW, hw = g.H * g.W;
        int rows = BlockRows(g, k);
        RunImages<T>(g.N, pointwise ? 0 : (long)k * rows * g.OW, (_, n, _, col) =>
        {
            for (int gi = 0; gi < groups; gi++)
            {
                T* gyg = gy + ((long)n * g.O + gi * og) * p;
                T* gxg = gx + ((long)n * g.C + gi * cg) * hw;
                T* wg = w + (long)gi * og * k;
                if (pointwise) { Mm(true, false, cg, p, og, wg, k, gyg, p, false, gxg, hw); continue; }
                new Span<T>(gxg, cg * hw).Clear();
                for (int r0 = 0; r0 < g.OH; r0 += rows)
                {
                    int r1 = Math.Min(g.OH, r0 + rows), pb = (r1 - r0) * g.OW;
                    Mm(true, false, k, pb, og, wg, k, gyg + (long)r0 * g.OW, p, false, col, pb);
                    Col2im(col, cg, g, r0, r1, gxg);
                }
            }
        });
    }

    public static void BiasGrad<T>(T* gy, T* gb, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int p = g.OH * g.OW;
        CpuWorkers.ForRange(g.O, (long)g.N * g.O * p < InnerParallelMin ? g.O : 1, (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                double acc = 0;
                for (int n = 0; n < g.N; n++) acc += double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(gy + ((long)n * g.O + o) * p, p)));
                gb[o] = T.CreateTruncating(acc);
            }
        });
    }

    /// <summary>conv2d backward-filter (weight gradient) through the variant ConvVariants chooses.</summary>
    public static void BackwardFilter<T>(T* x, T* gy, T* gw, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var v = ConvVariants.Choose(ConvPass.BackwardFilter, g, IsF32<T>());
        if (IsF32<T>()) v.F32((float*)x, (float*)gy, (float*)gw, null, g);
        else v.F64!((double*)x, (double*)gy, (double*)gw, null, g);
    }

    internal static void BackwardFilterBatched<T>(T* x, T* gy, T* gw, in Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T> =>
        CpuConvBatched.BackwardFilter(x, gy, gw, g, CpuConvBatched.ImagesPerGemm(g));

    internal static void BackwardFilterPerImage<T>(T* x, T* gy, T* gw, in Conv2dGeometry geometry, bool pointwise) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var g = geometry;
        int groups = g.Groups, cg = g.C / groups, og = g.O / groups, k = cg * g.KH * g.KW, p = g.OH * g.OW, hw = g.H * g.W;
        int chunks = ImageChunks(g.N);
        long gwLen = (long)g.O * k;
        // Chunk 0 accumulates straight into gw; the others into partial sums reduced at the end.
        using var partials = Workspace.Of<T>((chunks - 1) * gwLen);
        T* part = (T*)partials.Ptr;
        int rows = BlockRows(g, k);
        var counts = RunImages<T>(g.N, pointwise ? 0 : (long)k * rows * g.OW, (c, n, first, col) =>
        {
            T* acc = c == 0 ? gw : part + (c - 1) * gwLen;
            for (int gi = 0; gi < groups; gi++)
            {
                T* xg = x + ((long)n * g.C + gi * cg) * hw;
                T* gyg = gy + ((long)n * g.O + gi * og) * p;
                T* accg = acc + (long)gi * og * k;
                if (pointwise) { Mm(false, true, og, k, p, gyg, p, xg, p, !first, accg, k); continue; }
                for (int r0 = 0; r0 < g.OH; r0 += rows)
                {
                    int r1 = Math.Min(g.OH, r0 + rows), pb = (r1 - r0) * g.OW;
                    Im2col(xg, cg, g, r0, r1, col);
                    Mm(false, true, og, k, pb, gyg + (long)r0 * g.OW, p, col, pb, !first || r0 > 0, accg, k);
                }
            }
        }, summed: true);
        SumPartials(gw, part, gwLen, counts);
    }

    /// <summary>Adds the partial weight gradients of chunks 1.. (those that handled any images) into gw (chunk 0's sum).</summary>
    internal static void SumPartials<T>(T* gw, T* part, long gwLen, int[] counts) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var dst = new Span<T>(gw, checked((int)gwLen));
        if (counts[0] == 0) dst.Clear();
        for (int c = 1; c < counts.Length; c++)
            if (counts[c] > 0) TensorPrimitives.Add(dst, new ReadOnlySpan<T>(part + (c - 1) * gwLen, (int)gwLen), dst);
    }

    /// <summary>
    /// Output rows per im2col block: the column block (K x rows*OW) stays within about 1 MiB of F32 when each GEMM is
    /// single-threaded (it is then read by GEMM's packing from L2, and C's block stays in cache), and within 16 MiB
    /// (about a whole image) when GEMM parallelises inside the image and wants wide matrices.
    /// </summary>
    internal static int BlockRows(in Conv2dGeometry g, int k)
    {
        bool gemmParallel = CpuWorkers.ThreadCount > 1 && ImageChunks(g.N) == 1;
        long over = CpuKernelOptions.Current.ConvColumnBlockBudget;
        long budget = over > 0 ? over : gemmParallel ? 1L << 22 : 1L << 18;
        long rows = budget / Math.Max(1L, (long)k * g.OW);
        return (int)Math.Clamp(rows, 1, g.OH);
    }

    /// <summary>Valid output-column range [lo, hi) for a tap whose input column is ow * s + off.</summary>
    internal static (int Lo, int Hi) ValidRange(int off, int s, int outLen, int inLen)
    {
        int lo = off >= 0 ? 0 : (-off + s - 1) / s;
        int hi = off > inLen - 1 ? 0 : Math.Min(outLen, (inLen - 1 - off) / s + 1);
        lo = Math.Min(lo, outLen);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>
    /// Output rows [r0, r1) of the column matrix: col[(c KH + kh) KW + kw, (oh - r0) OW + ow] =
    /// x[c, oh sH - pH + kh dH, ow sW - pW + kw dW] (0 outside); column rows are ld apart (0: (r1 - r0) OW),
    /// so several images can fill side-by-side column blocks of one matrix.
    /// </summary>
    internal static void Im2col<T>(T* x, int channels, in Conv2dGeometry g, int r0, int r1, T* col, long ld = 0) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var geo = g;
        int kk = g.KH * g.KW;
        long pb = ld > 0 ? ld : (long)(r1 - r0) * g.OW;
        CpuWorkers.ForRange(channels, channels * kk * (long)(r1 - r0) * g.OW < InnerParallelMin ? channels : 1, (s, e) =>
        {
            for (int c = s; c < e; c++)
                for (int kh = 0; kh < geo.KH; kh++)
                    for (int kw = 0; kw < geo.KW; kw++)
                        Im2colRow(x + (long)c * geo.H * geo.W, geo, kh, kw, r0, r1, col + ((long)c * kk + kh * geo.KW + kw) * pb);
        });
    }

    private static void Im2colRow<T>(T* xc, in Conv2dGeometry g, int kh, int kw, int r0, int r1, T* row) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int off = kw * g.DW - g.PW, sw = g.SW, ow = g.OW;
        var (lo, hi) = ValidRange(off, sw, ow, g.W);
        for (int oh = r0; oh < r1; oh++)
        {
            T* dst = row + (long)(oh - r0) * ow;
            int ih = oh * g.SH - g.PH + kh * g.DH;
            if ((uint)ih >= (uint)g.H) { new Span<T>(dst, ow).Clear(); continue; }
            T* src = xc + (long)ih * g.W + off;
            for (int j = 0; j < lo; j++) dst[j] = T.Zero;
            if (sw == 1) new ReadOnlySpan<T>(src + lo, hi - lo).CopyTo(new Span<T>(dst + lo, hi - lo));
            else if (sw == 2 && typeof(T) == typeof(float) && Avx512F.IsSupported) GatherStride2((float*)src, (float*)dst, lo, hi);
            else for (int j = lo; j < hi; j++) dst[j] = src[(long)j * sw];
            for (int j = hi; j < ow; j++) dst[j] = T.Zero;
        }
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    /// <summary>The mask of the first n of 16 float lanes (all of them when n >= 16): the tail of a masked load or store.
    /// The lane indices are a constant in the code, not a static field: the AggressiveOptimization kernels that call it
    /// are compiled before the class is initialised, so a field read would stay a load behind an init check (the 3x3
    /// conv's forward measured 8-12% slower that way).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FirstLanes(int n) =>
        Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(n)).AsSingle();

    /// <summary>dst[j] = src[2j] for j in [lo, hi): 16 at a time from two loads and one two-source permute (the stem's
    /// stride-2 im2col, which was a scalar gather); loads never reach past src[2(hi - 1)].</summary>
    internal static void GatherStride2(float* src, float* dst, int lo, int hi)
    {
        int j = lo;
        for (; 2L * j + 31 <= 2L * (hi - 1); j += 16)
            Avx512F.Store(dst + j, Avx512F.PermuteVar16x32x2(Avx512F.LoadVector512(src + 2L * j), EvenLanes, Avx512F.LoadVector512(src + 2L * j + 16)));
        for (; j < hi; j++) dst[j] = src[2L * j];
    }

    /// <summary>The transpose of Im2col for output rows [r0, r1): adds each column entry into the input cell it read.</summary>
    internal static void Col2im<T>(T* col, int channels, in Conv2dGeometry g, int r0, int r1, T* x, long ld = 0) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var geo = g;
        int kk = g.KH * g.KW;
        long pb = ld > 0 ? ld : (long)(r1 - r0) * g.OW;
        CpuWorkers.ForRange(channels, channels * kk * (long)(r1 - r0) * g.OW < InnerParallelMin ? channels : 1, (s, e) =>
        {
            for (int c = s; c < e; c++)
                for (int kh = 0; kh < geo.KH; kh++)
                    for (int kw = 0; kw < geo.KW; kw++)
                        Col2imRow(col + ((long)c * kk + kh * geo.KW + kw) * pb, geo, kh, kw, r0, r1, x + (long)c * geo.H * geo.W);
        });
    }

    private static void Col2imRow<T>(T* row, in Conv2dGeometry g, int kh, int kw, int r0, int r1, T* xc) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int off = kw * g.DW - g.PW, sw = g.SW, ow = g.OW;
        var (lo, hi) = ValidRange(off, sw, ow, g.W);
        if (hi <= lo) return;
        for (int oh = r0; oh < r1; oh++)
        {
            int ih = oh * g.SH - g.PH + kh * g.DH;
            if ((uint)ih >= (uint)g.H) continue;
            T* src = row + (long)(oh - r0) * ow;
            T* dst = xc + (long)ih * g.W + off;
            if (sw == 1)
            {
                var d = new Span<T>(dst + lo, hi - lo);
                TensorPrimitives.Add(d, new ReadOnlySpan<T>(src + lo, hi - lo), d);
            }
            else for (int j = lo; j < hi; j++) dst[(long)j * sw] += src[j];
        }
    }
}
