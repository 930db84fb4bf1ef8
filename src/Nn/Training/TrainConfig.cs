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
    public string? Resume { get; init; }
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

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a JSON config; unknown keys and wrong types are errors that name the file.</summary>
    public static TrainConfig FromJsonFile(string path)
    {
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
        if (UnfreezeEvery < 0) throw new ArgumentException($"unfreeze_every must be non-negative, got {UnfreezeEvery}");
    }
}
