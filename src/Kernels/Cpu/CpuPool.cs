// CPU pooling over NCHW planes: max (with argmax indices), average and adaptive average/max, and their
// backward passes. Every variant is described as per-output-row and per-output-column index ranges
// (first input cell, count, step), so one max kernel and one average kernel serve all of them.
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void MaxPool2d(Storage x, Layout xLayout, Storage y, Storage? indices, in Pool2dGeometry g)
    {
        var dt = ConvType(C(y).DType, "max_pool2d");
        CheckShape(xLayout, "input", "max_pool2d", g.N, g.C, g.H, g.W);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        var rows = CpuPool.WindowRanges(g.H, g.OH, g.KH, g.SH, g.PH, g.DH);
        if (indices is null && dt == DType.F32 && g.DH == 1 && g.DW == 1)
        {
            CpuPool.MaxValues((float*)px, C(y).Ptr<float>(), g.N * g.C, g.H, g.W, rows, g.OW, g.KW, g.SW, g.PW);
            return;
        }
        var cols = CpuPool.WindowRanges(g.W, g.OW, g.KW, g.SW, g.PW, g.DW);
        var scratch = indices is null ? new CpuStorage(DType.I64, g.N * g.C * g.OH * g.OW) : null;
        try
        {
            long* pi = C(indices ?? scratch!).Ptr<long>();
            if (dt == DType.F32) CpuPool.Max((float*)px, C(y).Ptr<float>(), pi, g.N * g.C, g.H, g.W, rows, cols, g.DH, g.DW);
            else CpuPool.Max((double*)px, C(y).Ptr<double>(), pi, g.N * g.C, g.H, g.W, rows, cols, g.DH, g.DW);
        }
        finally { scratch?.Release(); }
    }

    public void MaxPool2dBackward(Storage gy, Layout gyLayout, Storage indices, Storage gx, int inH, int inW)
    {
        var dt = ConvType(C(gx).DType, "max_pool2d backward");
        int r = gyLayout.Rank;
        int outPlane = gyLayout.Shape[r - 1] * gyLayout.Shape[r - 2];
        int planes = outPlane == 0 ? 0 : gyLayout.Numel / outPlane;
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        long* pi = C(indices).Ptr<long>();
        if (dt == DType.F32) CpuPool.ScatterBack((float*)pg, pi, C(gx).Ptr<float>(), planes, outPlane, inH * inW);
        else CpuPool.ScatterBack((double*)pg, pi, C(gx).Ptr<double>(), planes, outPlane, inH * inW);
    }

    public void AvgPool2d(Storage x, Layout xLayout, Storage y, in Pool2dGeometry g, bool countIncludePad, int divisorOverride)
    {
        var dt = ConvType(C(y).DType, "avg_pool2d");
        CheckShape(xLayout, "input", "avg_pool2d", g.N, g.C, g.H, g.W);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        var (rows, cols) = CpuPool.AvgRanges(g, countIncludePad, divisorOverride);
        if (dt == DType.F32) CpuPool.Avg((float*)px, C(y).Ptr<float>(), g.N * g.C, g.H, g.W, rows, cols);
        else CpuPool.Avg((double*)px, C(y).Ptr<double>(), g.N * g.C, g.H, g.W, rows, cols);
    }

    public void AvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, in Pool2dGeometry g, bool countIncludePad, int divisorOverride)
    {
        var dt = ConvType(C(gx).DType, "avg_pool2d backward");
        CheckShape(gyLayout, "output gradient", "avg_pool2d backward", g.N, g.C, g.OH, g.OW);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        var (rows, cols) = CpuPool.AvgRanges(g, countIncludePad, divisorOverride);
        if (dt == DType.F32) CpuPool.AvgBackward((float*)pg, C(gx).Ptr<float>(), g.N * g.C, g.H, g.W, rows, cols);
        else CpuPool.AvgBackward((double*)pg, C(gx).Ptr<double>(), g.N * g.C, g.H, g.W, rows, cols);
    }

    public void AdaptivePool2d(bool max, Storage x, Layout xLayout, Storage y, Storage? indices, int outH, int outW)
    {
        var dt = ConvType(C(y).DType, max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d");
        if (xLayout.Rank < 2) throw new ArgumentException($"adaptive pooling needs [..., H, W], got {Layout.ShapeString(xLayout.Shape)}");
        int h = xLayout.Shape[^2], w = xLayout.Shape[^1];
        int planes = h * w == 0 ? 0 : xLayout.Numel / (h * w);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        var rows = CpuPool.AdaptiveRanges(h, outH);
        var cols = CpuPool.AdaptiveRanges(w, outW);
        if (max)
        {
            long* pi = C(indices ?? throw new ArgumentNullException(nameof(indices))).Ptr<long>();
            if (dt == DType.F32) CpuPool.Max((float*)px, C(y).Ptr<float>(), pi, planes, h, w, rows, cols, 1, 1);
            else CpuPool.Max((double*)px, C(y).Ptr<double>(), pi, planes, h, w, rows, cols, 1, 1);
        }
        else if (dt == DType.F32) CpuPool.Avg((float*)px, C(y).Ptr<float>(), planes, h, w, rows, cols);
        else CpuPool.Avg((double*)px, C(y).Ptr<double>(), planes, h, w, rows, cols);
    }

    public void AdaptiveAvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, int inH, int inW)
    {
        var dt = ConvType(C(gx).DType, "adaptive_avg_pool2d backward");
        int oh = gyLayout.Shape[^2], ow = gyLayout.Shape[^1];
        int planes = oh * ow == 0 ? 0 : gyLayout.Numel / (oh * ow);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        var rows = CpuPool.AdaptiveRanges(inH, oh);
        var cols = CpuPool.AdaptiveRanges(inW, ow);
        if (dt == DType.F32) CpuPool.AvgBackward((float*)pg, C(gx).Ptr<float>(), planes, inH, inW, rows, cols);
        else CpuPool.AvgBackward((double*)pg, C(gx).Ptr<double>(), planes, inH, inW, rows, cols);
    }
}

