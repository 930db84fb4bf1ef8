// Per-sample image transforms on float CHW buffers, with torchvision's semantics. Randomness comes
// from a per-sample stream (seed, epoch, index), so results do not depend on which worker ran them.
namespace Cuda.Nn.Data;

/// <summary>The random stream of one sample: Philox keyed by the loader seed, at a counter unique to (epoch, index).</summary>
public sealed class SampleRandom(ulong seed, long epoch, long index)
{
    private ulong _offset = ((ulong)epoch << 40) ^ ((ulong)index << 12);

    public double NextDouble() => Kernels.Cpu.Philox.ToUnit(Kernels.Cpu.Philox.At(seed, _offset++));
    public int NextInt(int n) => Math.Min(n - 1, (int)(NextDouble() * n));
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>torch.randint(lo, hi): an integer in [lo, hi).</summary>
    public int NextInt(int lo, int hi) => lo + NextInt(hi - lo);

    /// <summary>A standard normal draw (Box-Muller on two uniforms; 1 - u keeps the logarithm finite).</summary>
    public double Normal() => Math.Sqrt(-2 * Math.Log(1 - NextDouble())) * Math.Cos(2 * Math.PI * NextDouble());

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 use the boost Gamma(a+1) * U^(1/a).</summary>
    public double Gamma(double shape)
    {
        if (!(shape > 0)) throw new ArgumentOutOfRangeException(nameof(shape), $"gamma shape must be positive, got {shape}");
        if (shape < 1) return Gamma(shape + 1) * Math.Pow(1 - NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = Normal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1 - NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }

    /// <summary>Beta(a, b) as Gamma(a) / (Gamma(a) + Gamma(b)).</summary>
    public double Beta(double a, double b)
    {
        double x = Gamma(a), y = Gamma(b);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /// <summary>A uniformly random permutation of 0..n-1 (Fisher-Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }
}

public interface ITransform
{
    void Apply(ImageBuffer image, SampleRandom random);
}

/// <summary>Applies transforms in order.</summary>
public sealed class Compose(params ITransform[] transforms) : ITransform
{
    public IReadOnlyList<ITransform> Transforms { get; } = transforms;

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        foreach (var t in Transforms) t.Apply(image, random);
    }
}

/// <summary>(x - mean_c) / std_c per channel.</summary>
public sealed class Normalize(float[] mean, float[] std) : ITransform
{
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    public void Apply(ImageBuffer image, SampleRandom random) => ImageOps.Normalize(image, mean, std);
}

/// <summary>Flips left-right with probability p.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : ITransform
{
    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (random.NextDouble() < p) ImageOps.HorizontalFlip(image);
    }
}

/// <summary>Flips top-bottom with probability p.</summary>
public sealed class RandomVerticalFlip(double p = 0.5) : ITransform
{
    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (random.NextDouble() < p) ImageOps.VerticalFlip(image);
    }
}

/// <summary>
/// Pads by `padding` with fill, then crops height x width at a uniformly random position (torchvision RandomCrop,
/// constant padding). With padIfNeeded a side still short of the crop is padded on both ends by the shortfall, as
/// torchvision does.
/// </summary>
public sealed class RandomCrop : ITransform
{
    public int Height { get; }
    public int Width { get; }
    public (int Left, int Top, int Right, int Bottom) Padding { get; }
    public float Fill { get; }
    public bool PadIfNeeded { get; }

    public RandomCrop(int size, int padding = 0, float fill = 0) : this(size, size, (padding, padding, padding, padding), fill) { }

    public RandomCrop(int height, int width, (int Left, int Top, int Right, int Bottom) padding, float fill = 0, bool padIfNeeded = false)
    {
        if (height <= 0 || width <= 0) throw new ArgumentException($"RandomCrop({height}, {width}): sizes must be positive");
        if (padding.Left < 0 || padding.Top < 0 || padding.Right < 0 || padding.Bottom < 0) throw new ArgumentException($"RandomCrop padding {padding} must be non-negative");
        (Height, Width, Padding, Fill, PadIfNeeded) = (height, width, padding, fill, padIfNeeded);
    }

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        var (left, top, right, bottom) = Padding;
        if (PadIfNeeded && image.Width + left + right < Width) { int d = Width - (image.Width + left + right); left += d; right += d; }
        if (PadIfNeeded && image.Height + top + bottom < Height) { int d = Height - (image.Height + top + bottom); top += d; bottom += d; }
        int ph = image.Height + top + bottom, pw = image.Width + left + right;
        if (ph < Height || pw < Width) throw new ArgumentException($"RandomCrop({Height}, {Width}) is larger than the padded image {ph}x{pw}");
        int y = random.NextInt(ph - Height + 1), x = random.NextInt(pw - Width + 1);
        // A crop of the padded image is a crop of the image at shifted offsets, reading fill outside it.
        ImageOps.Crop(image, y - top, x - left, Height, Width, Fill);
    }
}
