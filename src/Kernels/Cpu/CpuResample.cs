// CPU resampling of the last two dims: interpolate (legacy nearest, bilinear with or without align_corners)
// and padding (constant, reflect, replicate), each with its transpose for backward. Source coordinates and
// weights are computed once per output row and column in double (PyTorch's formulas, see the oracle README).
using System.Numerics;

namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static (int Planes, int H, int W) PlaneDims(Layout l, string op)
    {
        if (l.Rank < 2) throw new ArgumentException($"{op} needs an input of shape [..., H, W], got {Layout.ShapeString(l.Shape)}");
        int h = l.Shape[^2], w = l.Shape[^1];
        return (h * w == 0 ? 0 : l.Numel / (h * w), h, w);
    }

    public void Interpolate2d(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage x, Layout xLayout, Storage y, int outH, int outW)
    {
        var dt = ConvType(C(y).DType, "interpolate");
        var (planes, h, w) = PlaneDims(xLayout, "interpolate");
        var rows = CpuResample.Axis(mode, alignCorners, scaleH, h, outH);
        var cols = CpuResample.Axis(mode, alignCorners, scaleW, w, outW);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        if (dt == DType.F32) CpuResample.Forward((float*)px, C(y).Ptr<float>(), planes, h, w, rows, cols);
        else CpuResample.Forward((double*)px, C(y).Ptr<double>(), planes, h, w, rows, cols);
    }

    public void Interpolate2dBackward(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage gy, Layout gyLayout, Storage gx, int inH, int inW)
    {
        var dt = ConvType(C(gx).DType, "interpolate backward");
        var (planes, oh, ow) = PlaneDims(gyLayout, "interpolate backward");
        var rows = CpuResample.Axis(mode, alignCorners, scaleH, inH, oh);
        var cols = CpuResample.Axis(mode, alignCorners, scaleW, inW, ow);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        if (dt == DType.F32) CpuResample.Backward((float*)pg, C(gx).Ptr<float>(), planes, inH, inW, rows, cols);
        else CpuResample.Backward((double*)pg, C(gx).Ptr<double>(), planes, inH, inW, rows, cols);
    }

    public void Pad2d(PadMode mode, Storage x, Layout xLayout, Storage y, int top, int bottom, int left, int right, double value)
    {
        var dt = ConvType(C(y).DType, "pad");
        var (planes, h, w) = PlaneDims(xLayout, "pad");
        var rows = CpuResample.PadMap(mode, h, top, bottom);
        var cols = CpuResample.PadMap(mode, w, left, right);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        if (dt == DType.F32) CpuResample.Pad((float*)px, C(y).Ptr<float>(), planes, h, w, rows, cols, (float)value);
        else CpuResample.Pad((double*)px, C(y).Ptr<double>(), planes, h, w, rows, cols, value);
    }

    public void Pad2dBackward(PadMode mode, Storage gy, Layout gyLayout, Storage gx, int top, int bottom, int left, int right)
    {
        var dt = ConvType(C(gx).DType, "pad backward");
        var (planes, oh, ow) = PlaneDims(gyLayout, "pad backward");
        int h = oh - top - bottom, w = ow - left - right;
        var rows = CpuResample.PadMap(mode, h, top, bottom);
        var cols = CpuResample.PadMap(mode, w, left, right);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        if (dt == DType.F32) CpuResample.PadBackward((float*)pg, C(gx).Ptr<float>(), planes, h, w, rows, cols);
        else CpuResample.PadBackward((double*)pg, C(gx).Ptr<double>(), planes, h, w, rows, cols);
    }
}

/// <summary>Per output index: two source cells and their weights (nearest uses I0 with weight 1).</summary>
internal sealed record ResampleAxis(int[] I0, int[] I1, double[] W0, double[] W1);

internal static unsafe class CpuResample
{
    private const long ParallelMin = 1 << 15;

    private static int MinChunk(int planes, long perPlane) => planes * perPlane < ParallelMin ? Math.Max(1, planes) : 1;

    public static ResampleAxis Axis(ResampleMode mode, bool alignCorners, double scale, int input, int output)
    {
        var i0 = new int[output]; var i1 = new int[output];
        var w0 = new double[output]; var w1 = new double[output];
        for (int o = 0; o < output; o++)
        {
            if (mode == ResampleMode.Nearest)
            {
                int s = Math.Min((int)Math.Floor(o * scale), input - 1);
                i0[o] = i1[o] = s;
                w0[o] = 1;
                continue;
            }
            double src = alignCorners ? o * scale : Math.Max(0.0, (o + 0.5) * scale - 0.5);
            int a = Math.Min((int)src, input - 1);
            int b = a < input - 1 ? a + 1 : a;
            double l = src - a;
            i0[o] = a; i1[o] = b;
            w0[o] = 1 - l; w1[o] = l;
        }
        return new ResampleAxis(i0, i1, w0, w1);
    }

