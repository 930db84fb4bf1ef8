// ILGPU backend: convolution (direct kernels), pooling, batch norm, resampling and padding. Window, resampling and
// padding geometry is computed on the host by the CPU backend's own table builders and uploaded, so the two
// backends cannot disagree about PyTorch's edge rules; only the arithmetic runs on the device.
using Cuda.Nn.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    private static DType ConvType(DType dt, string op) =>
        dt is DType.F32 or DType.F64 ? dt : throw new NotSupportedException($"ilgpu backend: {op} computes in F32 or F64, got {dt} (cast first)");

    private static void CheckShape(Layout l, string what, string op, params int[] expected) => BackendChecks.Shape(l, what, op, expected);

    private static void CheckGeometry(in Conv2dGeometry g, string op) => BackendChecks.Geometry(g, op);

    private static ConvArgs Args(in Conv2dGeometry g, DType dt) => new()
    {
        N = g.N, C = g.C, H = g.H, W = g.W, O = g.O, KH = g.KH, KW = g.KW, SH = g.SH, SW = g.SW, PH = g.PH, PW = g.PW,
        DH = g.DH, DW = g.DW, Groups = g.Groups, OH = g.OH, OW = g.OW, Dt = (int)dt,
    };

    /// <summary>The view as contiguous elements of dtype (converted when it differs). Call under the lock.</summary>
    private IlgpuStorage DenseAs(Storage s, Layout l, DType dt, out long offset)
    {
        var d = S(s);
        if (d.DType == dt) return Dense(d, l, out offset);
        offset = 0;
        return Converted(d, l, dt);
    }

    /// <summary>Uploads host tables (concatenated) for one launch. Call under the lock.</summary>
    private unsafe IlgpuStorage Table<T>(DType dt, params T[][] parts) where T : unmanaged
    {
        var all = parts.SelectMany(p => p).ToArray();
        var s = new IlgpuStorage(this, dt, all.Length);
        if (all.Length > 0)
            fixed (T* p = all)
            {
                s.Bytes.SubView(0, s.ByteLength).CopyFromCPU(Stream, ref *(byte*)p, s.ByteLength);
                Stream.Synchronize();
            }
        return s;
    }

    private static (int N, int C, int Inner) ChannelDims(Layout l, string op)
    {
        if (l.Rank < 2) throw new ArgumentException($"{op} needs an input of shape [N, C, ...], got {Layout.ShapeString(l.Shape)}");
        int inner = 1;
        for (int i = 2; i < l.Rank; i++) inner *= l.Shape[i];
        return (l.Shape[0], l.Shape[1], inner);
    }

    private static (int Planes, int H, int W) PlaneDims(Layout l, string op)
    {
        if (l.Rank < 2) throw new ArgumentException($"{op} needs an input of shape [..., H, W], got {Layout.ShapeString(l.Shape)}");
        int h = l.Shape[^2], w = l.Shape[^1];
        return (h * w == 0 ? 0 : l.Numel / (h * w), h, w);
    }

    private void Zero(IlgpuStorage s) => s.Bytes.MemSetToZero(Stream);

    public void Conv2d(Storage x, Layout xLayout, Storage w, Layout wLayout, Storage? bias, Layout? biasLayout, Storage y, in Conv2dGeometry g)
    {
        var d = S(y);
        var dt = ConvType(d.DType, "conv2d");
        CheckGeometry(g, "conv2d");
        CheckShape(xLayout, "input", "conv2d", g.N, g.C, g.H, g.W);
        CheckShape(wLayout, "weight", "conv2d", g.O, g.C / g.Groups, g.KH, g.KW);
        if (bias is not null) CheckShape(biasLayout!, "bias", "conv2d", g.O);
        int n = g.N * g.O * g.OH * g.OW;
        if (n == 0) return;
        var a = Args(g, dt);
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            var ws = DenseAs(w, wLayout, dt, out long wo);
            long bo = 0;
            var bs = bias is null ? null : DenseAs(bias, biasLayout!, dt, out bo);
            try { K.Conv2d(Stream, n, xs.Bytes, xo, ws.Bytes, wo, (bs ?? ws).Bytes, bo, bs is null ? 0 : 1, d.Bytes, a); }
            finally { xs.Release(); ws.Release(); bs?.Release(); }
        }
    }

    public void Conv2dBackwardData(Storage gy, Layout gyLayout, Storage w, Layout wLayout, Storage gx, in Conv2dGeometry g)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "conv2d backward");
        CheckGeometry(g, "conv2d backward");
        CheckShape(gyLayout, "output gradient", "conv2d backward", g.N, g.O, g.OH, g.OW);
        CheckShape(wLayout, "weight", "conv2d backward", g.O, g.C / g.Groups, g.KH, g.KW);
        int n = g.N * g.C * g.H * g.W;
        if (n == 0) return;
        var a = Args(g, dt);
        lock (_gate)
        {
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            var ws = DenseAs(w, wLayout, dt, out long wo);
            try { K.Conv2dBackwardData(Stream, n, gs.Bytes, go, ws.Bytes, wo, d.Bytes, a); }
            finally { gs.Release(); ws.Release(); }
        }
    }

    public void Conv2dBackwardFilter(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage? gw, Storage? gbias, in Conv2dGeometry g)
    {
        var dt = ConvType((gw ?? gbias)?.DType ?? gy.DType, "conv2d backward");
        CheckGeometry(g, "conv2d backward");
        CheckShape(xLayout, "input", "conv2d backward", g.N, g.C, g.H, g.W);
        CheckShape(gyLayout, "output gradient", "conv2d backward", g.N, g.O, g.OH, g.OW);
        var a = Args(g, dt);
        lock (_gate)
        {
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            try
            {
                if (gbias is not null && g.O > 0) K.Conv2dBiasGrad(Stream, g.O, gs.Bytes, go, S(gbias).Bytes, a);
                int n = g.O * (g.C / g.Groups) * g.KH * g.KW;
                if (gw is null || n == 0) return;
                var xs = DenseAs(x, xLayout, dt, out long xo);
                try { K.Conv2dBackwardFilter(Stream, n, xs.Bytes, xo, gs.Bytes, go, S(gw).Bytes, a); }
                finally { xs.Release(); }
            }
            finally { gs.Release(); }
        }
    }

    private static PlaneArgs Plane(int h, int w, int oh, int ow, int dh, int dw, DType dt) => new() { H = h, W = w, OH = oh, OW = ow, DH = dh, DW = dw, Dt = (int)dt };

    /// <summary>Max over windows given by row/column ranges (max pooling and adaptive max pooling).</summary>
    private void MaxWindows(Storage x, Layout xLayout, IlgpuStorage y, Storage indices, int planes, PoolRanges rows, PoolRanges cols, PlaneArgs p)
    {
        int n = planes * p.OH * p.OW;
        if (n == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, (DType)p.Dt, out long xo);
            var tab = Table(DType.I32, rows.Start, rows.Count, cols.Start, cols.Count);
            try { K.MaxPool(Stream, n, xs.Bytes, xo, y.Bytes, S(indices).Bytes.Cast<long>(), tab.Bytes.Cast<int>(), p); }
            finally { xs.Release(); tab.Release(); }
        }
    }

    private void AvgWindows(Storage x, Layout xLayout, IlgpuStorage y, int planes, PoolRanges rows, PoolRanges cols, PlaneArgs p)
    {
        int n = planes * p.OH * p.OW;
        if (n == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, (DType)p.Dt, out long xo);
            var tab = Table(DType.I32, rows.Start, rows.Count, cols.Start, cols.Count);
            var div = Table(DType.F64, rows.Divisor, cols.Divisor);
            try { K.AvgPool(Stream, n, xs.Bytes, xo, y.Bytes, tab.Bytes.Cast<int>(), div.Bytes.Cast<double>(), p); }
            finally { xs.Release(); tab.Release(); div.Release(); }
        }
    }

    private void AvgWindowsBackward(Storage gy, Layout gyLayout, IlgpuStorage gx, int planes, PoolRanges rows, PoolRanges cols, PlaneArgs p)
    {
        lock (_gate)
        {
            Zero(gx);
            int n = planes * p.OH * p.OW;
            if (n == 0) return;
            var gs = DenseAs(gy, gyLayout, (DType)p.Dt, out long go);
            var tab = Table(DType.I32, rows.Start, rows.Count, cols.Start, cols.Count);
            var div = Table(DType.F64, rows.Divisor, cols.Divisor);
            try { K.AvgPoolBackward(Stream, n, gs.Bytes, go, gx.Bytes, tab.Bytes.Cast<int>(), div.Bytes.Cast<double>(), p); }
            finally { gs.Release(); tab.Release(); div.Release(); }
        }
    }

    public void MaxPool2d(Storage x, Layout xLayout, Storage y, Storage? indices, in Pool2dGeometry g)
    {
        var d = S(y);
        var dt = ConvType(d.DType, "max_pool2d");
        CheckShape(xLayout, "input", "max_pool2d", g.N, g.C, g.H, g.W);
        var rows = CpuPool.WindowRanges(g.H, g.OH, g.KH, g.SH, g.PH, g.DH);
        var cols = CpuPool.WindowRanges(g.W, g.OW, g.KW, g.SW, g.PW, g.DW);
        // Values only: the kernel writes its argmax somewhere, so give it a scratch buffer.
        var scratch = indices is null ? Allocate(DType.I64, g.N * g.C * g.OH * g.OW) : null;
        try { MaxWindows(x, xLayout, d, indices ?? scratch!, g.N * g.C, rows, cols, Plane(g.H, g.W, g.OH, g.OW, g.DH, g.DW, dt)); }
        finally { scratch?.Release(); }
    }

    public void MaxPool2dBackward(Storage gy, Layout gyLayout, Storage indices, Storage gx, int inH, int inW)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "max_pool2d backward");
        int r = gyLayout.Rank;
        int outPlane = gyLayout.Shape[r - 1] * gyLayout.Shape[r - 2];
        lock (_gate)
        {
            Zero(d);
            int n = gyLayout.Numel;
            if (n == 0 || outPlane == 0) return;
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            try { K.MaxPoolBackward(Stream, n, gs.Bytes, go, S(indices).Bytes.Cast<long>(), d.Bytes, (int)dt, outPlane, inH * inW); }
            finally { gs.Release(); }
        }
    }

    public void AvgPool2d(Storage x, Layout xLayout, Storage y, in Pool2dGeometry g, bool countIncludePad, int divisorOverride)
    {
        var d = S(y);
        var dt = ConvType(d.DType, "avg_pool2d");
        CheckShape(xLayout, "input", "avg_pool2d", g.N, g.C, g.H, g.W);
        var (rows, cols) = CpuPool.AvgRanges(g, countIncludePad, divisorOverride);
        AvgWindows(x, xLayout, d, g.N * g.C, rows, cols, Plane(g.H, g.W, g.OH, g.OW, 1, 1, dt));
    }

    public void AvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, in Pool2dGeometry g, bool countIncludePad, int divisorOverride)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "avg_pool2d backward");
        CheckShape(gyLayout, "output gradient", "avg_pool2d backward", g.N, g.C, g.OH, g.OW);
        var (rows, cols) = CpuPool.AvgRanges(g, countIncludePad, divisorOverride);
        AvgWindowsBackward(gy, gyLayout, d, g.N * g.C, rows, cols, Plane(g.H, g.W, g.OH, g.OW, 1, 1, dt));
    }

    public void AdaptivePool2d(bool max, Storage x, Layout xLayout, Storage y, Storage? indices, int outH, int outW)
    {
        var d = S(y);
        var dt = ConvType(d.DType, max ? "adaptive_max_pool2d" : "adaptive_avg_pool2d");
        var (planes, h, w) = PlaneDims(xLayout, "adaptive pooling");
        var rows = CpuPool.AdaptiveRanges(h, outH);
        var cols = CpuPool.AdaptiveRanges(w, outW);
        var p = Plane(h, w, outH, outW, 1, 1, dt);
        if (max) MaxWindows(x, xLayout, d, indices ?? throw new ArgumentNullException(nameof(indices)), planes, rows, cols, p);
        else AvgWindows(x, xLayout, d, planes, rows, cols, p);
    }

    public void AdaptiveAvgPool2dBackward(Storage gy, Layout gyLayout, Storage gx, int inH, int inW)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "adaptive_avg_pool2d backward");
        var (planes, oh, ow) = PlaneDims(gyLayout, "adaptive_avg_pool2d backward");
        AvgWindowsBackward(gy, gyLayout, d, planes, CpuPool.AdaptiveRanges(inH, oh), CpuPool.AdaptiveRanges(inW, ow), Plane(inH, inW, oh, ow, 1, 1, dt));
    }

    public void ChannelStats(Storage x, Layout xLayout, Storage mean, Storage var)
    {
        var dt = ConvType(mean.DType, "batch_norm statistics");
        var (n, c, inner) = ChannelDims(xLayout, "batch_norm");
        if (c == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            try { K.ChannelStats(Stream, c, xs.Bytes, xo, n, c, inner, (int)dt, S(mean).Bytes, S(var).Bytes); }
            finally { xs.Release(); }
        }
    }

    public void ChannelAffine(Storage x, Layout xLayout, Storage scale, Storage shift, Storage y)
    {
        var dt = ConvType(y.DType, "channel affine");
        var (_, c, inner) = ChannelDims(xLayout, "channel affine");
        int count = xLayout.Numel;
        if (count == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            try { K.ChannelAffine(Stream, count, xs.Bytes, xo, c, inner, (int)dt, S(scale).Bytes, S(shift).Bytes, S(y).Bytes); }
            finally { xs.Release(); }
        }
    }

    public void BatchNormBackward(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage mean, Storage invstd, Storage? gamma, bool training,
        Storage? gx, Storage? ggamma, Storage? gbeta)
    {
        var dt = ConvType(mean.DType, "batch_norm backward");
        var (n, c, inner) = ChannelDims(xLayout, "batch_norm backward");
        if (c == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            var sums = new IlgpuStorage(this, DType.F64, 2 * c);
            try
            {
                var a = new ChannelArgs { N = n, C = c, Inner = inner, Dt = (int)dt, XOff = xo, GOff = go };
                var m = S(mean);
                int want = (ggamma is null ? 0 : 1) | (gbeta is null ? 0 : 2);
                K.BatchNormSums(Stream, c, xs.Bytes, gs.Bytes, a, m.Bytes, S(invstd).Bytes, sums.Bytes.Cast<double>(), (ggamma is null ? m : S(ggamma)).Bytes, (gbeta is null ? m : S(gbeta)).Bytes, want);
                if (gx is not null && xLayout.Numel > 0)
                    K.BatchNormGradInput(Stream, xLayout.Numel, xs.Bytes, gs.Bytes, a, m.Bytes, S(invstd).Bytes, (gamma is null ? m : S(gamma)).Bytes, gamma is null ? 0 : 1,
                        training ? 1 : 0, sums.Bytes.Cast<double>(), S(gx).Bytes);
            }
            finally { xs.Release(); gs.Release(); sums.Release(); }
        }
    }

    public void Interpolate2d(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage x, Layout xLayout, Storage y, int outH, int outW)
    {
        var d = S(y);
        var dt = ConvType(d.DType, "interpolate");
        var (planes, h, w) = PlaneDims(xLayout, "interpolate");
        var rows = CpuResample.Axis(mode, alignCorners, scaleH, h, outH);
        var cols = CpuResample.Axis(mode, alignCorners, scaleW, w, outW);
        int n = planes * outH * outW;
        if (n == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            var tab = Table(DType.I32, rows.I0, rows.I1, cols.I0, cols.I1);
            var wt = Table(DType.F64, rows.W0, rows.W1, cols.W0, cols.W1);
            try { K.Resample(Stream, n, xs.Bytes, xo, d.Bytes, tab.Bytes.Cast<int>(), wt.Bytes.Cast<double>(), Plane(h, w, outH, outW, 1, 1, dt)); }
            finally { xs.Release(); tab.Release(); wt.Release(); }
        }
    }

    public void Interpolate2dBackward(ResampleMode mode, bool alignCorners, double scaleH, double scaleW, Storage gy, Layout gyLayout, Storage gx, int inH, int inW)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "interpolate backward");
        var (planes, oh, ow) = PlaneDims(gyLayout, "interpolate backward");
        var rows = CpuResample.Axis(mode, alignCorners, scaleH, inH, oh);
        var cols = CpuResample.Axis(mode, alignCorners, scaleW, inW, ow);
        lock (_gate)
        {
            Zero(d);
            int n = planes * oh * ow;
            if (n == 0) return;
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            var tab = Table(DType.I32, rows.I0, rows.I1, cols.I0, cols.I1);
            var wt = Table(DType.F64, rows.W0, rows.W1, cols.W0, cols.W1);
            try { K.ResampleBackward(Stream, n, gs.Bytes, go, d.Bytes, tab.Bytes.Cast<int>(), wt.Bytes.Cast<double>(), Plane(inH, inW, oh, ow, 1, 1, dt)); }
            finally { gs.Release(); tab.Release(); wt.Release(); }
        }
    }

    public void Pad2d(PadMode mode, Storage x, Layout xLayout, Storage y, int top, int bottom, int left, int right, double value)
    {
        var d = S(y);
        var dt = ConvType(d.DType, "pad");
        var (planes, h, w) = PlaneDims(xLayout, "pad");
        var rows = CpuResample.PadMap(mode, h, top, bottom);
        var cols = CpuResample.PadMap(mode, w, left, right);
        int n = planes * rows.Length * cols.Length;
        if (n == 0) return;
        lock (_gate)
        {
            var xs = DenseAs(x, xLayout, dt, out long xo);
            var map = Table(DType.I32, rows, cols);
            try { K.Pad(Stream, n, xs.Bytes, xo, d.Bytes, map.Bytes.Cast<int>(), Plane(h, w, rows.Length, cols.Length, 1, 1, dt), value); }
            finally { xs.Release(); map.Release(); }
        }
    }

    public void Pad2dBackward(PadMode mode, Storage gy, Layout gyLayout, Storage gx, int top, int bottom, int left, int right)
    {
        var d = S(gx);
        var dt = ConvType(d.DType, "pad backward");
        var (planes, oh, ow) = PlaneDims(gyLayout, "pad backward");
        int h = oh - top - bottom, w = ow - left - right;
        var rows = CpuResample.PadMap(mode, h, top, bottom);
        var cols = CpuResample.PadMap(mode, w, left, right);
        lock (_gate)
        {
            Zero(d);
            int n = planes * oh * ow;
            if (n == 0) return;
            var gs = DenseAs(gy, gyLayout, dt, out long go);
            var map = Table(DType.I32, rows, cols);
            try { K.PadBackward(Stream, n, gs.Bytes, go, d.Bytes, map.Bytes.Cast<int>(), Plane(h, w, oh, ow, 1, 1, dt)); }
            finally { gs.Release(); map.Release(); }
        }
    }

    // No frozen (inference) conv variants here yet: the inference plan runs the eager ops on this device.
    public bool FrozenConv2dReadsBlocked(int groups, int strideH, int strideW, int padH, int padW) => false;

    public string? ChooseFrozenConv2d(in Conv2dGeometry g, DType dtype, bool blockedInput) => null;

    private NotSupportedException NoFrozenOps(string op) => new($"{op}: the {Name} backend has no frozen conv variants or channel-blocked layout (ChooseFrozenConv2d answers null)");

    public IFrozenConv2d PrepareFrozenConv2d(string variant, Storage w, Layout wLayout, Storage bias, Layout biasLayout, in Conv2dGeometry g, bool blockedInput) =>
        throw NoFrozenOps("frozen conv2d");

    public void FrozenConv2d(IFrozenConv2d conv, Storage x, Layout xLayout, Storage? residual, Layout? residualLayout, Storage y, Layout yLayout, FusedActivation act) =>
        throw NoFrozenOps("frozen conv2d");

    public void ToChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout) => throw NoFrozenOps("to channel-blocked");

    public void FromChannelBlocked(Storage x, Layout xLayout, int channels, Storage y, Layout yLayout) => throw NoFrozenOps("from channel-blocked");

    public void MaxPool2dChannelBlocked(Storage x, Layout xLayout, Storage y, Layout yLayout, in Pool2dGeometry g) => throw NoFrozenOps("blocked max pool");
}
