// Transfer learning: which parameters are the head, freezing the backbone, and gradual unfreezing of
// backbone stages from the top.
using Cuda.Nn.Modules;

namespace Cuda.Nn.Training;

public sealed class TransferLearning
{
    /// <summary>Names of the classification heads of the zoo's models (torchvision's).</summary>
    public static readonly string[] HeadNames = ["fc", "classifier", "heads"];

    private readonly TrainConfig _config;
    private readonly List<(string Name, Module Stage)> _stages;
    private int _unfrozenStages;

    public IReadOnlyList<Tensor> Head { get; }
    public IReadOnlyList<Tensor> Backbone { get; }

    public TransferLearning(Module model, TrainConfig config)
    {
        _config = config;
        var children = model.NamedChildren().ToList();
        string? head = children.Select(c => c.Key).LastOrDefault(n => HeadNames.Contains(n));
        var headChild = head is null ? children.LastOrDefault() : children.First(c => c.Key == head);
        Head = headChild.Value?.Parameters().ToList() ?? [];
        var headSet = new HashSet<Tensor>(Head, ReferenceEqualityComparer.Instance);
        Backbone = model.Parameters().Where(p => !headSet.Contains(p)).ToList();
        // Backbone stages, top (closest to the head) first: the children that hold parameters.
        _stages = children.Where(c => c.Key != headChild.Key && c.Value.Parameters().Any()).Select(c => (c.Key, c.Value)).Reverse().ToList();
        if (config.FreezeBackbone) foreach (var p in Backbone) p.RequiresGrad = false;
    }

    /// <summary>At the start of an epoch, unfreezes the next stage when gradual unfreezing calls for it; returns what changed.</summary>
    public string? ApplyEpoch(int epoch)
    {
        if (!_config.FreezeBackbone || _config.UnfreezeEvery <= 0) return null;
        int want = Math.Min(_stages.Count, epoch / _config.UnfreezeEvery);
        if (want <= _unfrozenStages) return null;
        var names = new List<string>();
        for (int i = _unfrozenStages; i < want; i++)
        {
            _stages[i].Stage.Freeze(false);
            names.Add(_stages[i].Name);
        }
        _unfrozenStages = want;
        return $"epoch {epoch + 1}: unfroze {string.Join(", ", names)} ({_unfrozenStages}/{_stages.Count} backbone stages trainable)";
    }
}
