// Everything that defines a training run; written back out as config.json so a run can be repeated. The properties
// have setters, not init: System.Text.Json's source generator (IO/JsonContracts.cs) binds init-only properties as
// constructor arguments and gives a member the JSON leaves out default(T) instead of its initializer, so a config
// file naming only "epochs" would have trained with batch size 0. Treat a config as a value: copy it with `with`.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Training;

public sealed record TrainConfig
{
    public string Model { get; set; } = "resnet20";
    public string Data { get; set; } = Cuda.Nn.Data.ImageClassificationSet.DefaultFashionMnistDir;
    /// <summary>5 by default: 92.62% on Fashion-MNIST in 364 s on the 2-core machine (4 epochs gave 91.97% in 297 s,
    /// short of 92.0%). See bench/RESULTS.md.</summary>
    public int Epochs { get; set; } = 5;
    public int BatchSize { get; set; } = 128;
    /// <summary>sgd or adamw.</summary>
    public string Optimizer { get; set; } = "sgd";
    public double Lr { get; set; } = 0.1;
    public double Momentum { get; set; } = 0.9;
    public bool Nesterov { get; set; } = true;
    public double WeightDecay { get; set; } = 5e-4;
    /// <summary>cosine, step or constant; stepped per iteration.</summary>
    public string Schedule { get; set; } = "cosine";
    public double WarmupEpochs { get; set; }
    public double LabelSmoothing { get; set; }
    public bool Amp { get; set; }
    public ulong Seed { get; set; }
    public int Threads { get; set; } = Environment.ProcessorCount;
    public int Workers { get; set; } = 1;
    public string? Out { get; set; }
    /// <summary>Input size in pixels (square); 0 = from the data: 224 (efficientnet_b3: 256) when starting from
    /// pretrained weights (Init), else the images' own size (the median shorter side of photos, capped at 224).</summary>
    public int ImageSize { get; set; }
    /// <summary>Input channels for photos: 3 (RGB) or 1 (luminance); 0 = 3 for photos, the data's own for IDX/CIFAR.</summary>
    public int Channels { get; set; }
    /// <summary>Per-channel normalisation; null = ImageNet's with pretrained weights on RGB, else measured on the train split.</summary>
    public float[]? Mean { get; set; }
    public float[]? Std { get; set; }
    /// <summary>The validation fraction (stratified, from Seed) for data without its own test split.</summary>
    public double Val { get; set; } = 0.1;
    /// <summary>Class balance: none, oversample, undersample (resampled every epoch) or weights (inverse-frequency loss weights).</summary>
    public string Balance { get; set; } = "none";
    /// <summary>Leave out (and list) unreadable images and empty class folders instead of stopping.</summary>
    public bool SkipBad { get; set; }
    /// <summary>The per-sample train pipeline with torchvision's names and parameters (TransformConfig); null = the
    /// default for the data (see TrainData.DefaultTrainTransforms), which config.json then lists.</summary>
    public List<Cuda.Nn.Data.TransformSpec>? TrainTransforms { get; set; }
    /// <summary>The preset the run started from (finetune), for the record; its values are in the other fields.</summary>
    public string? Recipe { get; set; }
    /// <summary>Continue the run this checkpoint (or a run folder's checkpoint.safetensors) belongs to; see ResumeChanges.</summary>
    public string? Resume { get; set; }
    /// <summary>Also write checkpoint.safetensors every N training steps inside an epoch (0 = at epoch ends only).</summary>
    public int CheckpointEvery { get; set; }
    /// <summary>Replace a previous run in Out (its checkpoints, metrics and report) instead of refusing the folder.</summary>
    public bool Overwrite { get; set; }
    /// <summary>Use only the first N training samples (0 = all): for quick runs and tests.</summary>
    public int TrainLimit { get; set; }
    public int TestLimit { get; set; }
    /// <summary>Stop after this many epochs without a test-accuracy gain of at least MinDelta (0 = never).</summary>
    public int Patience { get; set; }
    public double MinDelta { get; set; }
    public bool Augment { get; set; } = true;
    /// <summary>MixUp with lam ~ Beta(a, a) on each training batch (0 = off); with CutMix too, each batch picks one.</summary>
    public double MixupAlpha { get; set; }
    /// <summary>CutMix with lam ~ Beta(a, a) on each training batch (0 = off).</summary>
    public double CutmixAlpha { get; set; }
    /// <summary>RandomErasing probability after normalisation (0 = off).</summary>
    public double RandomErasing { get; set; }
    public double GradClip { get; set; }
    /// <summary>Data-parallel runs: batch-norm statistics over the global batch of all ranks (torch's SyncBatchNorm),
    /// instead of each rank's own (the default, as in PyTorch).</summary>
    public bool SyncBn { get; set; }
    /// <summary>Start from these weights (safetensors state dict); layers whose shapes differ, such as a head for another class count, keep their fresh init and are reported.</summary>
    public string? Init { get; set; }
    /// <summary>Train only the classification head.</summary>
    public bool FreezeBackbone { get; set; }
    /// <summary>Gradual unfreezing: with FreezeBackbone, unfreeze one more backbone stage (from the top) every N epochs (0 = never).</summary>
    public int UnfreezeEvery { get; set; }
    /// <summary>Knowledge distillation: a teacher model file (checkpoint or weights naming its model); null = plain training.</summary>
    public string? Teacher { get; set; }
    /// <summary>Softmax temperature of the distillation loss.</summary>
    public double DistillTemperature { get; set; } = 4;
    /// <summary>Weight of the distillation loss; the cross-entropy with the labels gets 1 - alpha.</summary>
    public double DistillAlpha { get; set; } = 0.5;
    /// <summary>Discriminative learning rates: the backbone trains at Lr times this factor, the head at Lr.</summary>
    public double BackboneLrFactor { get; set; } = 1.0;