    public static void Forward<T>(T* x, T* y, int planes, int h, int w, ResampleAxis rows, ResampleAxis cols) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.I0.Length, ow = cols.I0.Length;
        var cw0 = Array.ConvertAll(cols.W0, T.CreateTruncating);
        var cw1 = Array.ConvertAll(cols.W1, T.CreateTruncating);
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)oh * ow), (s, e) =>
        {
            for (int pl = s; pl < e; pl++)
            {
                T* xp = x + (long)pl * h * w;
                T* yp = y + (long)pl * oh * ow;
                for (int i = 0; i < oh; i++)
                {
                    T* r0 = xp + (long)rows.I0[i] * w, r1 = xp + (long)rows.I1[i] * w;
                    T a0 = T.CreateTruncating(rows.W0[i]), a1 = T.CreateTruncating(rows.W1[i]);
                    T* yr = yp + (long)i * ow;
                    for (int j = 0; j < ow; j++)
                    {
                        int c0 = cols.I0[j], c1 = cols.I1[j];
                        yr[j] = a0 * (cw0[j] * r0[c0] + cw1[j] * r0[c1]) + a1 * (cw0[j] * r1[c0] + cw1[j] * r1[c1]);
                    }
                }
            }
        });
    }

    public static void Backward<T>(T* gy, T* gx, int planes, int h, int w, ResampleAxis rows, ResampleAxis cols) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.I0.Length, ow = cols.I0.Length;
        var cw0 = Array.ConvertAll(cols.W0, T.CreateTruncating);
        var cw1 = Array.ConvertAll(cols.W1, T.CreateTruncating);
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)oh * ow), (s, e) =>
        {
            new Span<T>(gx + (long)s * h * w, (e - s) * h * w).Clear();
            for (int pl = s; pl < e; pl++)
            {
                T* gp = gy + (long)pl * oh * ow;
                T* xp = gx + (long)pl * h * w;
                for (int i = 0; i < oh; i++)
                {
                    T* r0 = xp + (long)rows.I0[i] * w, r1 = xp + (long)rows.I1[i] * w;
                    T a0 = T.CreateTruncating(rows.W0[i]), a1 = T.CreateTruncating(rows.W1[i]);
                    T* gr = gp + (long)i * ow;
                    for (int j = 0; j < ow; j++)
                    {
                        int c0 = cols.I0[j], c1 = cols.I1[j];
                        T g0 = a0 * gr[j], g1 = a1 * gr[j];
                        r0[c0] += g0 * cw0[j]; r0[c1] += g0 * cw1[j];
                        r1[c0] += g1 * cw0[j]; r1[c1] += g1 * cw1[j];
                    }
                }
            }
        });
    }

    /// <summary>Source index for each padded position (-1: the constant).</summary>
    public static int[] PadMap(PadMode mode, int input, int before, int after)
    {
        if (before < 0 || after < 0) throw new ArgumentException($"pad: amounts must be non-negative, got {before} and {after}");
        if (mode == PadMode.Reflect && (before >= input || after >= input))
            throw new ArgumentException($"pad: reflect padding ({before}, {after}) must be smaller than the dimension it pads ({input})");
        if (mode == PadMode.Replicate && input == 0 && before + after > 0)
            throw new ArgumentException("pad: replicate padding of an empty dimension");
        var map = new int[input + before + after];
        for (int o = 0; o < map.Length; o++)
        {
            int i = o - before;
            map[o] = mode switch
            {
                PadMode.Constant => (uint)i < (uint)input ? i : -1,
                PadMode.Replicate => Math.Clamp(i, 0, input - 1),
                _ => i < 0 ? -i : i >= input ? 2 * (input - 1) - i : i,
            };
        }
        return map;
    }

    public static void Pad<T>(T* x, T* y, int planes, int h, int w, int[] rows, int[] cols, T value) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.Length, ow = cols.Length;
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)oh * ow), (s, e) =>
        {
            for (int pl = s; pl < e; pl++)
            {
                T* xp = x + (long)pl * h * w;
                T* yp = y + (long)pl * oh * ow;
                for (int i = 0; i < oh; i++)
                {
                    T* yr = yp + (long)i * ow;
                    if (rows[i] < 0) { new Span<T>(yr, ow).Fill(value); continue; }
                    T* xr = xp + (long)rows[i] * w;
                    for (int j = 0; j < ow; j++) yr[j] = cols[j] < 0 ? value : xr[cols[j]];
                }
            }
        });
    }

    public static void PadBackward<T>(T* gy, T* gx, int planes, int h, int w, int[] rows, int[] cols) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int oh = rows.Length, ow = cols.Length;
        CpuWorkers.ForRange(planes, MinChunk(planes, (long)oh * ow), (s, e) =>
        {
            new Span<T>(gx + (long)s * h * w, (e - s) * h * w).Clear();
            for (int pl = s; pl < e; pl++)
            {
                T* gp = gy + (long)pl * oh * ow;
                T* xp = gx + (long)pl * h * w;
                for (int i = 0; i < oh; i++)
                {
                    if (rows[i] < 0) continue;
                    T* xr = xp + (long)rows[i] * w;
                    T* gr = gp + (long)i * ow;
                    for (int j = 0; j < ow; j++) if (cols[j] >= 0) xr[cols[j]] += gr[j];
                }
            }
        });
    }
}
