// Training checkpoints in one safetensors file: model ("model."), optimizer ("optim."), and the
// scheduler, loss scaler, generator and progress in the metadata. Written atomically, so a kill at any
// moment leaves the previous checkpoint intact.
using System.Globalization;
using Cuda.Nn.Amp;
using Cuda.Nn.IO;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Training;

public sealed record CheckpointState(int Epoch, double BestAccuracy, int BestEpoch);

public static class Checkpoint
{
    private static string S(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static void Save(string path, Module model, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler, int epoch, double best, int bestEpoch, TrainConfig? config = null, Data.Preprocessing? preprocessing = null)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (k, v) in model.StateDict()) tensors.Add(new("model." + k, v));
        var optState = optimizer.StateDict();
        try
        {
            foreach (var (k, v) in optState) tensors.Add(new("optim." + k, v));
            var (seed, offset) = Generator.Default.GetState();
            var (scale, growth) = scaler.GetState();
            var meta = new Dictionary<string, string>
            {
                ["format"] = "cudann-checkpoint-1",
                ["epoch"] = S(epoch),
                ["best_accuracy"] = S(best),
                ["best_epoch"] = S(bestEpoch),
                ["scheduler_steps"] = S(scheduler.StepCount),
                ["scaler_scale"] = S(scale),
                ["scaler_growth_tracker"] = S(growth),
                ["generator_seed"] = seed.ToString(CultureInfo.InvariantCulture),
                ["generator_offset"] = offset.ToString(CultureInfo.InvariantCulture),
            };
            if (config is not null)
            {
                meta["model"] = config.Model;
                meta["config"] = config.ToJson();
            }
            if (preprocessing is not null) meta[Data.Preprocessing.MetadataKey] = preprocessing.ToJson();
            TensorFile.Save(path, tensors, meta);
        }
        finally { foreach (var t in optState.Values) t.Dispose(); }
    }

    public static CheckpointState Load(string path, Module model, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler)
    {
        var all = TensorFile.Load(path, out var meta);
        try
        {
            if (!meta.TryGetValue("format", out var f) || f != "cudann-checkpoint-1")
                throw new InvalidDataException($"{path}: not a cudann training checkpoint (metadata 'format' is {(f is null ? "missing" : $"'{f}'")})");
            string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: checkpoint metadata lacks '{key}'");
            var modelState = all.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
            var optimState = all.Where(kv => kv.Key.StartsWith("optim.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
            model.LoadStateDict(modelState);
            optimizer.LoadStateDict(optimState);
            scheduler.SetStepCount(int.Parse(Get("scheduler_steps"), CultureInfo.InvariantCulture));
            scaler.SetState(double.Parse(Get("scaler_scale"), CultureInfo.InvariantCulture), int.Parse(Get("scaler_growth_tracker"), CultureInfo.InvariantCulture));
            Generator.Default.SetState(ulong.Parse(Get("generator_seed"), CultureInfo.InvariantCulture), ulong.Parse(Get("generator_offset"), CultureInfo.InvariantCulture));
            return new CheckpointState(int.Parse(Get("epoch"), CultureInfo.InvariantCulture), double.Parse(Get("best_accuracy"), CultureInfo.InvariantCulture), int.Parse(Get("best_epoch"), CultureInfo.InvariantCulture));
        }
        finally { foreach (var t in all.Values) t.Dispose(); }
    }

    /// <summary>Model weights only (torchvision-style names), e.g. best.safetensors.</summary>
    public static void SaveModel(string path, Module model, IReadOnlyDictionary<string, string>? metadata = null) => TensorFile.Save(path, model.StateDict(), metadata);

    /// <summary>The model name a checkpoint or weights file records in its metadata.</summary>
    public static string ModelName(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.Metadata.TryGetValue("model", out var m) ? m : throw new InvalidDataException($"{path} does not name its model in its metadata");
    }

    /// <summary>
    /// Builds the model a file names (metadata "model", or modelName) with the given options and loads its weights
    /// strictly: a training checkpoint (its "model." tensors) or a weights file such as best.safetensors.
    /// </summary>
    public static Module CreateFromFile(string path, Models.ModelOptions options, string? modelName = null)
    {
        var state = TensorFile.Load(path, out var meta);
        try
        {
            string name = modelName ?? (meta.TryGetValue("model", out var m) ? m : throw new InvalidDataException($"{path} does not name its model in its metadata: give the model name"));
            var weights = ModelWeights(state);
            var net = Models.ModelRegistry.Create(name, options);
            try
            {
                // A channel-pruned model is rebuilt at its recorded widths before its weights load.
                if (meta.TryGetValue(Compression.Pruning.WidthsMetadataKey, out var widths))
                    Compression.Pruning.ApplyWidths(net, Compression.Pruning.WidthsFromJson(widths, path));
                net.LoadStateDict(weights);
            }
            catch { net.Dispose(); throw; }
            return net;
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    /// <summary>The model's tensors of a file: a training checkpoint's "model." entries without the prefix, or a
    /// weights file's tensors as they are.</summary>
    public static Dictionary<string, Tensor> ModelWeights(Dictionary<string, Tensor> state) =>
        state.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal))
            ? state.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value)
            : state;

    public static StateDictLoadResult LoadModel(string path, Module model, bool strict = true)
    {
        var state = StateDictFile.Load(path); // safetensors, or a torch.save .pth/.pt (by content)
        try { return model.LoadStateDict(state, strict); }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }
}
