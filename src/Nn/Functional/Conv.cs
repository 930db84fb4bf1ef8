// 2-D convolution (torch.nn.functional.conv2d): NCHW input, OIHW weight, stride/padding/dilation pairs,
// groups (depthwise included) and padding "same"/"valid". The backward pass calls the backend's
// backward-data and backward-filter kernels; see docs/conv.md for the algorithm each shape takes.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    /// <summary>conv2d with square stride, padding and dilation.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int dilation = 1, int groups = 1) =>
        Conv2d(x, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>conv2d with padding "same" (stride 1 only; extra odd padding goes right/bottom like PyTorch) or "valid" (none).</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, string padding, (int H, int W)? stride = null, (int H, int W)? dilation = null, int groups = 1)
    {
        var s = stride ?? (1, 1);
        var d = dilation ?? (1, 1);
        switch (padding)
        {
            case "valid": return Conv2d(x, weight, bias, s, (0, 0), d, groups);
            case "same":
                if (s != (1, 1)) throw new ArgumentException($"conv2d: padding='same' is not supported for strided convolutions (stride {s})");
                if (weight.Rank != 4) throw new ArgumentException($"conv2d: weight must be [out, in/groups, kH, kW], got {Layout.ShapeString(weight.ShapeRef)}");
                int th = d.H * (weight.ShapeRef[2] - 1), tw = d.W * (weight.ShapeRef[3] - 1);
                int lh = th / 2, lw = tw / 2;
                if (th % 2 == 0 && tw % 2 == 0) return Conv2d(x, weight, bias, s, (lh, lw), d, groups);
                using (var padded = Pad(x, [0, tw - 2 * lw, 0, th - 2 * lh]))
                    return Conv2d(padded, weight, bias, s, (lh, lw), d, groups);
            default: throw new ArgumentException($"conv2d: padding must be 'same', 'valid' or integers, got '{padding}'");
        }
    }

    /// <summary>
    /// y[n, o] = b[o] + sum over the input channels of group(o) of x[n, c] cross-correlated with w[o, c]; x is [N, C, H, W]
    /// (or unbatched [C, H, W]), weight [O, C/groups, kH, kW], bias [O].
    /// </summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
    {
        if (x.Rank == 3)
        {
            using var xb = x.Unsqueeze(0);
            using var yb = Conv2d(xb, weight, bias, stride, padding, dilation, groups);
            return yb.Squeeze(0);
        }
        if (Amp.Autocast.IsActive && x.DType == DType.F32 && weight.DType == DType.F32)
        {
            // F16 inputs and output (emulated by binary16 rounding on the CPU), as torch.autocast does for conv.
            using var x16 = Amp.Autocast.CastOperand(x);
            using var w16 = Amp.Autocast.CastOperand(weight);
            using (new Amp.Autocast(false).Suspend())
            {
                using var r = Conv2d(x16, w16, bias, stride, padding, dilation, groups);
                return Amp.Autocast.CastOperand(r);
            }
        }
        string Shapes() => $"input {Layout.ShapeString(x.ShapeRef)}, weight {Layout.ShapeString(weight.ShapeRef)}" + (bias is null ? "" : $", bias {Layout.ShapeString(bias.ShapeRef)}");
        if (x.Rank != 4) throw new ArgumentException($"conv2d: input must be [N, C, H, W] or [C, H, W] ({Shapes()})");
        if (weight.Rank != 4) throw new ArgumentException($"conv2d: weight must be [out, in/groups, kH, kW] ({Shapes()})");
        if (groups < 1) throw new ArgumentException($"conv2d: groups must be positive, got {groups}");
        var xs = x.ShapeRef; var wsh = weight.ShapeRef;
        if (xs[1] != wsh[1] * groups)
            throw new ArgumentException($"conv2d: input has {xs[1]} channels but weight expects {wsh[1]} per group x {groups} groups = {wsh[1] * groups} ({Shapes()})");
        if (wsh[0] % groups != 0)
            throw new ArgumentException($"conv2d: {wsh[0]} output channels are not divisible by groups {groups} ({Shapes()})");
        if (bias is not null && (bias.Rank != 1 || bias.ShapeRef[0] != wsh[0]))
            throw new ArgumentException($"conv2d: bias must be [{wsh[0]}] ({Shapes()})");
        if (stride.H < 1 || stride.W < 1 || dilation.H < 1 || dilation.W < 1 || padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"conv2d: stride {stride} and dilation {dilation} must be positive, padding {padding} non-negative");
        var g = new Conv2dGeometry(xs[0], xs[1], xs[2], xs[3], wsh[0], wsh[2], wsh[3], stride.H, stride.W, padding.H, padding.W, dilation.H, dilation.W, groups);
        if (g.OH < 1 || g.OW < 1)
            throw new ArgumentException($"conv2d: kernel {wsh[2]}x{wsh[3]} with dilation {dilation} is larger than the padded input {xs[2] + 2 * padding.H}x{xs[3] + 2 * padding.W} ({Shapes()})");
        if (weight.DType != x.DType || (bias is not null && bias.DType != x.DType))
            throw new ArgumentException($"conv2d: input {x.DType}, weight {weight.DType}{(bias is null ? "" : $" and bias {bias.DType}")} must share one dtype");
        if (x.Device != weight.Device || (bias is not null && bias.Device != x.Device))
            throw new ArgumentException($"conv2d: input, weight and bias must be on one device ({x.Device}, {weight.Device})");
        if (x.DType is DType.F16 or DType.BF16)
        {
            // Half types compute in F32 (the casts carry the gradient).
            using var xf = x.To(DType.F32);
            using var wf = weight.To(DType.F32);
            using var bf = bias?.To(DType.F32);
            using var yf = Conv2d(xf, wf, bf, stride, padding, dilation, groups);
            return yf.To(x.DType);
        }
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"conv2d: input must be floating point, got {x.DType}");

        var y = Tensor.Empty([g.N, g.O, g.OH, g.OW], x.DType, x.Device);
        x.Backend.Conv2d(x.Storage, x.Layout, weight.Storage, weight.Layout, bias?.Storage, bias?.Layout, y.Storage, g);
        Tensor[] inputs = bias is null ? [x, weight] : [x, weight, bias];
        if (AutogradMode.ShouldRecord(inputs))
        {
            bool needX = x.RequiresGrad, needW = weight.RequiresGrad, needB = bias?.RequiresGrad ?? false;
            // Save only what the requested gradients read: w for grad input, x for grad weight.
            var xSaved = needW ? x.Alias() : null;
            var wSaved = needX ? weight.Alias() : null;
            var xShape = x.ShapeRef; var wShape = weight.ShapeRef;
            var saved = new List<Tensor>();
            if (xSaved is not null) saved.Add(xSaved);
            if (wSaved is not null) saved.Add(wSaved);
            AutogradMode.Record(y, "conv2d", inputs, gy =>
            {
                Tensor? gx = null, gw = null, gb = null;
                if (needX)
                {
                    gx = Tensor.Empty(xShape, gy.DType, gy.Device);
                    gy.Backend.Conv2dBackwardData(gy.Storage, gy.Layout, wSaved!.Storage, wSaved.Layout, gx.Storage, g);
                }
                if (needW || needB)
                {
                    gw = needW ? Tensor.Empty(wShape, gy.DType, gy.Device) : null;
                    gb = needB ? Tensor.Empty([g.O], gy.DType, gy.Device) : null;
                    var xsv = xSaved ?? gy; // x is only read when gw is wanted
                    gy.Backend.Conv2dBackwardFilter(xsv.Storage, needW ? xsv.Layout : Layout.Contiguous([g.N, g.C, g.H, g.W]), gy.Storage, gy.Layout, gw?.Storage, gb?.Storage, g);
                }
                return inputs.Length == 2 ? [gx, gw] : [gx, gw, gb];
            }, [.. saved]);
        }
        return y;
    }
}
