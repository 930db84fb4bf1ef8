// Training checkpoints in one safetensors file: model ("model."), optimizer ("optim."), and in the metadata
// everything else a run needs to continue as if it had not stopped: the effective configuration, a hash of the
// split, the scheduler, loss scaler and generator states, the position inside the epoch with its running sums,
// the early-stopping state and the metrics of every finished epoch. The checkpoint is the run's commit point:
// metrics.jsonl and best.safetensors are rebuilt from it on resume. Written atomically (AtomicFile).
using System.Globalization;
using System.Text.Json;
using Cuda.Nn.Amp;
using Cuda.Nn.IO;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Training;

/// <summary>Running sums of a partly trained epoch (a mid-epoch checkpoint).</summary>
public sealed record EpochProgress(double LossSum, long Correct, long Seen, double Seconds, int SkippedSteps)
{
    public static readonly EpochProgress Empty = new(0, 0, 0, 0, 0);
}

/// <param name="Epoch">Epochs finished.</param>
/// <param name="BestAccuracy">The best test accuracy so far.</param>
/// <param name="BestEpoch">The epoch that reached it.</param>
public sealed record CheckpointState(int Epoch, double BestAccuracy, int BestEpoch)
{
    /// <summary>Steps of epoch Epoch + 1 already taken (0 at an epoch boundary).</summary>
    public int Step { get; init; }
    public EpochProgress Progress { get; init; } = EpochProgress.Empty;
    /// <summary>Epochs since the best one (early stopping).</summary>
    public int SinceBest { get; init; }
    /// <summary>Metrics of the finished epochs; null in checkpoints written before they were recorded.</summary>
    public IReadOnlyList<EpochMetrics>? History { get; init; }
    /// <summary>SHA-256 of the run's split.json, so a resume on data that no longer gives that split is refused.</summary>
    public string? SplitSha256 { get; init; }
    /// <summary>Ranks that trained the run (data-parallel); a resume must use as many.</summary>
    public int WorldSize { get; init; } = 1;
}

