// What a trained model expects of its input, stored with its weights (checkpoint metadata, ONNX metadata) so eval,
// predict and export reproduce training's preprocessing without flags: the model, channels, image size, the
// shorter side images are resized to before the centre crop, the per-channel mean and std, and the class names.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Data;

public sealed record Preprocessing
{
    /// <summary>The metadata key (checkpoints and ONNX files) that holds this record as JSON.</summary>
    public const string MetadataKey = "preprocessing";

    public required string Model { get; init; }
    public required int Channels { get; init; }
    /// <summary>The model's input is ImageSize x ImageSize.</summary>
    public required int ImageSize { get; init; }
    /// <summary>Evaluation resizes the shorter side to this, then centre-crops ImageSize (torchvision's Resize(256) +
    /// CenterCrop(224) for ImageNet-style models; equal to ImageSize when no border is cropped).</summary>
    public required int ResizeSize { get; init; }
    public required float[] Mean { get; init; }
    public required float[] Std { get; init; }
    public required string[] ClassNames { get; init; }

    /// <summary>ImageNet's fraction of the resized image kept by the centre crop (224 / 256).</summary>
    public const double ImageNetCropFraction = 0.875;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        TypeInfoResolver = IO.CudannJsonContext.Default,
    };

    public string ToJson() => IO.JsonText.Serialize(this, Json);

    public static Preprocessing FromJson(string json, string source)
    {
        Preprocessing p;
        try { p = IO.JsonText.Deserialize<Preprocessing>(json, Json) ?? throw new InvalidDataException($"{source}: empty '{MetadataKey}' metadata"); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: invalid '{MetadataKey}' metadata ({e.Message})", e); }
        p.Check(source);
        return p;
    }

    /// <summary>The record a file's metadata holds, or null when it has none (files from before it was stored).</summary>
    public static Preprocessing? FromMetadata(IReadOnlyDictionary<string, string> metadata, string source) =>
        metadata.TryGetValue(MetadataKey, out var json) ? FromJson(json, source) : null;

    /// <summary>Checks the record is usable and names the field at fault.</summary>
    public void Check(string source)
    {
        string Bad(string what) => $"{source}: preprocessing {what}";
        if (string.IsNullOrEmpty(Model)) throw new InvalidDataException(Bad("names no model"));
        if (Channels is < 1 or > 4) throw new InvalidDataException(Bad($"channels must be 1..4, got {Channels}"));
        if (ImageSize is < 1 or > 4096) throw new InvalidDataException(Bad($"image_size must be 1..4096, got {ImageSize}"));
        if (ResizeSize < ImageSize || ResizeSize > 8192) throw new InvalidDataException(Bad($"resize_size must be at least image_size ({ImageSize}) and at most 8192, got {ResizeSize}"));
        if (Mean is null || Std is null || (Mean.Length != Channels && Mean.Length != 1) || Std.Length != Mean.Length)
            throw new InvalidDataException(Bad($"mean and std need {Channels} values (or 1), got {Mean?.Length ?? 0} and {Std?.Length ?? 0}"));
        if (Mean.Any(v => !float.IsFinite(v)) || Std.Any(v => !(v > 0) || !float.IsFinite(v))) throw new InvalidDataException(Bad("mean must be finite and std positive"));
        if (ClassNames is null || ClassNames.Length == 0) throw new InvalidDataException(Bad("lists no class names"));
    }

    /// <summary>The evaluation pipeline: shorter side to ResizeSize, centre crop ImageSize, Normalize.</summary>
    public ITransform EvalTransform() => new Compose(new ResizeCenterCrop(ResizeSize, ImageSize), new Normalize(Mean, Std));

    /// <summary>The resize for a model trained at imageSize: ImageNet's 256-for-224 margin when cropFraction is 0.875.</summary>
    public static int ResizeFor(int imageSize, double cropFraction) => (int)Math.Floor(imageSize / cropFraction + 1e-9);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Channels}x{ImageSize}x{ImageSize}{(ResizeSize != ImageSize ? $" (eval: resize {ResizeSize}, centre crop)" : "")}, mean [{string.Join(", ", Mean.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture)))}], std [{string.Join(", ", Std.Select(v => v.ToString("0.####", CultureInfo.InvariantCulture)))}]");
}

/// <summary>Shorter side to resize (skipped when it already is), then a centre crop of crop x crop (skipped when the
/// image already is that size): the evaluation geometry, which leaves an image already at the input size untouched.</summary>
public sealed class ResizeCenterCrop(int resize, int crop) : ITransform
{
    public int ResizeSize { get; } = resize;
    public int CropSize { get; } = crop;

    public void Apply(ImageBuffer image, SampleRandom random)
    {
        if (Math.Min(image.Height, image.Width) != ResizeSize) ImageOps.ResizeShorter(image, ResizeSize);
        if (image.Height != CropSize || image.Width != CropSize) ImageOps.CenterCrop(image, CropSize, CropSize);
    }
}
