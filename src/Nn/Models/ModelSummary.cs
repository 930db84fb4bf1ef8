// A per-layer summary of a model: every leaf layer that ran, its output shape, parameters and MACs,
// found by running one forward pass while the layers report to a recorder.
using System.Text;
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public sealed record LayerSummary(string Name, string Type, int[] OutputShape, long Parameters, long Macs);

public sealed class ModelSummary
{
    [ThreadStatic] private static List<(Module Module, int[] Output, long Macs)>? _recording;

    public IReadOnlyList<LayerSummary> Layers { get; }
    public long TotalParameters { get; }
    public long TrainableParameters { get; }
    public long TotalMacs => Layers.Sum(l => l.Macs);
    public int[] InputShape { get; }

    private ModelSummary(IReadOnlyList<LayerSummary> layers, long total, long trainable, int[] input)
    {
        Layers = layers;
        TotalParameters = total;
        TrainableParameters = trainable;
        InputShape = input;
    }

    /// <summary>Called by leaf layers after their forward while a summary is being recorded.</summary>
    internal static void Report(Module module, Tensor output, long macs) => _recording?.Add((module, output.Shape, macs));

    /// <summary>Runs one eval-mode forward pass on zeros of the given shape (batch included) and tabulates the layers.</summary>
    public static ModelSummary Of(Module model, int[] inputShape)
    {
        var names = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (n, m) in model.NamedModules()) names.TryAdd(m, n);
        bool wasTraining = model.IsTraining;
        model.Eval();
        _recording = new();
        try
        {
            using var scope = new DisposeScope();
            using var noGrad = AutogradMode.NoGrad();
            model.Forward(Tensor.Zeros(inputShape));
            var layers = _recording.Select(r => new LayerSummary(
                names.TryGetValue(r.Module, out var n) ? n : "?", r.Module.GetType().Name, r.Output,
                r.Module.NamedParameters().Sum(p => (long)p.Value.Numel), r.Macs)).ToList();
            return new ModelSummary(layers, model.ParameterCount(), model.ParameterCount(trainableOnly: true), inputShape);
        }
        finally
        {
            _recording = null;
            model.Train(wasTraining);
        }
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        int w = Math.Max(20, Layers.Count == 0 ? 0 : Layers.Max(l => l.Name.Length) + 2);
        sb.AppendLine($"{"layer".PadRight(w)}{"type",-20}{"output",-22}{"params",14}{"MACs",16}");
        foreach (var l in Layers)
            sb.AppendLine($"{l.Name.PadRight(w)}{l.Type,-20}{Layout.ShapeString(l.OutputShape),-22}{l.Parameters,14:N0}{l.Macs,16:N0}");
        sb.AppendLine($"input {Layout.ShapeString(InputShape)}: {TotalParameters:N0} parameters ({TrainableParameters:N0} trainable), {TotalMacs:N0} MACs per batch ({TotalMacs / Math.Max(1, InputShape[0]) / 1e6:F1} M per image)");
        return sb.ToString();
    }
}
