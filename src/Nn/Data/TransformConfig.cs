// Per-sample augmentation pipelines written as configuration with torchvision's class and parameter names, e.g.
// [{"name": "RandomResizedCrop", "size": 224}, {"name": "Normalize", "mean": [...], "std": [...]}]. Parameters
// follow torchvision; what the library cannot do the same way is refused by name rather than approximated.
using System.Collections;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Data;

/// <summary>One transform of a pipeline: torchvision's class name and its keyword arguments, as JSON values.</summary>
public sealed class TransformSpec
{
    // "name" under every naming policy: the config serialiser is snake_case, default options would write "Name".
    [JsonPropertyName("name")]
    public string Name { get; set; } = "";

    /// <summary>The parameters, keyed by torchvision's names; JSON null means "torchvision's default".</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement> Args { get; set; } = []; // set, not init: the JSON source generator binds init-only members as constructor parameters, which extension data cannot be

    /// <summary>
    /// A spec from code: values may be numbers, strings, booleans, null, arrays or tuples (written as JSON arrays),
    /// e.g. <c>TransformSpec.Of("RandomResizedCrop", ("size", 224), ("scale", (0.08, 1.0)))</c>.
    /// </summary>
    public static TransformSpec Of(string name, params (string Name, object? Value)[] args)
    {
        var spec = new TransformSpec { Name = name };
        foreach (var (key, value) in args) spec.Args[key] = IO.JsonText.ToElement(Plain(value), IO.JsonText.Plain);
        return spec;
    }

    // Tuples serialise as {} (their items are fields), so they become arrays first.
    private static object? Plain(object? v) => v switch
    {
        ITuple t => Enumerable.Range(0, t.Length).Select(i => Plain(t[i])).ToArray(),
        string => v,
        IEnumerable e => e.Cast<object?>().Select(Plain).ToArray(),
        _ => v,
    };

    public override string ToString() => IO.JsonText.Serialize(this, IO.JsonText.Plain);
}

/// <summary>What a spec may leave out: the run's normalisation and image size.</summary>
public sealed record TransformContext
{
    /// <summary>Used by a Normalize that gives neither mean nor std.</summary>
    public IReadOnlyList<float>? Mean { get; init; }
    public IReadOnlyList<float>? Std { get; init; }
    /// <summary>The crop or resize size of a RandomCrop, RandomResizedCrop, CenterCrop or Resize without "size".</summary>
    public (int Height, int Width)? ImageSize { get; init; }
}

/// <summary>Builds a pipeline of the library's transforms from specs named as in torchvision.transforms.</summary>
public static class TransformConfig
{
    private sealed record Entry(string Name, string[] Params, Func<Reader, ITransform?> Build);

    // ToTensor-like names are no-ops: images here are already float [C, H, W] in [0, 1] (bytes are read as
    // value / 255, what ToTensor does), so PILToTensor and ConvertImageDtype(float32) change nothing either.
    private static readonly Entry[] Entries =
    [
        new("RandomCrop", ["size", "padding", "pad_if_needed", "fill", "padding_mode"], BuildRandomCrop),
        new("RandomResizedCrop", ["size", "scale", "ratio", "interpolation", "antialias"], BuildRandomResizedCrop),
        new("CenterCrop", ["size"], r => { var (h, w, _) = r.Size(); return new CenterCrop(h, w); }),
        new("Resize", ["size", "interpolation", "max_size", "antialias"], BuildResize),
        new("RandomHorizontalFlip", ["p"], r => new RandomHorizontalFlip(r.Probability("p", 0.5))),
        new("RandomVerticalFlip", ["p"], r => new RandomVerticalFlip(r.Probability("p", 0.5))),
        new("RandomRotation", ["degrees", "interpolation", "expand", "center", "fill"], BuildRandomRotation),
        new("ColorJitter", ["brightness", "contrast", "saturation", "hue"], BuildColorJitter),
        new("Grayscale", ["num_output_channels"], r => new Grayscale(r.Int("num_output_channels", 1, v => v is 1 or 3, "1 or 3"))),
        new("RandomErasing", ["p", "scale", "ratio", "value", "inplace"], BuildRandomErasing),
        new("Normalize", ["mean", "std", "inplace"], BuildNormalize),
        new("ToTensor", [], _ => null),
        new("PILToTensor", [], _ => null),
        new("ConvertImageDtype", ["dtype"], BuildConvertImageDtype),
    ];

    /// <summary>The transform names Build accepts (torchvision's class names).</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Entries.Select(e => e.Name)];

