// Per-sample image transforms on float CHW buffers, with torchvision's semantics. Randomness comes
// from a per-sample stream (seed, epoch, index), so results do not depend on which worker ran them.
namespace Cuda.Nn.Data;

/// <summary>A float image [C, H, W] in a reusable buffer.</summary>
public sealed class ImageBuffer(int channels, int height, int width)
{
    public int Channels { get; private set; } = channels;
    public int Height { get; private set; } = height;
    public int Width { get; private set; } = width;
    public float[] Data { get; private set; } = new float[channels * height * width];
    private float[] _scratch = [];

    public int Size => Channels * Height * Width;

    /// <summary>Makes room for a new shape and returns a scratch array of that size holding nothing in particular.</summary>
    internal float[] Scratch(int c, int h, int w)
    {
        if (_scratch.Length < c * h * w) _scratch = new float[c * h * w];
        return _scratch;
    }

    /// <summary>Swaps in the scratch array as the data, with a new shape.</summary>
    internal void SwapWithScratch(int c, int h, int w)
    {
        (Data, _scratch) = (_scratch, Data);
        Channels = c;
        Height = h;
        Width = w;
    }

    public void Reset(int c, int h, int w)
    {
        Channels = c;
        Height = h;
        Width = w;
        if (Data.Length < c * h * w) Data = new float[c * h * w];
    }
}

/// <summary>The random stream of one sample: Philox keyed by the loader seed, at a counter unique to (epoch, index).</summary>
public sealed class SampleRandom(ulong seed, long epoch, long index)
{
    private ulong _offset = ((ulong)epoch << 40) ^ ((ulong)index << 12);

    public double NextDouble() => Kernels.Cpu.Philox.ToUnit(Kernels.Cpu.Philox.At(seed, _offset++));
    public int NextInt(int n) => Math.Min(n - 1, (int)(NextDouble() * n));
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();
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
    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (mean.Length != image.Channels && mean.Length != 1) throw new ArgumentException($"Normalize has {mean.Length} means for a {image.Channels}-channel image");
        int plane = image.Height * image.Width;
        for (int c = 0; c < image.Channels; c++)
        {
            float m = mean[mean.Length == 1 ? 0 : c], inv = 1f / std[std.Length == 1 ? 0 : c];
            var span = image.Data.AsSpan(c * plane, plane);
            for (int i = 0; i < span.Length; i++) span[i] = (span[i] - m) * inv;
        }
    }
}

/// <summary>Flips left-right with probability p.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : ITransform
{
    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (random.NextDouble() >= p) return;
        int w = image.Width;
        for (int row = 0; row < image.Channels * image.Height; row++) image.Data.AsSpan(row * w, w).Reverse();
    }
}

/// <summary>Pads by `padding` (zeros) then crops size x size at a uniformly random position (torchvision RandomCrop).</summary>
public sealed class RandomCrop(int size, int padding = 0, float fill = 0) : ITransform
{
    public void Apply(ImageBuffer image, SampleRandom random)
    {
        int c = image.Channels, h = image.Height, w = image.Width;
        int ph = h + 2 * padding, pw = w + 2 * padding;
        if (ph < size || pw < size) throw new ArgumentException($"RandomCrop({size}) is larger than the padded image {ph}x{pw}");
        int top = random.NextInt(ph - size + 1), left = random.NextInt(pw - size + 1);
        var dst = image.Scratch(c, size, size);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < size; y++)
            {
                int sy = top + y - padding;
                for (int x = 0; x < size; x++)
                {
                    int sx = left + x - padding;
                    dst[(ch * size + y) * size + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? image.Data[(ch * h + sy) * w + sx] : fill;
                }
            }
        image.SwapWithScratch(c, size, size);
    }
}
