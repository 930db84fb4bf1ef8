// Deterministic image functions on float CHW buffers with torchvision.transforms.functional's semantics
// (the formulas are in ../shared/oracle/README.md, "transforms"). The random transforms in Transforms.cs
// draw their parameters and call these. Everything runs serially on the calling thread: loader workers
// already run one sample per thread, and the compute pool belongs to training.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Data;

public enum Interpolation
{
    /// <summary>Legacy nearest (src = floor(dst * in / out)), torchvision's NEAREST.</summary>
    Nearest,
    Bilinear,
}

public static class ImageOps
{
    /// <summary>ITU-R 601-2 luma weights, torchvision's rgb_to_grayscale.</summary>
    public const float LumaR = 0.2989f, LumaG = 0.587f, LumaB = 0.114f;

    public static void HorizontalFlip(ImageBuffer image)
    {
        int w = image.Width;
        for (int row = 0; row < image.Channels * image.Height; row++) image.Data.AsSpan(row * w, w).Reverse();
    }

    public static void VerticalFlip(ImageBuffer image)
    {
        int h = image.Height, w = image.Width;
        for (int c = 0; c < image.Channels; c++)
            for (int top = 0, bottom = h - 1; top < bottom; top++, bottom--)
                image.Data.AsSpan((c * h + top) * w, w).Swap(image.Data.AsSpan((c * h + bottom) * w, w));
    }

    private static void Swap(this Span<float> a, Span<float> b)
    {
        for (int i = 0; i < a.Length; i++) (a[i], b[i]) = (b[i], a[i]);
    }

    /// <summary>Resize to outH x outW without antialiasing (F.interpolate, align_corners false for bilinear).</summary>
    public static void Resize(ImageBuffer image, int outH, int outW, Interpolation mode = Interpolation.Bilinear) =>
        ResizedCrop(image, 0, 0, image.Height, image.Width, outH, outW, mode);

    /// <summary>Resize so the shorter side becomes size, keeping the aspect ratio (torchvision Resize(int)).</summary>
    public static void ResizeShorter(ImageBuffer image, int size, Interpolation mode = Interpolation.Bilinear)
    {
        int h = image.Height, w = image.Width;
        if (h <= w) Resize(image, size, (int)((long)size * w / h), mode);
        else Resize(image, (int)((long)size * h / w), size, mode);
    }

    /// <summary>Crops rows [top, top+height) and columns [left, left+width) and resizes them to outH x outW in one pass.</summary>
    public static void ResizedCrop(ImageBuffer image, int top, int left, int height, int width, int outH, int outW, Interpolation mode = Interpolation.Bilinear)
    {
        int c = image.Channels, h = image.Height, w = image.Width;
        if (height <= 0 || width <= 0 || top < 0 || left < 0 || top + height > h || left + width > w)
            throw new ArgumentException($"crop rows {top}..{top + height} and columns {left}..{left + width} fall outside the {h}x{w} image");
        if (outH <= 0 || outW <= 0) throw new ArgumentException($"resize to {outH}x{outW}: the size must be positive");
        var resample = mode == Interpolation.Nearest ? ResampleMode.Nearest : ResampleMode.Bilinear;
        var rows = CpuResample.Axis(resample, false, (double)height / outH, height, outH);
        var cols = CpuResample.Axis(resample, false, (double)width / outW, width, outW);
        var dst = image.Scratch(c, outH, outW);
        var area = new CropArea(h, w, top, left, height, rows, cols);
        if (image.TryGetPendingBytes(out var bytes)) Resample<byte>(bytes, c, area, dst, 1f / 255);
        else Resample<float>(image.Data, c, area, dst, 1f);
        image.SwapWithScratch(c, outH, outW);
    }

    private sealed record CropArea(int H, int W, int Top, int Left, int Height, ResampleAxis Rows, ResampleAxis Cols);

    [ThreadStatic] private static float[]? _rowCache;

