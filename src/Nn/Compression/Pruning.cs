// Pruning. Unstructured: the smallest-magnitude weights of conv and linear layers become zero (globally or
// per layer) and masks keep them zero while fine-tuning; dense kernels do not get faster from zeros.
// Structured: whole channels (hidden units) with the smallest L1 norm are removed from a producer layer, its
// batch norm and the layer that consumes them, so the model really has fewer parameters and FLOPs. Only
// channels internal to a block are cut (ResNet blocks, conv/linear chains in a Sequential): channels that feed
// a residual sum or a depthwise/grouped conv are left alone.
using System.Globalization;
using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Compression;

/// <summary>A prunable channel set: Producer's outputs, normalised by Norm (optional), read by Consumer.</summary>
public sealed record ChannelGroup(string Producer, Module ProducerModule, BatchNorm2d? Norm, Module Consumer)
{
    public int Channels => ProducerModule switch { Conv2d c => c.OutChannels, Linear l => l.OutFeatures, _ => 0 };
}

/// <summary>Zero masks of unstructured pruning, by parameter name; Apply keeps pruned weights at zero.</summary>
public sealed class PruningMasks : IDisposable
{
    private readonly Dictionary<string, Tensor> _masks;

    internal PruningMasks(Dictionary<string, Tensor> masks) => _masks = masks;

    public IReadOnlyDictionary<string, Tensor> Masks => _masks;

    /// <summary>Multiplies each masked weight by its mask (call after every optimizer step while fine-tuning).</summary>
    public void Apply(Module model)
    {
        using var noGrad = AutogradMode.NoGrad();
        foreach (var (name, p) in model.NamedParameters())
        {
            if (!_masks.TryGetValue(name, out var m)) continue;
            using var kept = p.Mul(m);
            p.CopyFrom(kept);
        }
    }

    public void Dispose()
    {
        foreach (var m in _masks.Values) m.Dispose();
    }
}

public sealed record LayerSparsity(string Name, long Elements, long Zeros)
{
    public double Sparsity => Elements == 0 ? 0 : (double)Zeros / Elements;
}

public static class Pruning
{
    internal static Tensor Index(int[] keep) => DisposeScope.Detach(Tensor.FromArray(keep.Select(i => (long)i).ToArray(), keep.Length));

    /// <summary>Weights that pruning considers: the weight of every Conv2d and Linear.</summary>
    public static IEnumerable<KeyValuePair<string, Tensor>> PrunableWeights(Module model) =>
        model.NamedModules().Where(m => m.Value is Conv2d or Linear).Select(m =>
            new KeyValuePair<string, Tensor>(m.Key.Length == 0 ? "weight" : m.Key + ".weight", m.Value is Conv2d c ? c.Weight : ((Linear)m.Value).Weight));

    /// <summary>
    /// Zeroes the fraction amount of prunable weights with the smallest magnitude: ranked over all layers together
    /// (global) or within each layer. Returns the masks, to be applied again after each fine-tuning step.
    /// </summary>
    public static PruningMasks Magnitude(Module model, double amount, bool global = true)
    {
        if (amount is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(amount), $"pruning amount must be in [0, 1), got {amount}");
        var weights = PrunableWeights(model).ToList();
        if (weights.Count == 0) throw new ArgumentException($"{model.GetType().Name} has no Conv2d or Linear weights to prune");
        var values = weights.ToDictionary(w => w.Key, w => w.Value.ToFloatArray());
        float Threshold(IEnumerable<float[]> arrays)
        {
            var all = arrays.SelectMany(a => a.Select(MathF.Abs)).ToArray();
            int k = (int)Math.Floor(amount * all.Length);
            if (k == 0) return -1;
            Array.Sort(all);
            return all[k - 1];
        }
        float globalThreshold = global ? Threshold(values.Values) : 0;
        var masks = new Dictionary<string, Tensor>();
        foreach (var (name, w) in weights)
        {
            var v = values[name];
            float t = global ? globalThreshold : Threshold([v]);
            // Ties at the threshold are pruned too only up to the requested count, so the amount is exact.
            int budget = global ? int.MaxValue : (int)Math.Floor(amount * v.Length);
            var mask = new float[v.Length];
            int pruned = 0;
            for (int i = 0; i < v.Length; i++)
            {
                bool cut = MathF.Abs(v[i]) < t || (MathF.Abs(v[i]) == t && pruned < budget);
                if (cut) pruned++;
                mask[i] = cut ? 0 : 1;
            }
            masks[name] = DisposeScope.Detach(Tensor.FromArray(mask, w.ShapeRef.ToArray()).To(w.DType));
        }
        var result = new PruningMasks(masks);
        result.Apply(model);
        return result;
    }

    /// <summary>Zeros per prunable layer (and in total, as the last entry named "total").</summary>
    public static List<LayerSparsity> Sparsity(Module model)
    {
        var list = new List<LayerSparsity>();
        foreach (var (name, w) in PrunableWeights(model))
        {
            var v = w.ToFloatArray();
            list.Add(new LayerSparsity(name, v.Length, v.LongCount(x => x == 0)));
        }
        list.Add(new LayerSparsity("total", list.Sum(l => l.Elements), list.Sum(l => l.Zeros)));
        return list;
    }