/// <summary>For each output index along one axis: the first input cell, how many cells (at the axis' step), and the divisor factor.</summary>
internal sealed record PoolRanges(int[] Start, int[] Count, double[] Divisor);

internal static unsafe class CpuPool
{
    /// <summary>Below this many input elements the planes run on one thread.</summary>
    private const int ParallelMin = 1 << 15;

    private static int MinChunk(int planes, long perPlane) => planes * perPlane < ParallelMin ? Math.Max(1, planes) : 1;

    /// <summary>Valid taps of dilated windows starting at o*s - p: first valid cell and count (step d).</summary>
    public static PoolRanges WindowRanges(int input, int output, int k, int s, int p, int d)
    {
        var start = new int[output];
        var count = new int[output];
        for (int o = 0; o < output; o++)
        {
            int st = o * s - p;
            int i0 = st >= 0 ? 0 : (-st + d - 1) / d;
            int i1 = input - 1 - st < 0 ? 0 : Math.Min(k, (input - 1 - st) / d + 1);
            start[o] = st + i0 * d;
            count[o] = Math.Max(0, i1 - i0);
        }
        return new PoolRanges(start, count, new double[output]);
    }

    /// <summary>Average-pool windows (no dilation) with PyTorch's divisor: the window clipped to the padded input
    /// (countIncludePad) or the real cells; divisorOverride (> 0) goes into the row factor.</summary>
    public static (PoolRanges Rows, PoolRanges Cols) AvgRanges(in Pool2dGeometry g, bool countIncludePad, int divisorOverride)
    {
        static PoolRanges Axis(int input, int output, int k, int s, int p, bool includePad, double fixedDiv)
        {
            var start = new int[output];
            var count = new int[output];
            var div = new double[output];
            for (int o = 0; o < output; o++)
            {
                int st = o * s - p;
                int end = Math.Min(st + k, input + p);
                int padded = end - st;
                int a = Math.Max(st, 0), b = Math.Min(end, input);
                start[o] = a;
                count[o] = Math.Max(0, b - a);
                div[o] = fixedDiv > 0 ? fixedDiv : includePad ? padded : count[o];
            }
            return new PoolRanges(start, count, div);
        }
        var rows = Axis(g.H, g.OH, g.KH, g.SH, g.PH, countIncludePad, divisorOverride > 0 ? divisorOverride : 0);
        var cols = Axis(g.W, g.OW, g.KW, g.SW, g.PW, countIncludePad, divisorOverride > 0 ? 1 : 0);
        return (rows, cols);
    }