public static class Checkpoint
{
    public const string Format = "cudann-checkpoint-2";
    private static string S(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string S(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static void Save(string path, Module model, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler, CheckpointState state, TrainConfig? config = null, Data.Preprocessing? preprocessing = null)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var (k, v) in model.StateDict()) tensors.Add(new("model." + k, v));
        var optState = optimizer.StateDict();
        try
        {
            foreach (var (k, v) in optState) tensors.Add(new("optim." + k, v));
            var (seed, offset) = Generator.Default.GetState();
            var (scale, growth) = scaler.GetState();
            var p = state.Progress;
            var meta = new Dictionary<string, string>
            {
                ["format"] = Format,
                ["epoch"] = S(state.Epoch),
                ["step"] = S(state.Step),
                ["best_accuracy"] = S(state.BestAccuracy),
                ["best_epoch"] = S(state.BestEpoch),
                ["since_best"] = S(state.SinceBest),
                ["scheduler_steps"] = S(scheduler.StepCount),
                ["scaler_scale"] = S(scale),
                ["scaler_growth_tracker"] = S(growth),
                ["scaler_skipped_steps"] = S(scaler.SkippedSteps),
                ["generator_seed"] = seed.ToString(CultureInfo.InvariantCulture),
                ["generator_offset"] = offset.ToString(CultureInfo.InvariantCulture),
                ["epoch_progress"] = JsonText.Serialize(p, TrainConfig.Json),
                ["history"] = JsonText.Serialize(state.History ?? [], TrainConfig.Json),
            };
            if (state.SplitSha256 is not null) meta["split_sha256"] = state.SplitSha256;
            if (state.WorldSize != 1) meta["world_size"] = S(state.WorldSize);
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

    /// <summary>Where a checkpoint's run stands, from its metadata alone.</summary>
    public sealed record Info(int Epoch, int Step, string? SplitSha256, int WorldSize);

    public static Info ReadInfo(string path)
    {
        var meta = TrainingMetadata(path);
        int Int(string key) => meta.TryGetValue(key, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out int n) ? n : 0;
        // Written only by data-parallel runs: absent means one process.
        return new Info(Int("epoch"), Int("step"), meta.GetValueOrDefault("split_sha256"), meta.ContainsKey("world_size") ? Int("world_size") : 1);
    }

    private static IReadOnlyDictionary<string, string> TrainingMetadata(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var f) || !f.StartsWith("cudann-checkpoint-", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: not a cudann training checkpoint (metadata 'format' is {(f is null ? "missing" : $"'{f}'")}); --resume takes RUN/checkpoint.safetensors");
        return file.Metadata;
    }

    /// <summary>The configuration a training checkpoint was written with (null for an old checkpoint without it).</summary>
    public static TrainConfig? ReadConfig(string path)
    {
        if (!TrainingMetadata(path).TryGetValue("config", out var json)) return null;
        try { return JsonText.Deserialize<TrainConfig>(json, TrainConfig.Json); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: its stored configuration does not parse ({e.Message})", e); }
    }

    public static CheckpointState Load(string path, Module model, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler)
    {
        var all = TensorFile.Load(path, out var meta);
        try
        {
            if (!meta.TryGetValue("format", out var f) || f is not ("cudann-checkpoint-1" or Format))
                throw new InvalidDataException($"{path}: not a cudann training checkpoint (metadata 'format' is {(f is null ? "missing" : $"'{f}'")})");
            string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"{path}: checkpoint metadata lacks '{key}'");
            int Int(string key, int fallback = 0) => meta.ContainsKey(key) || f == Format ? int.Parse(Get(key), CultureInfo.InvariantCulture) : fallback;
            T? Json<T>(string key) where T : class
            {
                if (!meta.TryGetValue(key, out var v)) return f == Format ? throw new InvalidDataException($"{path}: checkpoint metadata lacks '{key}'") : null;
                try { return JsonText.Deserialize<T>(v, TrainConfig.Json); }
                catch (JsonException e) { throw new InvalidDataException($"{path}: checkpoint metadata '{key}' does not parse ({e.Message})", e); }
            }
            var modelState = all.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
            var optimState = all.Where(kv => kv.Key.StartsWith("optim.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value);
            model.LoadStateDict(modelState);
            optimizer.LoadStateDict(optimState);
            scheduler.SetStepCount(Int("scheduler_steps"));
            scaler.SetState(double.Parse(Get("scaler_scale"), CultureInfo.InvariantCulture), Int("scaler_growth_tracker"), Int("scaler_skipped_steps"));
            Generator.Default.SetState(ulong.Parse(Get("generator_seed"), CultureInfo.InvariantCulture), ulong.Parse(Get("generator_offset"), CultureInfo.InvariantCulture));
            return new CheckpointState(Int("epoch"), double.Parse(Get("best_accuracy"), CultureInfo.InvariantCulture), Int("best_epoch"))
            {
                Step = Int("step"),
                SinceBest = Int("since_best"),
                Progress = Json<EpochProgress>("epoch_progress") ?? EpochProgress.Empty,
                History = Json<List<EpochMetrics>>("history"),
                SplitSha256 = meta.GetValueOrDefault("split_sha256"),
                WorldSize = meta.TryGetValue("world_size", out var w) ? int.Parse(w, CultureInfo.InvariantCulture) : 1,
            };
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
                LoadWeightsInto(net, weights, path, name, meta.GetValueOrDefault("model"));
            }
            catch { net.Dispose(); throw; }
            return net;
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    /// <summary>Loads a file's weights into a model built as <paramref name="built"/>; a mismatch is one line naming
    /// the file, the model it was loaded into and, when the file names another, the model it stores.</summary>
    public static void LoadWeightsInto(Module net, IReadOnlyDictionary<string, Tensor> weights, string path, string built, string? stored)
    {
        try { net.LoadStateDict(weights); }
        catch (InvalidDataException e)
        {
            string which = stored is not null && stored != built
                ? $"{path} stores a {stored} model, not {built}: drop the model option or give {stored}"
                : $"{path}: its weights do not fit a {built} model built with these options";
            throw new InvalidDataException($"{which} ({e.Message})", e);
        }
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
