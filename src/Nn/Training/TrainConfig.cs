// Everything that defines a training run; written back out as config.json so a run can be repeated.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Training;

public sealed record TrainConfig
{
    public string Model { get; init; } = "resnet20";
    public string Data { get; init; } = Cuda.Nn.Data.ImageClassificationSet.DefaultFashionMnistDir;
    /// <summary>5 by default: 92.62% on Fashion-MNIST in 364 s on the 2-core machine (4 epochs gave 91.97% in 297 s,
    /// short of 92.0%). See bench/RESULTS.md.</summary>
    public int Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 128;
    /// <summary>sgd or adamw.</summary>
    public string Optimizer { get; init; } = "sgd";
    public double Lr { get; init; } = 0.1;
    public double Momentum { get; init; } = 0.9;
    public bool Nesterov { get; init; } = true;
    public double WeightDecay { get; init; } = 5e-4;
    /// <summary>cosine, step or constant; stepped per iteration.</summary>
    public string Schedule { get; init; } = "cosine";
    public double WarmupEpochs { get; init; }
    public double LabelSmoothing { get; init; }
    public bool Amp { get; init; }
    public ulong Seed { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public int Workers { get; init; } = 1;
    public string? Out { get; init; }
    /// <summary>Input size in pixels (square); 0 = from the data: 224 (efficientnet_b3: 256) when starting from
    /// pretrained weights (Init), else the images' own size (the median shorter side of photos, capped at 224).</summary>
    public int ImageSize { get; init; }
    /// <summary>Input channels for photos: 3 (RGB) or 1 (luminance); 0 = 3 for photos, the data's own for IDX/CIFAR.</summary>
    public int Channels { get; init; }
    /// <summary>Per-channel normalisation; null = ImageNet's with pretrained weights on RGB, else measured on the train split.</summary>
    public float[]? Mean { get; init; }
    public float[]? Std { get; init; }
    /// <summary>The validation fraction (stratified, from Seed) for data without its own test split.</summary>
    public double Val { get; init; } = 0.1;
    /// <summary>Class balance: none, oversample, undersample (resampled every epoch) or weights (inverse-frequency loss weights).</summary>
    public string Balance { get; init; } = "none";
    /// <summary>Leave out (and list) unreadable images and empty class folders instead of stopping.</summary>
    public bool SkipBad { get; init; }
    /// <summary>The per-sample train pipeline with torchvision's names and parameters (TransformConfig); null = the
    /// default for the data (see TrainData.DefaultTrainTransforms), which config.json then lists.</summary>
    public List<Cuda.Nn.Data.TransformSpec>? TrainTransforms { get; init; }
    /// <summary>The preset the run started from (finetune), for the record; its values are in the other fields.</summary>
    public string? Recipe { get; init; }
    /// <summary>Continue the run this checkpoint (or a run folder's checkpoint.safetensors) belongs to; see ResumeChanges.</summary>
    public string? Resume { get; init; }
    /// <summary>Also write checkpoint.safetensors every N training steps inside an epoch (0 = at epoch ends only).</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Replace a previous run in Out (its checkpoints, metrics and report) instead of refusing the folder.</summary>
    public bool Overwrite { get; init; }
    /// <summary>Use only the first N training samples (0 = all): for quick runs and tests.</summary>
    public int TrainLimit { get; init; }
    public int TestLimit { get; init; }
    /// <summary>Stop after this many epochs without a test-accuracy gain of at least MinDelta (0 = never).</summary>
    public int Patience { get; init; }
    public double MinDelta { get; init; }
    public bool Augment { get; init; } = true;
    /// <summary>MixUp with lam ~ Beta(a, a) on each training batch (0 = off); with CutMix too, each batch picks one.</summary>
    public double MixupAlpha { get; init; }
    /// <summary>CutMix with lam ~ Beta(a, a) on each training batch (0 = off).</summary>
    public double CutmixAlpha { get; init; }
    /// <summary>RandomErasing probability after normalisation (0 = off).</summary>
    public double RandomErasing { get; init; }
    public double GradClip { get; init; }
    /// <summary>Start from these weights (safetensors state dict); layers whose shapes differ, such as a head for another class count, keep their fresh init and are reported.</summary>
    public string? Init { get; init; }
    /// <summary>Train only the classification head.</summary>
    public bool FreezeBackbone { get; init; }
    /// <summary>Gradual unfreezing: with FreezeBackbone, unfreeze one more backbone stage (from the top) every N epochs (0 = never).</summary>
    public int UnfreezeEvery { get; init; }
    /// <summary>Knowledge distillation: a teacher model file (checkpoint or weights naming its model); null = plain training.</summary>
    public string? Teacher { get; init; }
    /// <summary>Softmax temperature of the distillation loss.</summary>
    public double DistillTemperature { get; init; } = 4;
    /// <summary>Weight of the distillation loss; the cross-entropy with the labels gets 1 - alpha.</summary>
    public double DistillAlpha { get; init; } = 0.5;
    /// <summary>Discriminative learning rates: the backbone trains at Lr times this factor, the head at Lr.</summary>
    public double BackboneLrFactor { get; init; } = 1.0;

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
        // A diverged loss is data ("NaN", "Infinity"), not a crash when a report or metrics line is written.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
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

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a JSON config; unknown keys and wrong types are errors that name the file.</summary>
    public static TrainConfig FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: no such file{(Directory.Exists(path) ? " (it is a folder)" : "")}", path);
        try
        {
            return JsonSerializer.Deserialize<TrainConfig>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid config ({e.Message})", e);
        }
    }

