// Batch-level MixUp and CutMix (torchvision.transforms.v2 semantics): each sample is mixed with its
// neighbour in the batch rolled by one, and the labels become soft targets [N, K] in the same proportion,
// for F.CrossEntropy's probability-target form. They run in the loader, before the batch becomes tensors.
namespace Cuda.Nn.Data;

/// <summary>A batch under construction: images [N, C, H, W] and labels, with soft targets once mixed.</summary>
public sealed class BatchData(float[] images, int n, int channels, int height, int width, long[] labels)
{
    public float[] Images { get; } = images;
    public int Count { get; } = n;
    public int Channels { get; } = channels;
    public int Height { get; } = height;
    public int Width { get; } = width;
    public long[] Labels { get; } = labels;
    /// <summary>Soft targets [N, Classes] after mixing; null while the labels are plain class indices.</summary>
    public float[]? SoftTargets { get; set; }
    public int Classes { get; set; }

    internal int ImageSize => Channels * Height * Width;

    /// <summary>The targets as rows of class probabilities, one-hot from the labels the first time.</summary>
    internal float[] Targets(int classes)
    {
        if (SoftTargets is not null)
        {
            if (Classes != classes) throw new InvalidOperationException($"the batch already has {Classes}-class soft targets, not {classes}");
            return SoftTargets;
        }
        var t = new float[Count * classes];
        for (int i = 0; i < Count; i++)
        {
            long y = Labels[i];
            if (y < 0 || y >= classes) throw new ArgumentException($"label {y} of batch sample {i} is outside 0..{classes - 1}: set the mix's class count to the dataset's");
            t[i * classes + y] = 1;
        }
        (SoftTargets, Classes) = (t, classes);
        return t;
    }

    /// <summary>targets = lam * targets + (1 - lam) * targets rolled by one sample.</summary>
    internal void MixTargets(int classes, float lam)
    {
        var t = Targets(classes);
        var mixed = new float[t.Length];
        for (int i = 0; i < Count; i++)
        {
            int j = (i - 1 + Count) % Count;
            for (int k = 0; k < classes; k++) mixed[i * classes + k] = lam * t[i * classes + k] + (1 - lam) * t[j * classes + k];
        }
        SoftTargets = mixed;
    }
}

public interface IBatchTransform
{
    void Apply(BatchData batch, SampleRandom random);
}

/// <summary>What MixUp and CutMix share: Beta(alpha, alpha) draws, the class count, and mixing each sample with
/// its predecessor in the batch rolled by one.</summary>
public abstract class RolledBatchMix : IBatchTransform
{
    public double Alpha { get; }
    public int Classes { get; }

    protected RolledBatchMix(double alpha, int classes)
    {
        if (!(alpha > 0)) throw new ArgumentException($"{GetType().Name} alpha must be positive, got {alpha}");
        if (classes <= 0) throw new ArgumentException($"{GetType().Name} needs a positive class count, got {classes}");
        (Alpha, Classes) = (alpha, classes);
    }

    public abstract void Apply(BatchData batch, SampleRandom random);

    protected delegate void MixPair(Span<float> current, ReadOnlySpan<float> previous);

    /// <summary>mix(sample i, original sample i - 1) for every i (sample 0 meets the last), then the targets at lam.</summary>
    protected void Roll(BatchData batch, float lam, MixPair mix)
    {
        int n = batch.Count, size = batch.ImageSize;
        if (n < 2) { batch.Targets(Classes); return; }
        var x = batch.Images;
        var last = x.AsSpan((n - 1) * size, size).ToArray();
        // Backwards so each sample still sees its predecessor's original pixels.
        for (int i = n - 1; i >= 0; i--)
            mix(x.AsSpan(i * size, size), i == 0 ? last : x.AsSpan((i - 1) * size, size));
        batch.MixTargets(Classes, lam);
    }
}

/// <summary>MixUp: images and targets blended with lam ~ Beta(alpha, alpha) against the batch rolled by one.</summary>
public sealed class MixUp(double alpha, int classes) : RolledBatchMix(alpha, classes)
{
    public override void Apply(BatchData batch, SampleRandom random)
    {
        float lam = (float)random.Beta(Alpha, Alpha);
        Roll(batch, lam, (cur, prev) =>
        {
            for (int p = 0; p < cur.Length; p++) cur[p] = lam * cur[p] + (1 - lam) * prev[p];
        });
    }
}

/// <summary>
/// CutMix: a box of area (1 - lam) with lam ~ Beta(alpha, alpha), centred at a uniform point and clipped to
/// the image, is pasted from the batch rolled by one; the targets mix by the box's actual area.
/// </summary>
public sealed class CutMix(double alpha, int classes) : RolledBatchMix(alpha, classes)
{
    /// <summary>torchvision's box: (x1, y1, x2, y2) and the adjusted lam.</summary>
    public static (int X1, int Y1, int X2, int Y2, float Lam) Box(int height, int width, double lam, SampleRandom random)
    {
        int rx = random.NextInt(0, width), ry = random.NextInt(0, height);
        double r = 0.5 * Math.Sqrt(1 - lam);
        int rw = (int)(r * width), rh = (int)(r * height);
        int x1 = Math.Max(rx - rw, 0), y1 = Math.Max(ry - rh, 0), x2 = Math.Min(rx + rw, width), y2 = Math.Min(ry + rh, height);
        return (x1, y1, x2, y2, (float)(1 - (double)(x2 - x1) * (y2 - y1) / ((double)width * height)));
    }

    public override void Apply(BatchData batch, SampleRandom random)
    {
        int c = batch.Channels, h = batch.Height, w = batch.Width;
        var (x1, y1, x2, y2, lam) = Box(h, w, random.Beta(Alpha, Alpha), random);
        Roll(batch, lam, (cur, prev) =>
        {
            for (int ch = 0; ch < c; ch++)
                for (int y = y1; y < y2; y++)
                    prev.Slice((ch * h + y) * w + x1, x2 - x1).CopyTo(cur.Slice((ch * h + y) * w + x1));
        });
    }
}

/// <summary>Picks one of the given batch transforms uniformly per batch (torchvision's RandomChoice of MixUp and CutMix).</summary>
public sealed class RandomChoiceBatch(params IBatchTransform[] choices) : IBatchTransform
{
    public void Apply(BatchData batch, SampleRandom random)
    {
        if (choices.Length == 0) return;
        choices[random.NextInt(choices.Length)].Apply(batch, random);
    }
}