    /// <summary>PyTorch's adaptive bins: [floor(i in / out), ceil((i + 1) in / out)).</summary>
    public static PoolRanges AdaptiveRanges(int input, int output)
    {
        if (output < 1) throw new ArgumentException($"adaptive pooling output size must be positive, got {output}");
        var start = new int[output];
        var count = new int[output];
        var div = new double[output];
        for (int o = 0; o < output; o++)
        {
            int a = (int)((long)o * input / output);
            int b = (int)(((long)(o + 1) * input + output - 1) / output);
            start[o] = a;
            count[o] = b - a;
            div[o] = b - a;
        }
        return new PoolRanges(start, count, div);
    }

    public static void Max<T>(T* x, T* y, long* idx, int planes, int h, int w, PoolRanges rows, PoolRanges cols, int dh, int dw)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)h * w), (s, e) =>
        {
            fixed (int* rs = rows.Start, rc = rows.Count, cs = cols.Start, cc = cols.Count)
                MaxPlanes(x, y, idx, s, e, h, w, rs, rc, rows.Start.Length, cs, cc, cols.Start.Length, dh, dw);
        });
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>
    /// Max pooling without indices (inference), F32, no dilation. Each plane is copied into rows bordered with -inf
    /// (pw cells before, enough after for the last vector of windows), so every window is kw cells from j * sw:
    /// with stride 2, 16 outputs are a max over the window's cells of stride-2 gathers (two loads and a permute each),
    /// with nothing stored in between. NaN wins.
    /// </summary>
    public static void MaxValues(float* x, float* y, int planes, int h, int w, PoolRanges rows, int ow, int kw, int sw, int pw)
    {
        int wp = Math.Max(pw + w, (ow + 15) / 16 * 16 * sw + kw + 32);
        CpuWorkers.ForRange(planes, (int)Math.Clamp(4096 / Math.Max(1L, (long)h * w), 1, planes), (s, e) =>
        {
            using var ws = Workspace.Of<float>((long)h * wp);
            float* padded = (float*)ws.Ptr;
            new Span<float>(padded, h * wp).Fill(float.NegativeInfinity);
            fixed (int* rs = rows.Start, rc = rows.Count)
                MaxValuePlanes(x, y, s, e, h, w, rs, rc, rows.Start.Length, ow, kw, sw, pw, padded, wp);
        });
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void MaxValuePlanes(float* x, float* y, int s, int e, int h, int w, int* rowStart, int* rowCount, int oh,
        int ow, int kw, int sw, int pw, float* padded, int wp)
    {
        for (int pl = s; pl < e; pl++)
        {
            float* xp = x + (long)pl * h * w, yp = y + (long)pl * oh * ow;
            for (int r = 0; r < h; r++) Buffer.MemoryCopy(xp + r * w, padded + r * wp + pw, w * sizeof(float), w * sizeof(float));
            for (int i = 0; i < oh; i++, yp += ow)
            {
                int r0 = rowStart[i], rn = rowCount[i];
                int j = 0;
                if (sw == 2 && Avx512F.IsSupported)
                    for (; j < ow; j += 16)
                    {
                        var best = Vector512.Create(float.NegativeInfinity);
                        for (int a = 0; a < rn; a++)
                        {
                            float* c = padded + (r0 + a) * wp + j * 2;
                            for (int b = 0; b < kw; b++)
                            {
                                var v = Avx512F.PermuteVar16x32x2(Vector512.Load(c + b), EvenLanes, Vector512.Load(c + b + 16));
                                best = Vector512.ConditionalSelect(Vector512.GreaterThan(v, best) | ~Vector512.Equals(v, v), v, best);
                            }
                        }
                        if (j + 16 <= ow) best.Store(yp + j);
                        else Avx512F.MaskStore(yp + j, CpuConv.FirstLanes(ow - j), best);
                    }
                for (; j < ow; j++)
                {
                    float best = float.NegativeInfinity;
                    for (int a = 0; a < rn; a++)
                    {
                        float* c = padded + (r0 + a) * wp + j * sw;
                        for (int b = 0; b < kw; b++)
                        {
                            float v = c[b];
                            best = v > best || float.IsNaN(v) ? v : best;
                        }
                    }
                    yp[j] = best;
                }
            }
        }
    }

    /// <summary>Planes [s, e) of Max with the window ranges as raw pointers (no bounds checks in the window loops).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void MaxPlanes<T>(T* x, T* y, long* idx, int s, int e, int h, int w, int* rowStart, int* rowCount, int oh,
        int* colStart, int* colCount, int ow, int dh, int dw) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        for (int pl = s; pl < e; pl++)
        {
            T* xp = x + (long)pl * h * w;
            long o = (long)pl * oh * ow;
            for (int i = 0; i < oh; i++)
            {
                int r0 = rowStart[i], rn = rowCount[i];
                for (int j = 0; j < ow; j++, o++)
                {
                    int c0 = colStart[j], cn = colCount[j];
                    T best = T.NegativeInfinity;
                    int bi = r0 * w + c0;
                    for (int a = 0, r = r0; a < rn; a++, r += dh)
                    {
                        T* xr = xp + r * w;
                        for (int b = 0, c = c0; b < cn; b++, c += dw)
                        {
                            T v = xr[c];
                            if (v > best || T.IsNaN(v)) { best = v; bi = r * w + c; } // a NaN wins, as in PyTorch
                        }
                    }
                    y[o] = best;
                    idx[o] = bi;
                }
            }
        }
    }

    public static void ScatterBack<T>(T* gy, long* idx, T* gx, int planes, int outPlane, int inPlane) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(planes, MinChunk(planes, inPlane), (s, e) =>
        {
            new Span<T>(gx + (long)s * inPlane, (e - s) * inPlane).Clear();
            for (int pl = s; pl < e; pl++)
            {
                T* gxp = gx + (long)pl * inPlane;
                long o = (long)pl * outPlane;
                for (int j = 0; j < outPlane; j++)
                {
                    long k = idx[o + j];
                    if ((ulong)k >= (ulong)inPlane) throw new IndexOutOfRangeException($"max_pool2d backward: index {k} outside a plane of {inPlane} cells");
                    gxp[k] += gy[o + j];
                }
            }
        });
    }

    public static void Avg<T>(T* x, T* y, int planes, int h, int w, PoolRanges rows, PoolRanges cols) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.Start.Length, ow = cols.Start.Length;
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)h * w), (s, e) =>
        {
            for (int pl = s; pl < e; pl++)
            {
                T* xp = x + (long)pl * h * w;
                long o = (long)pl * oh * ow;
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++, o++)
                    {
                        T acc = T.Zero;
                        for (int r = rows.Start[i], re = r + rows.Count[i]; r < re; r++)
                            acc += TensorPrimitives.Sum(new ReadOnlySpan<T>(xp + (long)r * w + cols.Start[j], cols.Count[j]));
                        y[o] = acc / T.CreateTruncating(rows.Divisor[i] * cols.Divisor[j]);
                    }
            }
        });
    }

    public static void AvgBackward<T>(T* gy, T* gx, int planes, int h, int w, PoolRanges rows, PoolRanges cols) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.Start.Length, ow = cols.Start.Length;
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)h * w), (s, e) =>
        {
            new Span<T>(gx + (long)s * h * w, (e - s) * h * w).Clear();
            for (int pl = s; pl < e; pl++)
            {
                T* gxp = gx + (long)pl * h * w;
                long o = (long)pl * oh * ow;
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++, o++)
                    {
                        T v = gy[o] / T.CreateTruncating(rows.Divisor[i] * cols.Divisor[j]);
                        for (int r = rows.Start[i], re = r + rows.Count[i]; r < re; r++)
                        {
                            var row = new Span<T>(gxp + (long)r * w + cols.Start[j], cols.Count[j]);
                            TensorPrimitives.Add(row, v, row);
                        }
                    }
            }
        });
    }
}