    /// <summary>The presets --recipe names.</summary>
    public static readonly string[] Recipes = ["finetune"];

    /// <summary>
    /// The fine-tuning recipe for pretrained weights on a user's photos: AdamW (lr 1e-4, weight decay 1e-4), 5 warmup
    /// epochs then cosine, the backbone at 0.1x the head's LR, the backbone frozen at first and unfrozen one stage
    /// every 2 epochs from the top, early stopping after 5 epochs without a gain; 30 epochs.
    /// </summary>
    public TrainConfig WithRecipe(string name) => name switch
    {
        "finetune" => this with
        {
            Recipe = name, Optimizer = "adamw", Lr = 1e-4, WeightDecay = 1e-4, Schedule = "cosine", WarmupEpochs = 5, Epochs = 30,
            BackboneLrFactor = 0.1, FreezeBackbone = true, UnfreezeEvery = 2, Patience = 5,
        },
        _ => throw new ArgumentException($"recipe must be one of {string.Join(", ", Recipes)}, got '{name}'"),
    };

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        // A diverged loss or an undefined metric is data (null), not a crash when a report or metrics line is written.
        Converters = { new IO.NonFiniteAsNullDouble(), new IO.NonFiniteAsNullSingle() },
        TypeInfoResolver = IO.CudannJsonContext.Default,
    };

    /// <summary>The fields a resumed run may change: they do not change what the run computes, or (Epochs, Threads)
    /// change it in a documented way (docs/reproducibility.md).</summary>
    public static readonly string[] ResumeMayChange = ["epochs", "threads", "workers", "out", "resume", "checkpoint_every", "overwrite"];

    /// <summary>The command-line option of a config key (they differ for a few).</summary>
    public static string OptionOf(string key) => key switch
    {
        "warmup_epochs" => "--warmup",
        "mixup_alpha" => "--mixup",
        "cutmix_alpha" => "--cutmix",
        "distill_temperature" => "--temperature",
        "image_size" => "--size",
        "train_transforms" => "train_transforms (config file)",
        _ => "--" + key.Replace('_', '-'),
    };

    /// <summary>The fields (config keys) other than ResumeMayChange where this config differs from a run's stored
    /// one, with both values as JSON.</summary>
    public IReadOnlyList<(string Key, string Stored, string Given)> ResumeChanges(TrainConfig stored)
    {
        var a = System.Text.Json.Nodes.JsonNode.Parse(stored.ToJson())!.AsObject();
        var b = System.Text.Json.Nodes.JsonNode.Parse(ToJson())!.AsObject();
        var changes = new List<(string, string, string)>();
        foreach (var (key, given) in b)
        {
            if (ResumeMayChange.Contains(key)) continue;
            string g = given?.ToJsonString() ?? "null", st = a[key]?.ToJsonString() ?? "null";
            if (g != st) changes.Add((key, st, g));
        }
        return changes;
    }

    public string ToJson() => IO.JsonText.Serialize(this, Json);

    /// <summary>Reads a JSON config; unknown keys and wrong types are errors that name the file.</summary>
    public static TrainConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: no such file{(Directory.Exists(path) ? " (it is a folder)" : "")}", path);
        try
        {
            return IO.JsonText.Deserialize<TrainConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid config ({e.Message})", e);
        }
    }

    /// <summary>Checks values and names the one at fault, as the option and as the config key.</summary>
    public void Validate()
    {
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        void Check(bool ok, string flag, string key, string rule, object? value)
        {
            if (!ok) throw new ArgumentException(string.Create(ci, $"--{flag} (config: {key}) {rule}, got {value}"));
        }
        Check(Epochs >= 1, "epochs", "epochs", "must be at least 1", Epochs);
        Check(BatchSize >= 1, "batch-size", "batch_size", "must be at least 1", BatchSize);
        Check(Lr > 0, "lr", "lr", "must be positive", Lr);
        Check(Momentum is >= 0 and < 1, "momentum", "momentum", "must be in [0, 1)", Momentum);
        Check(Optimizer is "sgd" or "adamw" or "adam", "optimizer", "optimizer", "must be sgd, adam or adamw", $"'{Optimizer}'");
        Check(Schedule is "cosine" or "step" or "constant", "schedule", "schedule", "must be cosine, step or constant", $"'{Schedule}'");
        Check(WarmupEpochs >= 0, "warmup", "warmup_epochs", "must be non-negative (epochs)", WarmupEpochs);
        Check(LabelSmoothing is >= 0 and < 1, "label-smoothing", "label_smoothing", "must be in [0, 1)", LabelSmoothing);
        Check(Threads >= 1, "threads", "threads", "must be at least 1", Threads);
        Check(Workers >= 0, "workers", "workers", "must be non-negative", Workers);
        Check(BackboneLrFactor is >= 0 and <= 1e3, "backbone-lr-factor", "backbone_lr_factor", "must be in [0, 1000]", BackboneLrFactor);
        Check(MixupAlpha >= 0, "mixup", "mixup_alpha", "must be non-negative", MixupAlpha);
        Check(CutmixAlpha >= 0, "cutmix", "cutmix_alpha", "must be non-negative", CutmixAlpha);
        Check(RandomErasing is >= 0 and <= 1, "random-erasing", "random_erasing", "must be a probability in [0, 1]", RandomErasing);
        Check(DistillTemperature > 0, "temperature", "distill_temperature", "must be positive", DistillTemperature);
        Check(DistillAlpha is >= 0 and <= 1, "distill-alpha", "distill_alpha", "must be in [0, 1]", DistillAlpha);
        Check(WeightDecay >= 0, "weight-decay", "weight_decay", "must be non-negative", WeightDecay);
        Check(GradClip >= 0, "grad-clip", "grad_clip", "must be non-negative (0 = no clipping)", GradClip);
        Check(Patience >= 0, "patience", "patience", "must be non-negative (0 = no early stopping)", Patience);
        Check(MinDelta >= 0, "min-delta", "min_delta", "must be non-negative", MinDelta);
        Check(ImageSize is >= 0 and <= 4096, "size", "image_size", "must be in [1, 4096] (0 = from the data)", ImageSize);
        Check(Channels is 0 or 1 or 3, "channels", "channels", "must be 1 or 3 (0 = from the data)", Channels);
        Check(Val is >= 0 and < 1, "val", "val", "must be a fraction in [0, 1)", Val);
        Check(Balance is "none" or "oversample" or "undersample" or "weights", "balance", "balance", "must be none, oversample, undersample or weights", $"'{Balance}'");
        if ((Mean is null) != (Std is null) || (Mean is not null && (Mean.Length != Std!.Length || Mean.Length == 0)))
            throw new ArgumentException("--mean and --std (config: mean, std) must be given together, with the same number of values");
        Check(Std is null || Std.All(v => v > 0), "std", "std", "values must be positive", Std is null ? "" : $"[{string.Join(", ", Std)}]");
        Check(TrainLimit >= 0, "train-limit", "train_limit", "must be non-negative (0 = all images)", TrainLimit);
        Check(TestLimit >= 0, "test-limit", "test_limit", "must be non-negative (0 = all images)", TestLimit);
        Check(Recipe is null || Recipes.Contains(Recipe), "recipe", "recipe", $"must be one of {string.Join(", ", Recipes)}", $"'{Recipe}'");
        Check(CheckpointEvery >= 0, "checkpoint-every", "checkpoint_every", "must be non-negative (0 = at epoch ends only)", CheckpointEvery);
        Check(UnfreezeEvery >= 0, "unfreeze-every", "unfreeze_every", "must be non-negative", UnfreezeEvery);
    }
}
