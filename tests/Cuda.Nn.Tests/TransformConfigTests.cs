// Transform pipelines from torchvision-named specs: each name builds what the direct constructor builds (same
// bits on the same image and sample stream), specs round-trip through JSON, and every refusal names its place.
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public class TransformConfigTests
{
    private const string Source = "run.json: train_transforms";

    private static ImageBuffer Ramp(int c = 3, int h = 20, int w = 24)
    {
        var img = new ImageBuffer(c, h, w);
        for (int i = 0; i < img.Size; i++) img.Data[i] = (i * 37 % 101) / 100f;
        return img;
    }

    private static int[] Bits(ImageBuffer img) => [.. img.Data.AsSpan(0, img.Size).ToArray().Select(BitConverter.SingleToInt32Bits)];

    /// <summary>Applies both to the same image with the same sample streams and compares every bit.</summary>
    private static void AssertSame(ITransform fromSpec, ITransform? direct, string what)
    {
        for (int s = 0; s < 6; s++)
        {
            var a = Ramp();
            var b = Ramp();
            fromSpec.Apply(a, new SampleRandom(9, 1, s));
            direct?.Apply(b, new SampleRandom(9, 1, s));
            Assert.True((a.Channels, a.Height, a.Width) == (b.Channels, b.Height, b.Width), $"{what}: sample {s} is {a.Channels}x{a.Height}x{a.Width}, direct {b.Channels}x{b.Height}x{b.Width}");
            Assert.True(Bits(a).SequenceEqual(Bits(b)), $"{what}: sample {s} differs from the direct transform");
        }
    }

    private static Compose Build(TransformSpec spec, TransformContext? context = null) => TransformConfig.Build([spec], context ?? new TransformContext(), Source);

    public static TheoryData<string> SupportedNames => [.. TransformConfig.Names];

    /// <summary>Per name, specs and the transforms they must equal (null: a no-op).</summary>
    private static IEnumerable<(TransformSpec Spec, ITransform? Direct)> Equivalents(string name) => name switch
    {
        "RandomCrop" =>
        [
            (TransformSpec.Of(name, ("size", 16), ("padding", 2)), new RandomCrop(16, padding: 2)),
            (TransformSpec.Of(name, ("size", new[] { 12, 16 }), ("padding", new[] { 1, 2, 3, 4 }), ("fill", 0.5), ("padding_mode", "constant")),
                new RandomCrop(12, 16, (1, 2, 3, 4), 0.5f)),
            (TransformSpec.Of(name, ("size", (22, 30)), ("padding", (1, 0)), ("pad_if_needed", true)), new RandomCrop(22, 30, (1, 0, 1, 0), padIfNeeded: true)),
        ],
        "RandomResizedCrop" =>
        [
            (TransformSpec.Of(name, ("size", new[] { 10, 14 })), new RandomResizedCrop(10, 14)),
            (TransformSpec.Of(name, ("size", 16), ("scale", (0.2, 0.9)), ("ratio", (0.5, 2.0)), ("interpolation", "nearest"), ("antialias", false)),
                new RandomResizedCrop(16, 16, (0.2, 0.9), (0.5, 2.0), Interpolation.Nearest)),
        ],
        "CenterCrop" => [(TransformSpec.Of(name, ("size", new[] { 9, 11 })), new CenterCrop(9, 11)), (TransformSpec.Of(name, ("size", 30)), new CenterCrop(30))],
        "Resize" =>
        [
            (TransformSpec.Of(name, ("size", 10)), new Resize(10)),
            (TransformSpec.Of(name, ("size", new[] { 7 })), new Resize(7)),
            (TransformSpec.Of(name, ("size", new[] { 8, 10 }), ("interpolation", "nearest")), new Resize(8, 10, Interpolation.Nearest)),
        ],
        "RandomHorizontalFlip" => [(TransformSpec.Of(name), new RandomHorizontalFlip()), (TransformSpec.Of(name, ("p", 0.3)), new RandomHorizontalFlip(0.3))],
        "RandomVerticalFlip" => [(TransformSpec.Of(name), new RandomVerticalFlip()), (TransformSpec.Of(name, ("p", 0.8)), new RandomVerticalFlip(0.8))],
        "RandomRotation" =>
        [
            (TransformSpec.Of(name, ("degrees", 25)), new RandomRotation(25)),
            (TransformSpec.Of(name, ("degrees", (-10, 40)), ("interpolation", "bilinear"), ("fill", 0.2), ("expand", false), ("center", null)),
                new RandomRotation((-10, 40), Interpolation.Bilinear, 0.2f)),
        ],
        "ColorJitter" =>
        [
            (TransformSpec.Of(name, ("brightness", 0.2), ("contrast", 0.3), ("saturation", 0.4), ("hue", 0.1)), new ColorJitter(0.2f, 0.3f, 0.4f, 0.1f)),
            (TransformSpec.Of(name, ("contrast", 0.5)), new ColorJitter(contrast: 0.5f)),
        ],
        "Grayscale" => [(TransformSpec.Of(name), new Grayscale()), (TransformSpec.Of(name, ("num_output_channels", 3)), new Grayscale(3))],
        "RandomErasing" =>
        [
            (TransformSpec.Of(name), new RandomErasing()),
            (TransformSpec.Of(name, ("p", 1), ("scale", (0.1, 0.3)), ("ratio", (0.5, 2)), ("value", "random"), ("inplace", true)),
                new RandomErasing(1, (0.1, 0.3), (0.5, 2), randomValue: true)),
            (TransformSpec.Of(name, ("p", 1), ("value", 0.7)), new RandomErasing(1, value: 0.7f)),
        ],
        "Normalize" => [(TransformSpec.Of(name, ("mean", new[] { 0.485, 0.456, 0.406 }), ("std", new[] { 0.229, 0.224, 0.225 })), new Normalize(Normalize.ImageNetMean, Normalize.ImageNetStd))],
        "ToTensor" or "PILToTensor" => [(TransformSpec.Of(name), null)],
        "ConvertImageDtype" => [(TransformSpec.Of(name, ("dtype", "float32")), null), (TransformSpec.Of(name, ("dtype", "torch.float32")), null)],
        _ => throw new InvalidOperationException($"no equivalence case for {name}: add one"),
    };

    [Theory]
    [MemberData(nameof(SupportedNames))]
    public void EachNameBuildsTheDirectlyConstructedTransform(string name)
    {
        foreach (var (spec, direct) in Equivalents(name))
        {
            var built = Build(spec);
            Assert.Equal(direct is null ? 0 : 1, built.Transforms.Count);
            AssertSame(built, direct, spec.ToString());
        }
    }

    [Fact]
    public void ATorchvisionConfigBuildsItsPipeline()
    {
        const string json = """
            [
              {"name": "RandomResizedCrop", "size": 224, "scale": [0.08, 1.0], "ratio": [0.75, 1.3333], "interpolation": "bilinear"},
              {"name": "RandomHorizontalFlip", "p": 0.5},
              {"name": "ColorJitter", "brightness": 0.2, "contrast": 0.2},
              {"name": "ToTensor"},
              {"name": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
            ]
            """;
        var specs = JsonSerializer.Deserialize<List<TransformSpec>>(json)!;
        var built = TransformConfig.Build(specs, new TransformContext(), Source);
        Assert.Equal(4, built.Transforms.Count);
        var direct = new Compose(new RandomResizedCrop(224, 224, (0.08, 1.0), (0.75, 1.3333)), new RandomHorizontalFlip(0.5), new ColorJitter(0.2f, 0.2f),
            new Normalize(Normalize.ImageNetMean, Normalize.ImageNetStd));
        AssertSame(built, direct, "the documented example");
    }

    [Fact]
    public void NormalizeAndSizesFallBackToTheContext()
    {
        var context = new TransformContext { Mean = [0.3f, 0.4f, 0.5f], Std = [0.2f, 0.25f, 0.3f], ImageSize = (18, 22) };
        AssertSame(Build(TransformSpec.Of("Normalize"), context), new Normalize([0.3f, 0.4f, 0.5f], [0.2f, 0.25f, 0.3f]), "Normalize from the context");
        AssertSame(Build(TransformSpec.Of("Normalize", ("mean", 0.5), ("std", 0.25)), context), new Normalize([0.5f], [0.25f]), "Normalize given wins");
        AssertSame(Build(TransformSpec.Of("RandomCrop", ("padding", 2)), context), new RandomCrop(18, 22, (2, 2, 2, 2)), "RandomCrop size from the context");
        AssertSame(Build(TransformSpec.Of("RandomResizedCrop"), context), new RandomResizedCrop(18, 22), "RandomResizedCrop size from the context");
        AssertSame(Build(TransformSpec.Of("CenterCrop"), context), new CenterCrop(18, 22), "CenterCrop size from the context");
        AssertSame(Build(TransformSpec.Of("Resize"), context), new Resize(18, 22), "Resize size from the context");

        // The trainer's default pipeline, as specs.
        var trainer = new TransformContext { Mean = [0.286f], Std = [0.353f], ImageSize = (28, 28) };
        var pipeline = TransformConfig.Build([TransformSpec.Of("RandomCrop", ("padding", 2)), TransformSpec.Of("RandomHorizontalFlip"), TransformSpec.Of("Normalize")], trainer, Source);
        var img = new ImageBuffer(1, 28, 28);
        var img2 = new ImageBuffer(1, 28, 28);
        for (int i = 0; i < img.Size; i++) img.Data[i] = img2.Data[i] = i % 7 / 7f;
        pipeline.Apply(img, new SampleRandom(1, 0, 3));
        new Compose(new RandomCrop(28, padding: 2), new RandomHorizontalFlip(), new Normalize([0.286f], [0.353f])).Apply(img2, new SampleRandom(1, 0, 3));
        Assert.Equal(img2.Data, img.Data);
    }

    private sealed class RunConfig
    {
        public List<TransformSpec> TrainTransforms { get; init; } = [];
    }

    [Fact]
    public void SpecsRoundTripThroughJsonUnderTheConfigAndDefaultOptions()
    {
        List<TransformSpec> specs =
        [
            TransformSpec.Of("RandomResizedCrop", ("size", 224), ("scale", (0.08, 1.0)), ("ratio", new[] { 0.75, 1.3333 }), ("interpolation", "bilinear")),
            TransformSpec.Of("RandomErasing", ("p", 0.25f), ("value", "random"), ("inplace", false)),
            TransformSpec.Of("RandomRotation", ("degrees", 15), ("center", null)),
            TransformSpec.Of("ToTensor"),
        ];
        // RunConfig is this test's own type: reflection over the config options (the library's resolver knows its own types).
        var config = new JsonSerializerOptions(TrainConfig.Json) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
        foreach (var options in new[] { config, JsonSerializerOptions.Default })
        {
            string json = JsonSerializer.Serialize(new RunConfig { TrainTransforms = specs }, options);
            Assert.Contains("\"name\":", json);
            Assert.DoesNotContain("\"Name\"", json);
            var back = JsonSerializer.Deserialize<RunConfig>(json, options)!.TrainTransforms;
            Assert.Equal(specs.Count, back.Count);
            for (int i = 0; i < specs.Count; i++)
            {
                Assert.Equal(specs[i].Name, back[i].Name);
                Assert.Equal(specs[i].Args.Keys, back[i].Args.Keys);
                // compact re-serialisation: indented output changes the raw text's whitespace only
                foreach (var key in specs[i].Args.Keys) Assert.Equal(JsonSerializer.Serialize(specs[i].Args[key]), JsonSerializer.Serialize(back[i].Args[key]));
            }
            Assert.Equal(JsonSerializer.Serialize(specs, options), JsonSerializer.Serialize(back, options));
        }
        Assert.Equal("""{"name":"RandomErasing","p":0.25,"value":"random","inplace":false}""", specs[1].ToString());
        Assert.Equal("""{"name":"RandomResizedCrop","size":224,"scale":[0.08,1],"ratio":[0.75,1.3333],"interpolation":"bilinear"}""", specs[0].ToString());
    }

    private static string Error(string json, TransformContext? context = null)
    {
        var specs = JsonSerializer.Deserialize<List<TransformSpec>>(json)!;
        return Assert.Throws<ArgumentException>(() => TransformConfig.Build(specs, context ?? new TransformContext(), Source)).Message;
    }

    private static void AssertError(string json, string expected, TransformContext? context = null) => Assert.Equal(expected, Error(json, context));

    [Fact]
    public void UnknownNamesAndParametersNameThePlace()
    {
        AssertError("""[{"name": "RandomCrop", "size": 8}, {"name": "RandomHorizontalFlip"}, {"name": "ColorJitter", "brightnes": 0.2}]""",
            "run.json: train_transforms[2] (ColorJitter): unknown parameter 'brightnes' (accepted: brightness, contrast, saturation, hue)");
        string supported = string.Join(", ", TransformConfig.Names);
        AssertError("""[{"name": "RandomCrp", "size": 8}]""", $"run.json: train_transforms[0] (RandomCrp): unknown transform (supported: {supported})");
        AssertError("""[{"name": "randomcrop", "size": 8}]""", $"run.json: train_transforms[0] (randomcrop): unknown transform; did you mean 'RandomCrop'? (supported: {supported})");
        AssertError("""[{"size": 8}]""", $"run.json: train_transforms[0]: missing \"name\" (supported: {supported})");
        AssertError("""[{"name": "ToTensor", "x": 1}]""", "run.json: train_transforms[0] (ToTensor): unknown parameter 'x' (ToTensor takes no parameters)");
        Assert.Equal("run.json: train_transforms[1]: null entry, expected an object with a \"name\"",
            Assert.Throws<ArgumentException>(() => TransformConfig.Build([TransformSpec.Of("ToTensor"), null!], new TransformContext(), Source)).Message);
        Assert.Equal(new[] { "size", "padding", "pad_if_needed", "fill", "padding_mode" }, TransformConfig.Parameters("RandomCrop"));
        Assert.Contains("unknown transform 'Blur'", Assert.Throws<ArgumentException>(() => TransformConfig.Parameters("Blur")).Message);
    }

    [Fact]
    public void MistypedParametersSayWhatWasExpected()
    {
        const string at = "run.json: train_transforms[0]";
        AssertError("""[{"name": "RandomHorizontalFlip", "p": "0.5"}]""", $"{at} (RandomHorizontalFlip): parameter 'p' must be a number, got \"0.5\"");
        AssertError("""[{"name": "RandomCrop", "size": 8.5}]""", $"{at} (RandomCrop): parameter 'size' must be an integer or a list of 1 or 2 integers, got 8.5");
        AssertError("""[{"name": "RandomCrop", "size": [8, 8, 8]}]""", $"{at} (RandomCrop): parameter 'size' must be an integer or a list of 1 or 2 integers, got [8, 8, 8]");
        AssertError("""[{"name": "RandomCrop", "size": 8, "pad_if_needed": "yes"}]""", $"{at} (RandomCrop): parameter 'pad_if_needed' must be true or false, got \"yes\"");
        AssertError("""[{"name": "RandomCrop", "size": 8, "padding": "2"}]""", $"{at} (RandomCrop): parameter 'padding' must be an integer or a list of 1, 2 or 4 integers, got \"2\"");
        AssertError("""[{"name": "Grayscale", "num_output_channels": 1.5}]""", $"{at} (Grayscale): parameter 'num_output_channels' must be an integer, got 1.5");
        AssertError("""[{"name": "RandomResizedCrop", "size": 8, "scale": 0.5}]""", $"{at} (RandomResizedCrop): parameter 'scale' must be a [min, max] pair of numbers, got 0.5");
        AssertError("""[{"name": "Resize", "size": 8, "interpolation": 2}]""", $"{at} (Resize): parameter 'interpolation' must be a string, got 2");
        AssertError("""[{"name": "Normalize", "mean": [], "std": [1]}]""", $"{at} (Normalize): parameter 'mean' must be a number or a non-empty list of numbers, got []");
        AssertError("""[{"name": "RandomCrop", "size": 8, "padding_mode": 1}]""", $"{at} (RandomCrop): parameter 'padding_mode' must be a string, got 1");
    }

    [Fact]
    public void OutOfRangeValuesAreRefused()
    {
        const string at = "run.json: train_transforms[0]";
        AssertError("""[{"name": "RandomVerticalFlip", "p": 1.5}]""", $"{at} (RandomVerticalFlip): parameter 'p' must be in [0, 1], got 1.5");
        AssertError("""[{"name": "ColorJitter", "hue": 0.6}]""", $"{at} (ColorJitter): parameter 'hue' must be in [0, 0.5], got 0.6");
        AssertError("""[{"name": "ColorJitter", "brightness": -0.1}]""", $"{at} (ColorJitter): parameter 'brightness' must be non-negative, got -0.1");
        AssertError("""[{"name": "Grayscale", "num_output_channels": 2}]""", $"{at} (Grayscale): parameter 'num_output_channels' must be 1 or 3, got 2");
        AssertError("""[{"name": "CenterCrop", "size": [0, 4]}]""", $"{at} (CenterCrop): parameter 'size' must be positive, got [0, 4]");
        AssertError("""[{"name": "Resize", "size": -3}]""", $"{at} (Resize): parameter 'size' must be positive, got -3");
        AssertError("""[{"name": "RandomResizedCrop", "size": 8, "scale": [0.9, 0.1]}]""", $"{at} (RandomResizedCrop): parameter 'scale' must be positive and ordered, got [0.9, 0.1]");
        AssertError("""[{"name": "RandomResizedCrop", "size": 8, "ratio": [0, 1]}]""", $"{at} (RandomResizedCrop): parameter 'ratio' must be positive and ordered, got [0, 1]");
        AssertError("""[{"name": "RandomErasing", "scale": [0.1, 1.5]}]""", $"{at} (RandomErasing): parameter 'scale' must be ordered within [0, 1], got [0.1, 1.5]");
        AssertError("""[{"name": "RandomErasing", "ratio": [3, 1]}]""", $"{at} (RandomErasing): parameter 'ratio' must be positive and ordered, got [3, 1]");
        AssertError("""[{"name": "RandomErasing", "p": -1}]""", $"{at} (RandomErasing): parameter 'p' must be in [0, 1], got -1");
        AssertError("""[{"name": "RandomCrop", "size": 8, "padding": -1}]""", $"{at} (RandomCrop): parameter 'padding' must be non-negative, got -1");
        AssertError("""[{"name": "RandomCrop", "size": 8, "padding": [1, 2, 3]}]""", $"{at} (RandomCrop): parameter 'padding' must have 1, 2 or 4 values, got [1, 2, 3]");
        AssertError("""[{"name": "RandomRotation", "degrees": -5}]""", $"{at} (RandomRotation): parameter 'degrees' must be non-negative, got -5");
        AssertError("""[{"name": "RandomRotation", "degrees": [40, -10]}]""", $"{at} (RandomRotation): parameter 'degrees' must be ordered, got [40, -10]");
        AssertError("""[{"name": "Normalize", "mean": [0.5], "std": [0]}]""", $"{at} (Normalize): parameter 'std' must not contain 0, got [0]");
    }

    [Fact]
    public void UnsupportedTorchvisionOptionsAreRefusedNotApproximated()
    {
        const string at = "run.json: train_transforms[0]";
        AssertError("""[{"name": "RandomCrop", "size": 8, "padding": 2, "padding_mode": "reflect"}]""", $"{at} (RandomCrop): parameter 'padding_mode' = 'reflect' is not supported (accepted: constant)");
        AssertError("""[{"name": "RandomCrop", "size": 8, "fill": [0, 0, 0]}]""", $"{at} (RandomCrop): parameter 'fill' must be one number (per-channel values are not supported), got [0, 0, 0]");
        AssertError("""[{"name": "Resize", "size": 8, "interpolation": "bicubic"}]""", $"{at} (Resize): parameter 'interpolation' = 'bicubic' is not supported (accepted: nearest, bilinear)");
        AssertError("""[{"name": "Resize", "size": 8, "antialias": true}]""", $"{at} (Resize): antialias=true is not supported: resizing here is without antialiasing (set it to false or leave it out)");
        AssertError("""[{"name": "Resize", "size": 8, "max_size": 100}]""", $"{at} (Resize): parameter 'max_size' is not supported (leave it out or null)");
        AssertError("""[{"name": "RandomResizedCrop", "size": 8, "antialias": true}]""", $"{at} (RandomResizedCrop): antialias=true is not supported: resizing here is without antialiasing (set it to false or leave it out)");
        AssertError("""[{"name": "ColorJitter", "brightness": [0.5, 1.5]}]""", $"{at} (ColorJitter): parameter 'brightness' must be one number (a [min, max] range is not supported), got [0.5, 1.5]");
        AssertError("""[{"name": "RandomRotation", "degrees": 10, "expand": true}]""", $"{at} (RandomRotation): expand=true is not supported: rotation keeps the image size");
        AssertError("""[{"name": "RandomRotation", "degrees": 10, "center": [3, 4]}]""", $"{at} (RandomRotation): parameter 'center' is not supported: rotation is about the image centre (leave it out or null)");
        AssertError("""[{"name": "RandomErasing", "value": [0.1, 0.2, 0.3]}]""", $"{at} (RandomErasing): parameter 'value' must be one number (per-channel values are not supported), got [0.1, 0.2, 0.3]");
        AssertError("""[{"name": "RandomErasing", "value": "noise"}]""", $"{at} (RandomErasing): parameter 'value' = 'noise' is not supported (accepted: random or a number)");
        AssertError("""[{"name": "ConvertImageDtype", "dtype": "uint8"}]""", $"{at} (ConvertImageDtype): parameter 'dtype' = 'uint8' is not supported (accepted: float32 (images are float32 already))");
        AssertError("""[{"name": "ConvertImageDtype"}]""", $"{at} (ConvertImageDtype): missing parameter 'dtype'");
    }

    [Fact]
    public void MissingValuesWithoutAContextAreErrors()
    {
        const string at = "run.json: train_transforms[0]";
        AssertError("""[{"name": "CenterCrop"}]""", $"{at} (CenterCrop): missing parameter 'size' (and the context has no image size)");
        AssertError("""[{"name": "RandomRotation"}]""", $"{at} (RandomRotation): missing parameter 'degrees'");
        AssertError("""[{"name": "Normalize"}]""", $"{at} (Normalize): missing parameters 'mean' and 'std' (and the context has no normalisation to use instead)");
        var context = new TransformContext { Mean = [0.5f], Std = [0.5f] };
        AssertError("""[{"name": "Normalize", "mean": [0.5]}]""", $"{at} (Normalize): give both 'mean' and 'std', or neither to use the run's normalisation (missing 'std')", context);
        // JSON null is torchvision's None: the default, here the context's.
        Assert.Single(TransformConfig.Build(JsonSerializer.Deserialize<List<TransformSpec>>("""[{"name": "Normalize", "mean": null, "std": null}]""")!, context, Source).Transforms);
    }
}