    /// <summary>The parameters a transform accepts, by torchvision's names.</summary>
    public static IReadOnlyList<string> Parameters(string name) =>
        Entries.FirstOrDefault(e => e.Name == name)?.Params ?? throw new ArgumentException($"unknown transform '{name}' (supported: {string.Join(", ", Names)})", nameof(name));

    /// <summary>
    /// The pipeline as one Compose, in order. Errors are ArgumentExceptions starting "{source}[i] (Name): ", so
    /// source should name the list, e.g. "run.json: train_transforms".
    /// </summary>
    public static Compose Build(IReadOnlyList<TransformSpec> specs, TransformContext context, string source)
    {
        ArgumentNullException.ThrowIfNull(specs);
        ArgumentNullException.ThrowIfNull(context);
        var built = new List<ITransform>();
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = specs[i] ?? throw new ArgumentException($"{source}[{i}]: null entry, expected an object with a \"name\"");
            if (string.IsNullOrEmpty(spec.Name)) throw new ArgumentException($"{source}[{i}]: missing \"name\" (supported: {string.Join(", ", Names)})");
            var entry = Entries.FirstOrDefault(e => e.Name == spec.Name);
            var reader = new Reader(spec, context, $"{source}[{i}] ({spec.Name})");
            if (entry is null)
            {
                var near = Entries.FirstOrDefault(e => string.Equals(e.Name, spec.Name, StringComparison.OrdinalIgnoreCase));
                throw reader.Error($"unknown transform{(near is null ? "" : $"; did you mean '{near.Name}'?")} (supported: {string.Join(", ", Names)})");
            }
            foreach (var key in spec.Args?.Keys ?? Enumerable.Empty<string>())
                if (!entry.Params.Contains(key))
                    throw reader.Error($"unknown parameter '{key}' ({(entry.Params.Length == 0 ? $"{entry.Name} takes no parameters" : $"accepted: {string.Join(", ", entry.Params)}")})");
            ITransform? t;
            try { t = entry.Build(reader); }
            catch (ArgumentException e) when (!e.Message.StartsWith(reader.Where, StringComparison.Ordinal))
            {
                // A transform's own constructor check, given the spec's place.
                throw reader.Error(e.Message);
            }
            if (t is not null) built.Add(t);
        }
        return new Compose([.. built]);
    }

    private static ITransform BuildRandomCrop(Reader r)
    {
        var (h, w, _) = r.Size();
        r.OneOf("padding_mode", "constant", "constant");
        return new RandomCrop(h, w, r.Padding(), r.Fill("fill"), r.Bool("pad_if_needed", false));
    }

    private static ITransform BuildRandomResizedCrop(Reader r)
    {
        var (h, w, _) = r.Size();
        r.NoAntialias();
        var scale = r.Range("scale", (0.08, 1.0), s => s.Min > 0 && s.Min <= s.Max, "positive and ordered");
        var ratio = r.Range("ratio", (3.0 / 4, 4.0 / 3), s => s.Min > 0 && s.Min <= s.Max, "positive and ordered");
        return new RandomResizedCrop(h, w, scale, ratio, r.Mode(Interpolation.Bilinear));
    }

    private static ITransform BuildResize(Reader r)
    {
        var (h, w, single) = r.Size();
        r.NoAntialias();
        if (r.Has("max_size")) throw r.Error("parameter 'max_size' is not supported (leave it out or null)");
        var mode = r.Mode(Interpolation.Bilinear);
        // torchvision: an int (or a one-element list) resizes the shorter side, keeping the aspect ratio.
        return single ? new Resize(h, mode) : new Resize(h, w, mode);
    }

    private static ITransform BuildRandomRotation(Reader r)
    {
        if (!r.Has("degrees")) throw r.Error("missing parameter 'degrees'");
        (double Min, double Max) degrees = r.IsNumber("degrees")
            ? (-r.Number("degrees", 0, v => v >= 0, "non-negative"), r.Number("degrees", 0))
            : r.Range("degrees", (0, 0), d => d.Min <= d.Max, "ordered");
        if (r.Bool("expand", false)) throw r.Error("expand=true is not supported: rotation keeps the image size");
        if (r.Has("center")) throw r.Error("parameter 'center' is not supported: rotation is about the image centre (leave it out or null)");
        return new RandomRotation(degrees, r.Mode(Interpolation.Nearest), r.Fill("fill"));
    }

    private static ITransform BuildColorJitter(Reader r)
    {
        float Amount(string key, double max, string range)
        {
            if (r.Has(key) && !r.IsNumber(key))
                throw r.Error($"parameter '{key}' must be one number (a [min, max] range is not supported), got {r.Raw(key)}");
            return (float)r.Number(key, 0, v => v >= 0 && v <= max, range);
        }
        return new ColorJitter(Amount("brightness", double.PositiveInfinity, "non-negative"), Amount("contrast", double.PositiveInfinity, "non-negative"),
            Amount("saturation", double.PositiveInfinity, "non-negative"), Amount("hue", 0.5, "in [0, 0.5]"));
    }

    private static ITransform BuildRandomErasing(Reader r)
    {
        double p = r.Probability("p", 0.5);
        var scale = r.Range("scale", (0.02, 0.33), s => s.Min >= 0 && s.Min <= s.Max && s.Max <= 1, "ordered within [0, 1]");
        var ratio = r.Range("ratio", (0.3, 3.3), s => s.Min > 0 && s.Min <= s.Max, "positive and ordered");
        r.Bool("inplace", false);
        if (r.Has("value") && r.IsString("value"))
        {
            r.OneOf("value", "random or a number", "random");
            return new RandomErasing(p, scale, ratio, randomValue: true);
        }
        return new RandomErasing(p, scale, ratio, r.Fill("value"));
    }

    private static ITransform BuildNormalize(Reader r)
    {
        r.Bool("inplace", false);
        bool hasMean = r.Has("mean"), hasStd = r.Has("std");
        if (hasMean != hasStd) throw r.Error($"give both 'mean' and 'std', or neither to use the run's normalisation (missing '{(hasMean ? "std" : "mean")}')");
        float[] mean, std;
        if (hasMean) { mean = r.Floats("mean"); std = r.Floats("std"); }
        else if (r.Context.Mean is { } m && r.Context.Std is { } s) { mean = [.. m]; std = [.. s]; }
        else throw r.Error("missing parameters 'mean' and 'std' (and the context has no normalisation to use instead)");
        if (std.Any(v => v == 0)) throw r.Error($"parameter 'std' must not contain 0, got [{string.Join(", ", std)}]");
        return new Normalize(mean, std);
    }

    private static ITransform? BuildConvertImageDtype(Reader r)
    {
        if (!r.Has("dtype")) throw r.Error("missing parameter 'dtype'");
        r.OneOf("dtype", "float32 (images are float32 already)", "float32", "torch.float32", "float", "torch.float");
        return null;
    }

    /// <summary>Typed access to one spec's arguments; every failure names the spec's place and the parameter.</summary>
    private sealed class Reader(TransformSpec spec, TransformContext context, string where)
    {
        public TransformContext Context => context;
        public string Where => where;

        public ArgumentException Error(string problem) => new($"{where}: {problem}");

        private bool TryGet(string key, out JsonElement e) =>
            (spec.Args ?? []).TryGetValue(key, out e) && e.ValueKind != JsonValueKind.Null;

        public bool Has(string key) => TryGet(key, out _);
        public bool IsNumber(string key) => TryGet(key, out var e) && e.ValueKind == JsonValueKind.Number;
        public bool IsString(string key) => TryGet(key, out var e) && e.ValueKind == JsonValueKind.String;
        public string Raw(string key) => TryGet(key, out var e) ? e.GetRawText() : "null";

        private ArgumentException Mistyped(string key, string expected) => Error($"parameter '{key}' must be {expected}, got {Raw(key)}");

        public double Number(string key, double fallback, Func<double, bool>? ok = null, string range = "")
        {
            if (!TryGet(key, out var e)) return fallback;
            if (e.ValueKind != JsonValueKind.Number) throw Mistyped(key, "a number");
            double v = e.GetDouble();
            if (ok is not null && !ok(v)) throw Error($"parameter '{key}' must be {range}, got {e.GetRawText()}");
            return v;
        }

        public double Probability(string key, double fallback) => Number(key, fallback, v => v is >= 0 and <= 1, "in [0, 1]");

        public int Int(string key, int fallback, Func<int, bool>? ok = null, string range = "")
        {
            if (!TryGet(key, out var e)) return fallback;
            return ToInt(key, e, ok, range);
        }

        private int ToInt(string key, JsonElement e, Func<int, bool>? ok, string range)
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v)) throw Mistyped(key, "an integer");
            if (ok is not null && !ok(v)) throw Error($"parameter '{key}' must be {range}, got {e.GetRawText()}");
            return v;
        }

        public bool Bool(string key, bool fallback)
        {
            if (!TryGet(key, out var e)) return fallback;
            return e.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw Mistyped(key, "true or false") };
        }

        /// <summary>A string parameter, when given, must be one of values; the message lists accepted.</summary>
        public void OneOf(string key, string accepted, params string[] values)
        {
            if (!TryGet(key, out var e)) return;
            if (e.ValueKind != JsonValueKind.String) throw Mistyped(key, "a string");
            string v = e.GetString()!;
            if (!values.Contains(v)) throw Error($"parameter '{key}' = '{v}' is not supported (accepted: {accepted})");
        }

        /// <summary>torchvision's size: an int or a one-element list (single), or [h, w]; the context's image size when absent.</summary>
        public (int H, int W, bool Single) Size()
        {
            if (!TryGet("size", out var e))
                return context.ImageSize is { } s ? (s.Height, s.Width, false) : throw Error("missing parameter 'size' (and the context has no image size)");
            const string expected = "an integer or a list of 1 or 2 integers";
            if (e.ValueKind == JsonValueKind.Number)
            {
                if (!e.TryGetInt32(out int v)) throw Mistyped("size", expected);
                return v > 0 ? (v, v, true) : throw Error($"parameter 'size' must be positive, got {e.GetRawText()}");
            }
            var items = e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToArray() : [];
            if (items.Length is not (1 or 2) || items.Any(i => i.ValueKind != JsonValueKind.Number || !i.TryGetInt32(out _)))
                throw Mistyped("size", expected);
            int h = items[0].GetInt32(), w = items[^1].GetInt32();
            if (h <= 0 || w <= 0) throw Error($"parameter 'size' must be positive, got {e.GetRawText()}");
            return (h, w, items.Length == 1);
        }

        /// <summary>torchvision's padding: an int (all sides), [left/right, top/bottom] or [left, top, right, bottom].</summary>
        public (int Left, int Top, int Right, int Bottom) Padding()
        {
            if (!TryGet("padding", out var e)) return default;
            int[] p;
            if (e.ValueKind == JsonValueKind.Number) p = [ToInt("padding", e, null, "")];
            else if (e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(i => i.ValueKind == JsonValueKind.Number && i.TryGetInt32(out _)))
                p = [.. e.EnumerateArray().Select(i => i.GetInt32())];
            else throw Mistyped("padding", "an integer or a list of 1, 2 or 4 integers");
            if (p.Any(v => v < 0)) throw Error($"parameter 'padding' must be non-negative, got {e.GetRawText()}");
            return p.Length switch
            {
                1 => (p[0], p[0], p[0], p[0]),
                2 => (p[0], p[1], p[0], p[1]),
                4 => (p[0], p[1], p[2], p[3]),
                _ => throw Error($"parameter 'padding' must have 1, 2 or 4 values, got {e.GetRawText()}"),
            };
        }

        /// <summary>A fill or erase value: one number (a one-element list too); per-channel values are not supported.</summary>
        public float Fill(string key)
        {
            if (!TryGet(key, out var e)) return 0;
            if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 1 && e[0].ValueKind == JsonValueKind.Number) return (float)e[0].GetDouble();
            if (e.ValueKind == JsonValueKind.Array) throw Error($"parameter '{key}' must be one number (per-channel values are not supported), got {e.GetRawText()}");
            return (float)Number(key, 0);
        }

        /// <summary>A [min, max] pair of numbers.</summary>
        public (double Min, double Max) Range(string key, (double, double) fallback, Func<(double Min, double Max), bool> ok, string requirement)
        {
            if (!TryGet(key, out var e)) return fallback;
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2 || e.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.Number))
                throw Mistyped(key, "a [min, max] pair of numbers");
            var v = (e[0].GetDouble(), e[1].GetDouble());
            if (!ok(v)) throw Error($"parameter '{key}' must be {requirement}, got {e.GetRawText()}");
            return v;
        }

        /// <summary>A number (every channel) or a non-empty list of numbers.</summary>
        public float[] Floats(string key)
        {
            TryGet(key, out var e);
            if (e.ValueKind == JsonValueKind.Number) return [(float)e.GetDouble()];
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0 || e.EnumerateArray().Any(i => i.ValueKind != JsonValueKind.Number))
                throw Mistyped(key, "a number or a non-empty list of numbers");
            return [.. e.EnumerateArray().Select(i => (float)i.GetDouble())];
        }

        public Interpolation Mode(Interpolation fallback)
        {
            if (!TryGet("interpolation", out var e)) return fallback;
            if (e.ValueKind != JsonValueKind.String) throw Mistyped("interpolation", "a string");
            return e.GetString()!.ToLowerInvariant() switch
            {
                "nearest" => Interpolation.Nearest,
                "bilinear" => Interpolation.Bilinear,
                var m => throw Error($"parameter 'interpolation' = '{m}' is not supported (accepted: nearest, bilinear)"),
            };
        }

        /// <summary>Resizing never antialiases; torchvision's antialias=true (its default for tensors) is refused, not ignored.</summary>
        public void NoAntialias()
        {
            if (Bool("antialias", false)) throw Error("antialias=true is not supported: resizing here is without antialiasing (set it to false or leave it out)");
        }
    }
}
