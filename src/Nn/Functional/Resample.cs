// Spatial resampling (torch.nn.functional): interpolate (legacy nearest; bilinear with align_corners true or
// false; by size or by scale_factor with recompute_scale_factor=False), pad (constant, reflect, replicate)
// and dropout2d (whole channels), each differentiable.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Functional;

public static partial class F
{
    /// <summary>
    /// Resizes the spatial dims of x [N, C, H, W] to size, or to floor(in * scaleFactor) (the source coordinate then uses
    /// 1 / scaleFactor, PyTorch's recompute_scale_factor=False). mode is "nearest" (legacy) or "bilinear";
    /// alignCorners applies to bilinear only (default false).
    /// </summary>
    public static Tensor Interpolate(Tensor x, (int H, int W)? size = null, (double H, double W)? scaleFactor = null, string mode = "nearest", bool? alignCorners = null)
    {
        var m = mode switch
        {
            "nearest" => ResampleMode.Nearest,
            "bilinear" => ResampleMode.Bilinear,
            _ => throw new ArgumentException($"interpolate: mode must be 'nearest' or 'bilinear', got '{mode}'"),
        };
        if (m == ResampleMode.Nearest && alignCorners is not null)
            throw new ArgumentException("interpolate: align_corners only applies to bilinear (leave it null for nearest)");
        if (x.Rank != 4) throw new ArgumentException($"interpolate: input must be [N, C, H, W], got {Layout.ShapeString(x.ShapeRef)}");
        if ((size is null) == (scaleFactor is null)) throw new ArgumentException("interpolate: give exactly one of size and scaleFactor");
        int h = x.ShapeRef[2], w = x.ShapeRef[3];
        int oh, ow;
        if (size is { } sz) (oh, ow) = sz;
        else
        {
            var sf = scaleFactor!.Value;
            if (!(sf.H > 0) || !(sf.W > 0)) throw new ArgumentException($"interpolate: scale factors {sf} must be positive");
            (oh, ow) = ((int)Math.Floor(h * sf.H), (int)Math.Floor(w * sf.W));
        }
        if (oh < 1 || ow < 1) throw new ArgumentException($"interpolate: output size {oh}x{ow} for input {Layout.ShapeString(x.ShapeRef)} must be positive");
        if (h < 1 || w < 1) throw new ArgumentException($"interpolate: input {Layout.ShapeString(x.ShapeRef)} has an empty spatial dim");
        bool ac = alignCorners ?? false;
        double Scale(int input, int output, double? factor) =>
            m == ResampleMode.Bilinear && ac ? (output > 1 ? (input - 1.0) / (output - 1) : 0.0)
            : factor is { } f ? 1.0 / f : (double)input / output;
        double scH = Scale(h, oh, scaleFactor?.H), scW = Scale(w, ow, scaleFactor?.W);
        if (x.DType is DType.F16 or DType.BF16)
        {
            using var xf = x.To(DType.F32);
            using var yf = Interpolate(xf, (oh, ow), null, mode, alignCorners);
            return yf.To(x.DType);
        }
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"interpolate: input must be floating point, got {x.DType}");
        var y = Tensor.Empty([x.ShapeRef[0], x.ShapeRef[1], oh, ow], x.DType, x.Device);
        x.Backend.Interpolate2d(m, ac, scH, scW, x.Storage, x.Layout, y.Storage, oh, ow);
        if (AutogradMode.ShouldRecord(x))
        {
            var shape = x.ShapeRef;
            AutogradMode.Record(y, "interpolate", [x], gy =>
            {
                var gx = Tensor.Empty(shape, gy.DType, gy.Device);
                gy.Backend.Interpolate2dBackward(m, ac, scH, scW, gy.Storage, gy.Layout, gx.Storage, h, w);
                return [gx];
            });
        }
        return y;
    }

    /// <summary>
    /// Pads the last dim (pad = [left, right]) or the last two dims (pad = [left, right, top, bottom]), PyTorch's order.
    /// mode "constant" (with value), "reflect" (mirror without repeating the edge; each pad smaller than its dim) or "replicate".
    /// </summary>
    public static Tensor Pad(Tensor x, int[] pad, string mode = "constant", double value = 0)
    {
        var pm = mode switch
        {
            "constant" => PadMode.Constant,
            "reflect" => PadMode.Reflect,
            "replicate" => PadMode.Replicate,
            _ => throw new ArgumentException($"pad: mode must be 'constant', 'reflect' or 'replicate', got '{mode}'"),
        };
        if (pad.Length is not (2 or 4)) throw new ArgumentException($"pad: give 2 or 4 amounts ([left, right] or [left, right, top, bottom]), got {pad.Length}");
        if (x.Rank < pad.Length / 2) throw new ArgumentException($"pad: {pad.Length} amounts need an input of rank at least {pad.Length / 2}, got {Layout.ShapeString(x.ShapeRef)}");
        foreach (var p in pad) if (p < 0) throw new ArgumentException($"pad: negative amounts (cropping) are not supported, got [{string.Join(", ", pad)}]");
        if (pad.Length == 2)
        {
            using var x2 = x.Unsqueeze(-2);
            using var y2 = Pad(x2, [pad[0], pad[1], 0, 0], mode, value);
            return y2.Squeeze(-2);
        }
        int left = pad[0], right = pad[1], top = pad[2], bottom = pad[3];
        int h = x.ShapeRef[^2], w = x.ShapeRef[^1];
        if (pm == PadMode.Reflect && (left >= w || right >= w || top >= h || bottom >= h))
            throw new ArgumentException($"pad: reflect padding [{string.Join(", ", pad)}] must be smaller than the padded dims of input {Layout.ShapeString(x.ShapeRef)}");
        if (x.DType is DType.F16 or DType.BF16)
        {
            using var xf = x.To(DType.F32);
            using var yf = Pad(xf, pad, mode, value);
            return yf.To(x.DType);
        }
        if (!x.DType.IsFloatingPoint()) throw new ArgumentException($"pad: input must be floating point, got {x.DType}");
        var shape = x.ShapeRef;
        var outShape = (int[])shape.Clone();
        outShape[^2] = h + top + bottom;
        outShape[^1] = w + left + right;
        var y = Tensor.Empty(outShape, x.DType, x.Device);
        x.Backend.Pad2d(pm, x.Storage, x.Layout, y.Storage, top, bottom, left, right, value);
        if (AutogradMode.ShouldRecord(x))
            AutogradMode.Record(y, "pad", [x], gy =>
            {
                var gx = Tensor.Empty(shape, gy.DType, gy.Device);
                gy.Backend.Pad2dBackward(pm, gy.Storage, gy.Layout, gx.Storage, top, bottom, left, right);
                return [gx];
            });
        return y;
    }

    /// <summary>
    /// Channel dropout: zeroes whole channels of x [N, C, H, W] (or [C, H, W]) with probability p and scales the kept
    /// ones by 1 / (1 - p); identity when not training. The mask comes from the generator.
    /// </summary>
    public static Tensor Dropout2d(Tensor x, double p = 0.5, bool training = true, Generator? generator = null)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout2d probability must be in [0, 1], got {p}");
        if (x.Rank is not (3 or 4)) throw new ArgumentException($"dropout2d: input must be [N, C, H, W] or [C, H, W], got {Layout.ShapeString(x.ShapeRef)}");
        if (!training || p == 0) return x.Share();
        if (p == 1) return x.Mul(0.0);
        int[] maskShape = x.Rank == 4 ? [x.ShapeRef[0], x.ShapeRef[1], 1, 1] : [x.ShapeRef[0], 1, 1];
        using var u = Tensor.Rand(maskShape, generator, DType.F32, x.Device);
        using var keep = u.Ge(p);
        using var mask = keep.To(x.DType);
        using var scaled = mask.Mul(1.0 / (1 - p));
        return x.Mul(scaled);
    }
}