    /// <summary>Checks values and names the one at fault.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentException($"epochs must be at least 1, got {Epochs}");
        if (BatchSize < 1) throw new ArgumentException($"batch_size must be at least 1, got {BatchSize}");
        if (Lr <= 0) throw new ArgumentException($"lr must be positive, got {Lr}");
        if (Optimizer is not ("sgd" or "adamw" or "adam")) throw new ArgumentException($"optimizer must be sgd, adam or adamw, got '{Optimizer}'");
        if (Schedule is not ("cosine" or "step" or "constant")) throw new ArgumentException($"schedule must be cosine, step or constant, got '{Schedule}'");
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentException($"label_smoothing must be in [0, 1), got {LabelSmoothing}");
        if (Threads < 1) throw new ArgumentException($"threads must be at least 1, got {Threads}");
        if (BackboneLrFactor is < 0 or > 1e3) throw new ArgumentException($"backbone_lr_factor must be in [0, 1000], got {BackboneLrFactor}");
        if (MixupAlpha < 0 || CutmixAlpha < 0) throw new ArgumentException($"mixup_alpha and cutmix_alpha must be non-negative, got {MixupAlpha} and {CutmixAlpha}");
        if (RandomErasing is < 0 or > 1) throw new ArgumentException($"random_erasing must be a probability in [0, 1], got {RandomErasing}");
        if (DistillTemperature <= 0) throw new ArgumentException($"distill_temperature must be positive, got {DistillTemperature}");
        if (DistillAlpha is < 0 or > 1) throw new ArgumentException($"distill_alpha must be in [0, 1], got {DistillAlpha}");
        if (WeightDecay < 0) throw new ArgumentException($"weight_decay must be non-negative, got {WeightDecay}");
        if (ImageSize is < 0 or > 4096) throw new ArgumentException($"image_size must be in [1, 4096] (0 = from the data), got {ImageSize}");
        if (Channels is not (0 or 1 or 3)) throw new ArgumentException($"channels must be 1 or 3 (0 = from the data), got {Channels}");
        if (!(Val >= 0 && Val < 1)) throw new ArgumentException($"val must be a fraction in [0, 1), got {Val}");
        if (Balance is not ("none" or "oversample" or "undersample" or "weights")) throw new ArgumentException($"balance must be none, oversample, undersample or weights, got '{Balance}'");
        if ((Mean is null) != (Std is null) || (Mean is not null && (Mean.Length != Std!.Length || Mean.Length == 0)))
            throw new ArgumentException("mean and std must be given together, with the same number of values");
        if (Std is not null && Std.Any(v => !(v > 0))) throw new ArgumentException($"std values must be positive, got [{string.Join(", ", Std)}]");
        if (TrainLimit < 0 || TestLimit < 0) throw new ArgumentException($"train_limit and test_limit must be non-negative (0 = all), got {TrainLimit} and {TestLimit}");
        if (Recipe is not null && !Recipes.Contains(Recipe)) throw new ArgumentException($"recipe must be one of {string.Join(", ", Recipes)}, got '{Recipe}'");
        if (CheckpointEvery < 0) throw new ArgumentException($"checkpoint_every must be non-negative (0 = at epoch ends only), got {CheckpointEvery}");
        if (UnfreezeEvery < 0) throw new ArgumentException($"unfreeze_every must be non-negative, got {UnfreezeEvery}");
    }
}
