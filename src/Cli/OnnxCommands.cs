// cudann export (checkpoint -> ONNX) and cudann predict (ONNX file or checkpoint, on images or an IDX folder).
using System.Globalization;
using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Export;
using Cuda.Nn.IO;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Training;

namespace Cuda.Nn.Cli;

public static class OnnxCommands
{
    public static readonly string[] ExportOptions = ["checkpoint", "out", "model", "classes", "channels", "size"];
    public static readonly string[] PredictOptions = ["model", "top", "json", "limit", "batch-size", "threads", "classes", "channels", "size", "arch"];

    public static int Export(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("export needs --checkpoint FILE (a checkpoint.safetensors or best.safetensors from cudann train)");
        var outPath = o.String("out") ?? throw new UsageException("export needs --out FILE.onnx");
        try
        {
            using var loaded = LoadCheckpoint(path, o, o.String("model"));
            var meta = new Dictionary<string, string>
            {
                ["model"] = loaded.Name,
                ["class_names"] = JsonSerializer.Serialize(loaded.ClassNames),
                ["normalize_mean"] = string.Join(",", Trainer.FashionMnistMean.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
                ["normalize_std"] = string.Join(",", Trainer.FashionMnistStd.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
            };
            OnnxExporter.Export(loaded.Model, loaded.InputShape, outPath, meta);
            Console.WriteLine($"wrote {outPath}: {loaded.Name}, input [batch, {string.Join(", ", loaded.InputShape)}], {loaded.ClassNames.Length} classes, opset {OnnxExporter.Opset}");
            return 0;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann export: {e.Message}");
            return 1;
        }
    }

    public static int Predict(string[] args)
    {
        var (options, positional) = SplitPositional(args, ["json"]);
        var o = Options.Parse(options, PredictOptions);
        if (positional.Count != 1) throw new UsageException("predict needs one INPUT: an image file, a folder of images or an IDX folder");
        var modelPath = o.String("model") ?? throw new UsageException("predict needs --model FILE (.onnx or a checkpoint .safetensors)");
        Kernels.Cpu.CpuWorkers.ThreadCount = o.Int("threads", Environment.ProcessorCount, 1, 1024);
        int top = o.Int("top", 5, 1);
        bool json = o.Bool("json", false);
        try
        {
            using var loaded = modelPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? LoadOnnx(modelPath, o) : LoadCheckpoint(modelPath, o, o.String("arch"));
            var inputs = ReadInputs(positional[0], loaded, o.Int("limit", 100, 1));
            var results = new List<object>();
            loaded.Model.Eval();
            int batchSize = o.Int("batch-size", 64, 1);
            var shape = loaded.InputShape;
            int sample = shape.Aggregate(1, (a, d) => a * d);
            for (int start = 0; start < inputs.Count; start += batchSize)
            {
                int n = Math.Min(batchSize, inputs.Count - start);
                var data = new float[n * sample];
                for (int i = 0; i < n; i++) inputs[start + i].Pixels.CopyTo(data, i * sample);
                using var scope = new DisposeScope();
                using var noGrad = AutogradMode.NoGrad();
                var probs = Functional.F.Softmax(loaded.Model.Forward(Tensor.FromArray(data, [n, .. shape])), -1).ToFloatArray();
                int classes = probs.Length / n;
                for (int i = 0; i < n; i++)
                {
                    var row = probs.AsSpan(i * classes, classes).ToArray();
                    var best = Enumerable.Range(0, classes).OrderByDescending(c => row[c]).Take(top)
                        .Select(c => new { index = c, @class = c < loaded.ClassNames.Length ? loaded.ClassNames[c] : c.ToString(CultureInfo.InvariantCulture), probability = Math.Round(row[c], 6) }).ToList();
                    var input = inputs[start + i];
                    if (json) results.Add(new { input = input.Name, label = input.Label, predictions = best });
                    else
                    {
                        var label = input.Label is { } l ? $" (label {l})" : "";
                        Console.WriteLine($"{input.Name}{label}: " + string.Join("  ", best.Select(b => $"{b.@class} {b.probability.ToString("F4", CultureInfo.InvariantCulture)}")));
                    }
                }
            }
            if (json) Console.WriteLine(JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or InvalidOperationException or NotSupportedException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann predict: {e.Message}");
            return 1;
        }
    }

    /// <summary>A runnable model with what it takes to feed it: input shape, class names, input normalisation.</summary>
    private sealed class LoadedModel(string name, Module model, int[] inputShape, string[] classNames, float[] mean, float[] std) : IDisposable
    {
        public string Name { get; } = name;
        public Module Model { get; } = model;
        public int[] InputShape { get; } = inputShape;
        public string[] ClassNames { get; } = classNames;
        public float[] Mean { get; } = mean;
        public float[] Std { get; } = std;
        public void Dispose() => Model.Dispose();
    }

    private sealed record Input(string Name, float[] Pixels, string? Label);

    private static LoadedModel LoadOnnx(string path, Options o)
    {
        var g = OnnxImporter.Load(path);
        try
        {
            // Symbolic image dims (files from other exporters) take --channels and --size.
            var shape = g.InputShape.ToArray();
            if (shape.Length != 3)
                throw new InvalidDataException($"{path}: input '{g.InputName}' has shape [batch, {string.Join(", ", shape)}]; predict needs a [C, H, W] image input");
            if (shape[0] < 0) shape[0] = o.Int("channels", 3, 1, 4);
            if (shape[1] < 0 || shape[2] < 0)
            {
                int size = o.Has("size") ? o.Int("size", 0, 1, 4096) : throw new UsageException($"{path}: the input's height/width are symbolic: pass --size S");
                if (shape[1] < 0) shape[1] = size;
                if (shape[2] < 0) shape[2] = size;
            }
            string[] names = g.Metadata.TryGetValue("class_names", out var cn) ? JsonSerializer.Deserialize<string[]>(cn) ?? [] : [];
            float[] Floats(string key, float[] fallback) => g.Metadata.TryGetValue(key, out var v)
                ? v.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray() : fallback;
            return new LoadedModel(g.Metadata.TryGetValue("model", out var m) ? m : Path.GetFileName(path), g, shape, names,
                Floats("normalize_mean", Trainer.FashionMnistMean), Floats("normalize_std", Trainer.FashionMnistStd));
        }
        catch { g.Dispose(); throw; }
    }

    /// <summary>Rebuilds a registry model from a cudann checkpoint or weights file. Class count and input channels come from
    /// the weights (the last layer, the stem); the image size is 28 (what cudann train uses) or follows ViT's position
    /// embedding; --classes, --channels and --size override.</summary>
    private static LoadedModel LoadCheckpoint(string path, Options o, string? modelName)
    {
        var state = TensorFile.Load(path, out var meta);
        try
        {
            string name = modelName ?? (meta.TryGetValue("model", out var m) ? m : throw new UsageException($"{path} does not name its model: pass --model NAME"));
            var weights = state.Keys.Any(k => k.StartsWith("model.", StringComparison.Ordinal))
                ? state.Where(kv => kv.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[6..], kv => kv.Value)
                : state;
            int? Dim(string key, int dim) => weights.TryGetValue(key, out var t) && t.Rank > dim ? t.Shape[dim] : null;
            int classes = o.Int("classes", Dim("fc.weight", 0) ?? Dim("heads.head.weight", 0) ?? Dim("3.weight", 0)
                ?? weights.Where(kv => kv.Key.StartsWith("classifier.", StringComparison.Ordinal) && kv.Value.Rank == 2).Select(kv => (int?)kv.Value.Shape[0]).LastOrDefault()
                ?? throw new UsageException($"{path}: cannot tell the class count from the weights: pass --classes N"), 1);
            int channels = o.Int("channels", Dim("conv1.weight", 1) ?? Dim("features.0.0.weight", 1) ?? Dim("conv_proj.weight", 1) ?? 1, 1, 4);
            int size = 28;
            if (Dim("encoder.pos_embedding", 1) is { } seq && Dim("conv_proj.weight", 2) is { } patch) size = (int)Math.Round(Math.Sqrt(seq - 1)) * patch;
            else if (name == "mlp" && Dim("1.weight", 1) is { } features) size = (int)Math.Round(Math.Sqrt(features / (double)channels));
            size = o.Int("size", size, 1, 4096);
            var model = ModelRegistry.Create(name, new ModelOptions(classes, channels, size));
            try { model.LoadStateDict(weights); }
            catch { model.Dispose(); throw; }
            string[] names = classes == ImageClassificationSet.FashionMnistClasses.Length && TrainedOnFashionMnist(meta)
                ? ImageClassificationSet.FashionMnistClasses
                : Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            return new LoadedModel(name, model, [channels, size, size], names, Trainer.FashionMnistMean, Trainer.FashionMnistStd);
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private static bool TrainedOnFashionMnist(IReadOnlyDictionary<string, string> meta)
    {
        if (!meta.TryGetValue("config", out var cfg)) return false;
        using var doc = JsonDocument.Parse(cfg);
        return doc.RootElement.TryGetProperty("data", out var d) && d.GetString() == ImageClassificationSet.DefaultFashionMnistDir;
    }

    /// <summary>Images as normalised [C, H, W] floats: one file, the image files under a folder (sorted), or an IDX folder's test split.</summary>
    private static List<Input> ReadInputs(string path, LoadedModel m, int limit)
    {
        int c = m.InputShape[0], h = m.InputShape[1], w = m.InputShape[2];
        var inputs = new List<Input>();
        float[] Normalise(ReadOnlySpan<byte> chw)
        {
            var x = new float[chw.Length];
            int plane = h * w;
            for (int i = 0; i < x.Length; i++)
            {
                int ch = i / plane;
                float mean = m.Mean[m.Mean.Length == 1 ? 0 : ch], std = m.Std[m.Std.Length == 1 ? 0 : ch];
                x[i] = (chw[i] / 255f - mean) / std;
            }
            return x;
        }
        if (Directory.Exists(path) && Directory.EnumerateFiles(path).Any(f => Path.GetFileName(f).StartsWith("t10k-images-idx3-ubyte", StringComparison.Ordinal)))
        {
            var set = ImageClassificationSet.FromIdxDirectory(path, train: false, m.ClassNames.Length >= 10 ? m.ClassNames : null);
            if (set.Height != h || set.Width != w || (set.Channels != c && c != 3))
                throw new InvalidDataException($"{path}: IDX images are {set.Channels}x{set.Height}x{set.Width} but the model takes {c}x{h}x{w}");
            for (int i = 0; i < Math.Min(limit, set.Count); i++)
            {
                var img = set.Images.AsSpan(i * set.ImageSize, set.ImageSize).ToArray();
                var chw = c == set.Channels ? img : Enumerable.Range(0, c).SelectMany(_ => img).ToArray(); // gray to RGB
                long label = set.Labels[i];
                inputs.Add(new Input($"{path}#{i}", Normalise(chw), label < set.ClassNames.Length ? set.ClassNames[label] : label.ToString(CultureInfo.InvariantCulture)));
            }
            return inputs;
        }
        string[] files = File.Exists(path) ? [path]
            : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(ImageFolder.IsImageFile).Order(StringComparer.Ordinal).Take(limit).ToArray()
            : throw new FileNotFoundException($"input not found: {path}");
        if (files.Length == 0) throw new InvalidDataException($"{path}: no image files ({string.Join(", ", ImageFolder.Extensions)}) and no IDX test files");
        var decoder = new ImageDecoder();
        var buffer = new byte[c * h * w];
        foreach (var f in files)
        {
            decoder.DecodeFile(f, w, h, grayscale: c == 1, buffer);
            inputs.Add(new Input(f, Normalise(buffer), null));
        }
        return inputs;
    }

    /// <summary>Separates positional arguments from "--name value" pairs (flags listed in <paramref name="flags"/> may stand alone).</summary>
    private static (string[] Options, List<string> Positional) SplitPositional(string[] args, string[] flags)
    {
        var opts = new List<string>();
        var pos = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) { pos.Add(args[i]); continue; }
            opts.Add(args[i]);
            if (args[i].Contains('=')) continue;
            bool isFlag = flags.Contains(args[i][2..]);
            if (isFlag && (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal) || !IsBool(args[i + 1]))) opts.Add("true");
            else if (i + 1 < args.Length) opts.Add(args[++i]);
        }
        return (opts.ToArray(), pos);
    }

    private static bool IsBool(string s) => s.ToLowerInvariant() is "true" or "false" or "1" or "0" or "yes" or "no" or "on" or "off";
}