    /// <summary>The channel groups that can be cut without touching residual sums or grouped convolutions.</summary>
    public static List<ChannelGroup> ChannelGroups(Module model)
    {
        var groups = new List<ChannelGroup>();
        foreach (var (path, m) in model.NamedModules())
        {
            string P(string child) => path.Length == 0 ? child : $"{path}.{child}";
            var kids = m.NamedChildren().ToDictionary(k => k.Key, k => k.Value);
            if (m is BasicBlock or Bottleneck)
            {
                // conv1 -> bn1 -> conv2 (and conv2 -> bn2 -> conv3 in a bottleneck) stay inside the block.
                AddIfPlain(groups, P("conv1"), kids["conv1"], kids["bn1"] as BatchNorm2d, kids["conv2"]);
                if (m is Bottleneck) AddIfPlain(groups, P("conv2"), kids["conv2"], kids["bn2"] as BatchNorm2d, kids["conv3"]);
                continue;
            }
            if (m is not Sequential seq) continue;
            // In a Sequential: a conv or linear layer, an optional batch norm and shape-keeping layers, then the next conv or linear.
            for (int i = 0; i < seq.Count; i++)
            {
                if (seq[i] is not (Conv2d or Linear)) continue;
                BatchNorm2d? norm = null;
                int j = i + 1;
                if (j < seq.Count && seq[j] is BatchNorm2d bn) { norm = bn; j++; }
                while (j < seq.Count && seq[j] is Activation or Dropout or Identity) j++;
                if (j < seq.Count && ((seq[i] is Conv2d && seq[j] is Conv2d) || (seq[i] is Linear && seq[j] is Linear)))
                    AddIfPlain(groups, P(seq.NamedChildren().ElementAt(i).Key), seq[i], norm, seq[j]);
            }
        }
        return groups;
    }

    private static void AddIfPlain(List<ChannelGroup> groups, string name, Module producer, BatchNorm2d? norm, Module consumer)
    {
        if (producer is Conv2d { Groups: not 1 } || consumer is Conv2d { Groups: not 1 }) return;
        groups.Add(new ChannelGroup(name, producer, norm, consumer));
    }

    /// <summary>L1 norm of each output channel (filter) of the producer.</summary>
    public static float[] ChannelNorms(ChannelGroup g)
    {
        var w = g.ProducerModule is Conv2d c ? c.Weight : ((Linear)g.ProducerModule).Weight;
        var v = w.ToFloatArray();
        int n = w.ShapeRef[0], per = v.Length / n;
        var norms = new float[n];
        for (int o = 0; o < n; o++)
        {
            double s = 0;
            for (int i = 0; i < per; i++) s += Math.Abs(v[o * per + i]);
            norms[o] = (float)s;
        }
        return norms;
    }

    /// <summary>Keeps the listed channels (ascending) of a group in producer, batch norm and consumer.</summary>
    public static void Keep(ChannelGroup g, int[] keep)
    {
        if (keep.Length == 0) throw new ArgumentException($"{g.Producer}: at least one channel must stay");
        if (g.ProducerModule is Conv2d pc) pc.KeepChannels(keep, null); else ((Linear)g.ProducerModule).KeepFeatures(keep, null);
        g.Norm?.KeepChannels(keep);
        if (g.Consumer is Conv2d cc) cc.KeepChannels(null, keep); else ((Linear)g.Consumer).KeepFeatures(null, keep);
    }

    /// <summary>
    /// Removes the fraction amount of channels with the smallest L1 norm from every channel group (at least one
    /// stays per group). Returns the kept width of each group by producer name (the model's "pruned_widths").
    /// </summary>
    public static Dictionary<string, int> Channels(Module model, double amount)
    {
        if (amount is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(amount), $"pruning amount must be in [0, 1), got {amount}");
        var groups = ChannelGroups(model);
        if (groups.Count == 0) throw new ArgumentException($"{model.GetType().Name} has no channel groups that can be pruned (ResNet blocks or conv/linear chains in a Sequential)");
        var widths = new Dictionary<string, int>();
        foreach (var g in groups)
        {
            var norms = ChannelNorms(g);
            int keepCount = Math.Max(1, norms.Length - (int)Math.Floor(amount * norms.Length));
            var keep = Enumerable.Range(0, norms.Length).OrderByDescending(i => norms[i]).ThenBy(i => i).Take(keepCount).Order().ToArray();
            Keep(g, keep);
            widths[g.Producer] = keepCount;
        }
        return widths;
    }

    /// <summary>Gives a freshly built model the widths recorded by Channels (keeping the first channels), so a pruned state dict loads.</summary>
    public static void ApplyWidths(Module model, IReadOnlyDictionary<string, int> widths)
    {
        var groups = ChannelGroups(model).ToDictionary(g => g.Producer);
        foreach (var (name, width) in widths)
        {
            if (!groups.TryGetValue(name, out var g)) throw new InvalidDataException($"pruned width for '{name}', but the model has no prunable channel group there");
            if (width < 1 || width > g.Channels) throw new InvalidDataException($"pruned width {width} for '{name}' is outside 1..{g.Channels}");
            Keep(g, Enumerable.Range(0, width).ToArray());
        }
    }

    public const string WidthsMetadataKey = "pruned_widths";

    public static string WidthsToJson(IReadOnlyDictionary<string, int> widths) => IO.JsonText.Serialize(widths.ToDictionary(), IO.JsonText.Plain);

    public static Dictionary<string, int> WidthsFromJson(string json, string source)
    {
        try { return IO.JsonText.Deserialize<Dictionary<string, int>>(json, IO.JsonText.Plain) ?? []; }
        catch (JsonException e) { throw new InvalidDataException($"{source}: metadata '{WidthsMetadataKey}' is not a JSON object of widths ({e.Message})", e); }
    }

    /// <summary>Counts for a report line.</summary>
    public static string Describe(Dictionary<string, int> widths, Module model) =>
        string.Join(", ", widths.Select(kv => $"{kv.Key} {kv.Value}")) + string.Create(CultureInfo.InvariantCulture, $" ({model.ParameterCount():N0} parameters)");
}