    /// <summary>
    /// Separable: each source row the output uses is resampled along x once (times scale), then each output row
    /// blends two of those rows. The arithmetic is the direct formula's, a0 (w0 p00 + w1 p01) + a1 (w0 p10 + w1 p11).
    /// </summary>
    private static void Resample<T>(T[] src, int channels, CropArea a, float[] dst, float scale) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        int outH = a.Rows.I0.Length, outW = a.Cols.I0.Length;
        var cw0 = Array.ConvertAll(a.Cols.W0, v => (float)v);
        var cw1 = Array.ConvertAll(a.Cols.W1, v => (float)v);
        var needed = new bool[a.Height];
        foreach (int r in a.Rows.I0) needed[r] = true;
        foreach (int r in a.Rows.I1) needed[r] = true;
        var cache = _rowCache is { } rc && rc.Length >= a.Height * outW ? rc : _rowCache = new float[a.Height * outW];
        for (int ch = 0; ch < channels; ch++)
        {
            for (int r = 0; r < a.Height; r++)
            {
                if (!needed[r]) continue;
                var row = src.AsSpan((ch * a.H + a.Top + r) * a.W + a.Left);
                var o = cache.AsSpan(r * outW, outW);
                for (int j = 0; j < outW; j++)
                    o[j] = (cw0[j] * float.CreateTruncating(row[a.Cols.I0[j]]) + cw1[j] * float.CreateTruncating(row[a.Cols.I1[j]])) * scale;
            }
            for (int i = 0; i < outH; i++)
            {
                var d = dst.AsSpan((ch * outH + i) * outW, outW);
                var r0 = cache.AsSpan(a.Rows.I0[i] * outW, outW);
                float a0 = (float)a.Rows.W0[i], a1 = (float)a.Rows.W1[i];
                if (a1 == 0) { System.Numerics.Tensors.TensorPrimitives.Multiply(r0, a0, d); continue; }
                System.Numerics.Tensors.TensorPrimitives.Multiply(r0, a0, d);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(cache.AsSpan(a.Rows.I1[i] * outW, outW), a1, d, d);
            }
        }
    }

    /// <summary>Crops height x width at (top, left); parts outside the image are filled (torchvision pads with zeros).</summary>
    public static void Crop(ImageBuffer image, int top, int left, int height, int width, float fill = 0)
    {
        int c = image.Channels, h = image.Height, w = image.Width;
        if (height <= 0 || width <= 0) throw new ArgumentException($"crop to {height}x{width}: the size must be positive");
        var src = image.Data;
        var dst = image.Scratch(c, height, width);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < height; y++)
            {
                int sy = top + y, o = (ch * height + y) * width;
                if (sy < 0 || sy >= h) { dst.AsSpan(o, width).Fill(fill); continue; }
                for (int x = 0; x < width; x++)
                {
                    int sx = left + x;
                    dst[o + x] = sx >= 0 && sx < w ? src[(ch * h + sy) * w + sx] : fill;
                }
            }
        image.SwapWithScratch(c, height, width);
    }

    /// <summary>Python torchvision's center_crop offsets: int(round((H - h) / 2)) with round-half-to-even.</summary>
    public static (int Top, int Left) CenterOffsets(int h, int w, int cropH, int cropW) =>
        ((int)Math.Round((h - cropH) / 2.0, MidpointRounding.ToEven), (int)Math.Round((w - cropW) / 2.0, MidpointRounding.ToEven));

    public static void CenterCrop(ImageBuffer image, int height, int width)
    {
        var (top, left) = CenterOffsets(image.Height, image.Width, height, width);
        Crop(image, top, left, height, width);
    }

    /// <summary>
    /// Rotates counter-clockwise by angle degrees about the image centre, keeping the size (expand false).
    /// Sampling follows grid_sample(align_corners=False): nearest rounds half to even, bilinear weights four
    /// neighbours; source pixels outside the image have the value fill (so fill 0 is grid_sample's zero padding).
    /// </summary>
    public static void Rotate(ImageBuffer image, double angle, Interpolation mode = Interpolation.Nearest, float fill = 0)
    {
        int c = image.Channels, h = image.Height, w = image.Width;
        double r = -angle * Math.PI / 180, cos = Math.Cos(r), sin = Math.Sin(r);
        var src = image.Data;
        var dst = image.Scratch(c, h, w);
        int plane = h * w;
        for (int i = 0; i < h; i++)
        {
            double y = i - h / 2.0 + 0.5;
            for (int j = 0; j < w; j++)
            {
                double x = j - w / 2.0 + 0.5;
                // In float like torchvision's grid, so nearest ties resolve the same way.
                float ix = (float)(cos * x + sin * y + w / 2.0 - 0.5), iy = (float)(-sin * x + cos * y + h / 2.0 - 0.5);
                int o = i * w + j;
                if (mode == Interpolation.Nearest)
                {
                    int sx = (int)MathF.Round(ix, MidpointRounding.ToEven), sy = (int)MathF.Round(iy, MidpointRounding.ToEven);
                    bool inside = sx >= 0 && sx < w && sy >= 0 && sy < h;
                    for (int ch = 0; ch < c; ch++) dst[ch * plane + o] = inside ? src[ch * plane + sy * w + sx] : fill;
                    continue;
                }
                int x0 = (int)MathF.Floor(ix), y0 = (int)MathF.Floor(iy);
                float fx = ix - x0, fy = iy - y0;
                for (int ch = 0; ch < c; ch++)
                {
                    int p = ch * plane;
                    float Px(int yy, int xx) => yy >= 0 && yy < h && xx >= 0 && xx < w ? src[p + yy * w + xx] : fill;
                    dst[p + o] = (1 - fy) * ((1 - fx) * Px(y0, x0) + fx * Px(y0, x0 + 1)) + fy * ((1 - fx) * Px(y0 + 1, x0) + fx * Px(y0 + 1, x0 + 1));
                }
            }
        }
        image.SwapWithScratch(c, h, w);
    }

    private static void RequireRgb(ImageBuffer image, string op)
    {
        if (image.Channels != 3) throw new ArgumentException($"{op} needs a 3-channel RGB image, got {image.Channels} channels");
    }

    /// <summary>Grayscale of an RGB image (one plane) into dst; a 1-channel image is returned as is.</summary>
    private static void Luma(ImageBuffer image, Span<float> dst)
    {
        int plane = image.Height * image.Width;
        var d = image.Data;
        if (image.Channels == 1) { d.AsSpan(0, plane).CopyTo(dst); return; }
        RequireRgb(image, "grayscale");
        for (int i = 0; i < plane; i++) dst[i] = LumaR * d[i] + LumaG * d[plane + i] + LumaB * d[2 * plane + i];
    }

    /// <summary>rgb_to_grayscale with 1 or 3 (replicated) output channels.</summary>
    public static void Grayscale(ImageBuffer image, int outputChannels = 1)
    {
        if (outputChannels is not (1 or 3)) throw new ArgumentException($"grayscale output channels must be 1 or 3, got {outputChannels}");
        int plane = image.Height * image.Width;
        var dst = image.Scratch(outputChannels, image.Height, image.Width);
        Luma(image, dst.AsSpan(0, plane));
        for (int ch = 1; ch < outputChannels; ch++) dst.AsSpan(0, plane).CopyTo(dst.AsSpan(ch * plane, plane));
        image.SwapWithScratch(outputChannels, image.Height, image.Width);
    }

    /// <summary>clamp(f x + (1 - f) other, 0, 1) over the whole image; other is per pixel (one plane) or one scalar.</summary>
    private static void Blend(ImageBuffer image, float f, ReadOnlySpan<float> perPixel, float scalar)
    {
        int plane = image.Height * image.Width;
        var d = image.Data;
        for (int ch = 0; ch < image.Channels; ch++)
            for (int i = 0; i < plane; i++)
            {
                float other = perPixel.IsEmpty ? scalar : perPixel[i];
                d[ch * plane + i] = Math.Clamp(f * d[ch * plane + i] + (1 - f) * other, 0f, 1f);
            }
    }

    public static void AdjustBrightness(ImageBuffer image, float factor)
    {
        if (factor < 0) throw new ArgumentException($"brightness factor must be non-negative, got {factor}");
        Blend(image, factor, default, 0);
    }

    /// <summary>Blends with the mean of the grayscale image (one scalar for the whole image).</summary>
    public static void AdjustContrast(ImageBuffer image, float factor)
    {
        if (factor < 0) throw new ArgumentException($"contrast factor must be non-negative, got {factor}");
        int plane = image.Height * image.Width;
        var gray = image.Scratch(1, image.Height, image.Width);
        Luma(image, gray.AsSpan(0, plane));
        double sum = 0;
        for (int i = 0; i < plane; i++) sum += gray[i];
        Blend(image, factor, default, (float)(sum / plane));
    }

    /// <summary>Blends each pixel with its own grayscale value.</summary>
    public static void AdjustSaturation(ImageBuffer image, float factor)
    {
        if (factor < 0) throw new ArgumentException($"saturation factor must be non-negative, got {factor}");
        if (image.Channels == 1) return;
        int plane = image.Height * image.Width;
        var gray = image.Scratch(1, image.Height, image.Width);
        Luma(image, gray.AsSpan(0, plane));
        Blend(image, factor, gray.AsSpan(0, plane), 0);
    }

    /// <summary>Shifts the hue by factor (in [-0.5, 0.5]) through torchvision's RGB -> HSV -> RGB, in float.</summary>
    public static void AdjustHue(ImageBuffer image, float factor)
    {
        if (factor is < -0.5f or > 0.5f) throw new ArgumentException($"hue factor must be in [-0.5, 0.5], got {factor}");
        if (image.Channels == 1) return;
        RequireRgb(image, "adjust_hue");
        int plane = image.Height * image.Width;
        var d = image.Data;
        for (int i = 0; i < plane; i++)
        {
            float r = d[i], g = d[plane + i], b = d[2 * plane + i];
            float maxc = MathF.Max(r, MathF.Max(g, b)), minc = MathF.Min(r, MathF.Min(g, b));
            bool flat = maxc == minc;
            float cr = maxc - minc;
            float s = cr / (flat ? 1f : maxc);
            float div = flat ? 1f : cr;
            float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
            float hue = maxc == r ? bc - gc : maxc == g ? 2f + rc - bc : 4f + gc - rc;
            hue = (hue / 6f + 1f) % 1f;
            hue = (hue + factor) % 1f;
            if (hue < 0) hue += 1f;
            float v = maxc;
            float sector = MathF.Floor(hue * 6f);
            float f = hue * 6f - sector;
            float p = Math.Clamp(v * (1f - s), 0f, 1f);
            float q = Math.Clamp(v * (1f - s * f), 0f, 1f);
            float t = Math.Clamp(v * (1f - s * (1f - f)), 0f, 1f);
            (d[i], d[plane + i], d[2 * plane + i]) = (((int)sector % 6 + 6) % 6) switch
            {
                0 => (v, t, p),
                1 => (q, v, p),
                2 => (p, v, t),
                3 => (p, q, v),
                4 => (t, p, v),
                _ => (v, p, q),
            };
        }
    }

    /// <summary>(x - mean_c) / std_c per channel (one value applies to every channel).</summary>
    public static void Normalize(ImageBuffer image, ReadOnlySpan<float> mean, ReadOnlySpan<float> std)
    {
        if ((mean.Length != image.Channels && mean.Length != 1) || (std.Length != image.Channels && std.Length != 1))
            throw new ArgumentException($"normalize has {mean.Length} means and {std.Length} stds for a {image.Channels}-channel image");
        int plane = image.Height * image.Width;
        for (int c = 0; c < image.Channels; c++)
        {
            float m = mean[mean.Length == 1 ? 0 : c], s = std[std.Length == 1 ? 0 : c];
            if (s == 0) throw new ArgumentException($"normalize: std of channel {c} is 0");
            var span = image.Data.AsSpan(c * plane, plane);
            System.Numerics.Tensors.TensorPrimitives.Subtract(span, m, span);
            System.Numerics.Tensors.TensorPrimitives.Divide(span, s, span);
        }
    }

    /// <summary>Sets rows [top, top+h) x columns [left, left+w) of every channel to values (one per channel, or per element when it has C*h*w).</summary>
    public static void Erase(ImageBuffer image, int top, int left, int h, int w, ReadOnlySpan<float> values)
    {
        int c = image.Channels, ih = image.Height, iw = image.Width;
        if (top < 0 || left < 0 || top + h > ih || left + w > iw) throw new ArgumentException($"erase box {top},{left} {h}x{w} falls outside the {ih}x{iw} image");
        bool perElement = values.Length == c * h * w;
        if (!perElement && values.Length != c && values.Length != 1) throw new ArgumentException($"erase needs 1, {c} or {c * h * w} values, got {values.Length}");
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    image.Data[(ch * ih + top + y) * iw + left + x] = perElement ? values[(ch * h + y) * w + x] : values[values.Length == 1 ? 0 : ch];
    }
}
