// torchvision's resize, crop, rotation, colour and erasing transforms. Parameters are drawn with
// torchvision's algorithms (get_params) from the sample's own random stream, then applied by ImageOps.
namespace Cuda.Nn.Data;

/// <summary>Resize to height x width, or with one size the shorter side to size keeping the aspect ratio.</summary>
public sealed class Resize : ITransform
{
    private readonly int _height, _width;
    private readonly bool _shorterSide;
    public Interpolation Mode { get; }

    public Resize(int height, int width, Interpolation mode = Interpolation.Bilinear)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"Resize({height}, {width}): sizes must be positive");
        (_height, _width, Mode) = (height, width, mode);
    }

    public Resize(int shorterSide, Interpolation mode = Interpolation.Bilinear) : this(shorterSide, shorterSide, mode) => _shorterSide = true;

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (_shorterSide) ImageOps.ResizeShorter(image, _height, Mode);
        else ImageOps.Resize(image, _height, _width, Mode);
    }
}

/// <summary>Crops the centre height x width (zero-padded when the image is smaller).</summary>
public sealed class CenterCrop(int height, int width) : ITransform
{
    public CenterCrop(int size) : this(size, size) { }

    public void Apply(ImageBuffer image, SampleRandom random) => ImageOps.CenterCrop(image, height, width);
}

/// <summary>
/// A crop of random area (scale, a fraction of the image) and aspect ratio (ratio, drawn log-uniformly),
/// resized to height x width: torchvision's RandomResizedCrop, with its 10 tries and central fallback.
/// Resizing is bilinear without antialiasing.
/// </summary>
public sealed class RandomResizedCrop : ITransform
{
    public int Height { get; }
    public int Width { get; }
    public (double Min, double Max) Scale { get; }
    public (double Min, double Max) Ratio { get; }
    public Interpolation Mode { get; }

    public RandomResizedCrop(int height, int width, (double, double)? scale = null, (double, double)? ratio = null, Interpolation mode = Interpolation.Bilinear)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"RandomResizedCrop({height}, {width}): sizes must be positive");
        Scale = scale ?? (0.08, 1.0);
        Ratio = ratio ?? (3.0 / 4, 4.0 / 3);
        if (Scale.Min <= 0 || Scale.Min > Scale.Max) throw new ArgumentException($"RandomResizedCrop scale ({Scale.Min}, {Scale.Max}) must be positive and ordered");
        if (Ratio.Min <= 0 || Ratio.Min > Ratio.Max) throw new ArgumentException($"RandomResizedCrop ratio ({Ratio.Min}, {Ratio.Max}) must be positive and ordered");
        (Height, Width, Mode) = (height, width, mode);
    }

    public RandomResizedCrop(int size) : this(size, size) { }

    /// <summary>torchvision's get_params: (top, left, height, width) of the crop.</summary>
    public (int Top, int Left, int H, int W) Params(int height, int width, SampleRandom random)
    {
        double area = (double)height * width;
        double logLo = Math.Log(Ratio.Min), logHi = Math.Log(Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * random.Uniform(Scale.Min, Scale.Max);
            double aspect = Math.Exp(random.Uniform(logLo, logHi));
            int w = (int)Math.Round(Math.Sqrt(target * aspect), MidpointRounding.ToEven);
            int h = (int)Math.Round(Math.Sqrt(target / aspect), MidpointRounding.ToEven);
            if (w > 0 && w <= width && h > 0 && h <= height)
                return (random.NextInt(0, height - h + 1), random.NextInt(0, width - w + 1), h, w);
        }
        double inRatio = (double)width / height;
        int cw = width, ch = height;
        if (inRatio < Ratio.Min) ch = (int)Math.Round(cw / Ratio.Min, MidpointRounding.ToEven);
        else if (inRatio > Ratio.Max) cw = (int)Math.Round(ch * Ratio.Max, MidpointRounding.ToEven);
        return ((height - ch) / 2, (width - cw) / 2, ch, cw);
    }

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        var (top, left, h, w) = Params(image.Height, image.Width, random);
        ImageOps.ResizedCrop(image, top, left, h, w, Height, Width, Mode);
    }
}

/// <summary>Rotates by an angle drawn uniformly from [min, max] degrees about the centre, keeping the size.</summary>
public sealed class RandomRotation : ITransform
{
    public (double Min, double Max) Degrees { get; }
    public Interpolation Mode { get; }
    public float Fill { get; }

    public RandomRotation(double degrees, Interpolation mode = Interpolation.Nearest, float fill = 0) : this((-degrees, degrees), mode, fill)
    {
        if (degrees < 0) throw new ArgumentException($"RandomRotation degrees must be non-negative, got {degrees}");
    }

