// Stratified splits and class balance: per-class counts, the imbalance ratio, inverse-frequency loss weights,
// and per-epoch resampled index lists (oversampling, undersampling, weighted sampling with replacement) that a
// DataLoader takes as its subset. All randomness comes from (seed, epoch), so every order is reproducible.
namespace Cuda.Nn.Data;

public static class Splits
{
    /// <summary>
    /// Splits sample indices into train and validation keeping each class's proportion: a class of n samples
    /// gives round(n * fraction) to validation (at least one, and at most n - 1, when n ≥ 2 and fraction &gt; 0).
    /// Both lists come back in ascending order; the same seed gives the same split.
    /// </summary>
    public static (int[] Train, int[] Validation) Stratified(IReadOnlyList<long> labels, double validationFraction, ulong seed)
    {
        if (!(validationFraction >= 0 && validationFraction < 1)) throw new ArgumentOutOfRangeException(nameof(validationFraction), "the validation fraction must be in [0, 1)");
        var train = new List<int>();
        var val = new List<int>();
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key))
        {
            var idx = group.ToArray();
            Shuffle(idx, new Generator(seed ^ 0x9E3779B97F4A7C15UL) { Offset = (ulong)group.Key << 32 });
            int nVal = (int)Math.Round(idx.Length * validationFraction, MidpointRounding.AwayFromZero);
            if (validationFraction > 0 && idx.Length >= 2) nVal = Math.Clamp(nVal, 1, idx.Length - 1);
            nVal = Math.Clamp(nVal, 0, idx.Length);
            val.AddRange(idx[..nVal]);
            train.AddRange(idx[nVal..]);
        }
        train.Sort();
        val.Sort();
        return ([.. train], [.. val]);
    }

    internal static void Shuffle(int[] a, Generator g)
    {
        for (int i = a.Length - 1; i > 0; i--)
        {
            int j = g.NextInt(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
    }
}

/// <summary>Class counts of a labelled set (or a subset of it) and balanced orders over it.</summary>
public sealed class ClassBalance
{
    private readonly long[] _labels;
    private readonly int[] _indices;
    private readonly int[][] _byClass;

    /// <summary>Samples per class (classes with no samples count 0).</summary>
    public int[] Counts { get; }
    public int ClassCount => Counts.Length;
    public int SampleCount => _indices.Length;
    public ulong Seed { get; }

    /// <param name="labels">Class index per dataset sample.</param>
    /// <param name="classCount">Number of classes (at least 1 + the largest label).</param>
    /// <param name="subset">Dataset indices to balance (a split); all samples when null.</param>
    /// <param name="seed">Seeds each epoch's resampling (the same seed gives the same draws).</param>
    public ClassBalance(IReadOnlyList<long> labels, int classCount, int[]? subset = null, ulong seed = 0)
    {
        _labels = [.. labels];
        _indices = subset is null ? [.. Enumerable.Range(0, labels.Count)] : (int[])subset.Clone();
        Seed = seed;
        var lists = Enumerable.Range(0, classCount).Select(_ => new List<int>()).ToArray();
        foreach (int i in _indices)
        {
            if ((uint)i >= (uint)_labels.Length) throw new ArgumentOutOfRangeException(nameof(subset), $"index {i} is outside the {labels.Count} samples");
            long l = _labels[i];
            if (l < 0 || l >= classCount) throw new ArgumentOutOfRangeException(nameof(labels), $"sample {i} has label {l}, outside 0..{classCount - 1}");
            lists[l].Add(i);
        }
        _byClass = [.. lists.Select(l => l.ToArray())];
        Counts = [.. _byClass.Select(c => c.Length)];
    }

    public static ClassBalance Of(ImageClassificationSet set, int[]? subset = null, ulong seed = 0) => new(set.Labels, set.ClassNames.Length, subset, seed);

    /// <summary>Largest class count over the smallest non-empty one (1 when balanced; ∞ when every class is empty).</summary>
    public double ImbalanceRatio
    {
        get
        {
            var nonEmpty = Counts.Where(c => c > 0).ToArray();
            return nonEmpty.Length == 0 ? double.PositiveInfinity : (double)nonEmpty.Max() / nonEmpty.Min();
        }
    }

    /// <summary>Classes with no samples.</summary>
    public int[] EmptyClasses => [.. Enumerable.Range(0, ClassCount).Where(c => Counts[c] == 0)];

    /// <summary>
    /// Inverse-frequency weights for a weighted loss, N / (K · n_c) (scikit-learn's "balanced"): 1 for every class
    /// when balanced; 0 for an empty class. K counts the non-empty classes.
    /// </summary>
    public float[] InverseFrequencyWeights()
    {
        int k = Counts.Count(c => c > 0);
        return [.. Counts.Select(c => c == 0 ? 0f : (float)((double)SampleCount / ((double)k * c)))];
    }

    private Generator Rng(int epoch, ulong salt) => new(Seed ^ salt) { Offset = (ulong)epoch << 40 };

    /// <summary>
    /// Oversampling: every non-empty class drawn up to the largest class's count (all its samples, then random
    /// repeats without bias), the whole list shuffled. Length = K · max count.
    /// </summary>
    public int[] Oversample(int epoch)
    {
        var g = Rng(epoch, 0x0A5E_ED01UL);
        int max = Counts.Max();
        var r = new List<int>();
        foreach (var c in _byClass.Where(c => c.Length > 0))
        {
            int full = max / c.Length, rest = max % c.Length;
            for (int k = 0; k < full; k++) r.AddRange(c);
            var extra = (int[])c.Clone();
            Splits.Shuffle(extra, g);
            r.AddRange(extra[..rest]);
        }
        var a = r.ToArray();
        Splits.Shuffle(a, g);
        return a;
    }

    /// <summary>Undersampling: a fresh random min-count subset of every non-empty class each epoch, shuffled.</summary>
    public int[] Undersample(int epoch)
    {
        var g = Rng(epoch, 0x0DE5_ED02UL);
        int min = Counts.Where(c => c > 0).DefaultIfEmpty(0).Min();
        var r = new List<int>();
        foreach (var c in _byClass.Where(c => c.Length > 0))
        {
            var x = (int[])c.Clone();
            Splits.Shuffle(x, g);
            r.AddRange(x[..min]);
        }
        var a = r.ToArray();
        Splits.Shuffle(a, g);
        return a;
    }

    /// <summary>
    /// PyTorch's WeightedRandomSampler with per-sample weight 1/n_class: <paramref name="count"/> draws with
    /// replacement (default: the subset size), so every class is expected equally often.
    /// </summary>
    public int[] WeightedSample(int epoch, int? count = null)
    {
        var g = Rng(epoch, 0x3E16_0703UL);
        int n = count ?? SampleCount;
        var classes = Enumerable.Range(0, ClassCount).Where(c => Counts[c] > 0).ToArray();
        var r = new int[n];
        if (classes.Length == 0) return n == 0 ? r : throw new InvalidOperationException("no samples to draw from");
        // Weight 1/n_c per sample makes each class equally likely: pick a class uniformly, then a member uniformly.
        for (int i = 0; i < n; i++)
        {
            var c = _byClass[classes[g.NextInt(classes.Length)]];
            r[i] = c[g.NextInt(c.Length)];
        }
        return r;
    }

    /// <summary>A balanced order for an epoch, for DataLoader's subset (build a loader per epoch; it is cheap).</summary>
    public int[] BalancedOrder(int epoch, BalanceMode mode) => mode switch
    {
        BalanceMode.Oversample => Oversample(epoch),
        BalanceMode.Undersample => Undersample(epoch),
        BalanceMode.Weighted => WeightedSample(epoch),
        _ => (int[])_indices.Clone(),
    };
}

public enum BalanceMode { None, Oversample, Undersample, Weighted }