    public RandomRotation((double Min, double Max) degrees, Interpolation mode = Interpolation.Nearest, float fill = 0)
    {
        if (degrees.Min > degrees.Max) throw new ArgumentException($"RandomRotation degrees ({degrees.Min}, {degrees.Max}) must be ordered");
        (Degrees, Mode, Fill) = (degrees, mode, fill);
    }

    public void Apply(ImageBuffer image, SampleRandom random) => ImageOps.Rotate(image, random.Uniform(Degrees.Min, Degrees.Max), Mode, Fill);
}

/// <summary>
/// Random brightness, contrast and saturation factors from [max(0, 1 - x), 1 + x] and a hue shift from [-h, h],
/// applied in a random order (torchvision's ColorJitter). A zero amount leaves that adjustment out.
/// </summary>
public sealed class ColorJitter : ITransform
{
    public float Brightness { get; }
    public float Contrast { get; }
    public float Saturation { get; }
    public float Hue { get; }

    public ColorJitter(float brightness = 0, float contrast = 0, float saturation = 0, float hue = 0)
    {
        if (brightness < 0 || contrast < 0 || saturation < 0) throw new ArgumentException("ColorJitter brightness, contrast and saturation must be non-negative");
        if (hue is < 0 or > 0.5f) throw new ArgumentException($"ColorJitter hue must be in [0, 0.5], got {hue}");
        (Brightness, Contrast, Saturation, Hue) = (brightness, contrast, saturation, hue);
    }

    private static float Factor(SampleRandom r, float amount) => (float)r.Uniform(Math.Max(0, 1 - amount), 1 + amount);

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        var order = random.Permutation(4);
        // All factors are drawn before any is applied, as torchvision does.
        float b = Brightness > 0 ? Factor(random, Brightness) : 1, c = Contrast > 0 ? Factor(random, Contrast) : 1;
        float s = Saturation > 0 ? Factor(random, Saturation) : 1, h = Hue > 0 ? (float)random.Uniform(-Hue, Hue) : 0;
        foreach (int step in order)
        {
            if (step == 0 && Brightness > 0) ImageOps.AdjustBrightness(image, b);
            else if (step == 1 && Contrast > 0) ImageOps.AdjustContrast(image, c);
            else if (step == 2 && Saturation > 0) ImageOps.AdjustSaturation(image, s);
            else if (step == 3 && Hue > 0) ImageOps.AdjustHue(image, h);
        }
    }
}

/// <summary>RGB to grayscale with 1 or 3 output channels.</summary>
public sealed class Grayscale(int outputChannels = 1) : ITransform
{
    public void Apply(ImageBuffer image, SampleRandom random) => ImageOps.Grayscale(image, outputChannels);
}

/// <summary>
/// With probability p, erases a random box of area scale (fraction) and aspect ratio ratio: torchvision's
/// RandomErasing, usually after Normalize. Value is a constant, or standard-normal noise when random is true.
/// </summary>
public sealed class RandomErasing : ITransform
{
    public double P { get; }
    public (double Min, double Max) Scale { get; }
    public (double Min, double Max) Ratio { get; }
    public float Value { get; }
    public bool RandomValue { get; }

    public RandomErasing(double p = 0.5, (double, double)? scale = null, (double, double)? ratio = null, float value = 0, bool randomValue = false)
    {
        if (p is < 0 or > 1) throw new ArgumentException($"RandomErasing probability must be in [0, 1], got {p}");
        Scale = scale ?? (0.02, 0.33);
        Ratio = ratio ?? (0.3, 3.3);
        if (Scale.Min < 0 || Scale.Min > Scale.Max || Scale.Max > 1) throw new ArgumentException($"RandomErasing scale ({Scale.Min}, {Scale.Max}) must be ordered within [0, 1]");
        if (Ratio.Min <= 0 || Ratio.Min > Ratio.Max) throw new ArgumentException($"RandomErasing ratio ({Ratio.Min}, {Ratio.Max}) must be positive and ordered");
        (P, Value, RandomValue) = (p, value, randomValue);
    }

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (random.NextDouble() >= P) return;
        int ih = image.Height, iw = image.Width, c = image.Channels;
        double area = (double)ih * iw, logLo = Math.Log(Ratio.Min), logHi = Math.Log(Ratio.Max);
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double erase = area * random.Uniform(Scale.Min, Scale.Max);
            double aspect = Math.Exp(random.Uniform(logLo, logHi));
            int h = (int)Math.Round(Math.Sqrt(erase * aspect), MidpointRounding.ToEven);
            int w = (int)Math.Round(Math.Sqrt(erase / aspect), MidpointRounding.ToEven);
            if (!(h < ih && w < iw)) continue;
            float[] values;
            if (RandomValue)
            {
                values = new float[c * h * w];
                for (int i = 0; i < values.Length; i++) values[i] = (float)random.Normal();
            }
            else values = [Value];
            ImageOps.Erase(image, random.NextInt(0, ih - h + 1), random.NextInt(0, iw - w + 1), h, w, values);
            return;
        }
    }
}
