// A trained classifier ready to predict: an ONNX file (run by OnnxGraphModule) or a cudann checkpoint (rebuilt from the
// model registry), with the input shape, class names and input normalisation that go with it. Used by cudann predict
// and by products: load once, then Predict from any number of threads (the plan and the kernels serialise what they
// share); Dispose when done, after the last Predict has returned.
using System.Globalization;
using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Training;

using Cuda.Nn.Onnx;

namespace Cuda.Nn.Inference;

/// <summary>Overrides for what a file does not say: the registry model name, class count, channels and image size.</summary>
public sealed record InferenceOptions(string? Arch = null, int? Classes = null, int? Channels = null, int? Size = null);

public sealed record Prediction(int Index, string Class, double Probability);

/// <summary>One preprocessed input: [C, H, W] floats, normalised as in training, with a label when the source has one.</summary>
public sealed record InferenceInput(string Name, float[] Pixels, string? Label);

public sealed class InferenceModel : IDisposable
{
    public string Name { get; }
    public Module Model { get; }
    /// <summary>[C, H, W].</summary>
    public int[] InputShape { get; }
    public string[] ClassNames { get; }
    public float[] Mean { get; }
    public float[] Std { get; }
    /// <summary>How inputs are prepared (the file's record, or one made from what the file says).</summary>
    public Preprocessing Preprocessing { get; }

    private InferenceModel(string name, Module model, int[] inputShape, string[] classNames, float[] mean, float[] std, Preprocessing? stored = null)
    {
        Name = name;
        Model = model;
        InputShape = inputShape;
        ClassNames = classNames;
        Mean = mean;
        Std = std;
        Preprocessing = stored ?? new Preprocessing
        {
            Model = name, Channels = inputShape[0], ImageSize = inputShape[1], ResizeSize = inputShape[1], Mean = mean, Std = std,
            ClassNames = classNames.Length > 0 ? classNames : ["0"],
        };
        model.Eval();
        // The inference path: batch norms folded into the convs before them (one pass less per conv), then the graph
        // compiled (conv + residual + relu fused, weights packed once). A module the exporter cannot express runs eagerly.
        Compression.Quantization.FoldBatchNorms(model);
        try { Plan = model is OnnxGraphModule g ? InferencePlan.Compile(g) : InferencePlan.Compile(model, inputShape); }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException) { Plan = null; }
    }

    /// <summary>The compiled graph that Predict runs (null when the model could not be exported: then the module runs).</summary>
    public InferencePlan? Plan { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Plan?.Dispose();
        Model.Dispose();
    }

    /// <summary>Metadata that makes an exported file self-describing for <see cref="Load"/>.</summary>
    public Dictionary<string, string> Metadata() => new()
    {
        ["model"] = Name,
        ["class_names"] = IO.JsonText.Serialize(ClassNames, IO.JsonText.Plain),
        ["normalize_mean"] = string.Join(",", Mean.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        ["normalize_std"] = string.Join(",", Std.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        [Preprocessing.MetadataKey] = Preprocessing.ToJson(),
    };

    /// <summary>Loads an .onnx file or a checkpoint / weights file (.safetensors).</summary>
    public static InferenceModel Load(string path, InferenceOptions? options = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such model file{(Directory.Exists(path) ? " (it is a folder: give the .onnx or .safetensors file in it)" : "")}", path);
        return path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? LoadOnnx(path, options ?? new()) : LoadCheckpoint(path, options ?? new());
    }

    private static InferenceModel LoadOnnx(string path, InferenceOptions o)
    {
        var g = OnnxImporter.Load(path);
        try
        {
            // Symbolic image dims (files from other exporters) take the options.
            var shape = g.InputShape.ToArray();
            if (shape.Length != 3)
                throw new InvalidDataException($"{path}: input '{g.InputName}' has shape [batch, {string.Join(", ", shape)}]; an image input [C, H, W] is needed");
            if (shape[0] < 0) shape[0] = o.Channels ?? 3;
            if (shape[1] < 0 || shape[2] < 0)
            {
                int size = o.Size ?? throw new ArgumentException($"{path}: the input's height/width are symbolic: give the image size");
                if (shape[1] < 0) shape[1] = size;
                if (shape[2] < 0) shape[2] = size;
            }
            if (Preprocessing.FromMetadata(g.Metadata, path) is { } pre)
            {
                if (pre.Channels != shape[0] || pre.ImageSize != shape[1] || pre.ImageSize != shape[2])
                    throw new InvalidDataException($"{path}: its preprocessing says {pre.Channels}x{pre.ImageSize}x{pre.ImageSize} but its input is [batch, {string.Join(", ", shape)}]");
                return new InferenceModel(pre.Model, g, shape, pre.ClassNames, pre.Mean, pre.Std, pre);
            }
            string[] names = g.Metadata.TryGetValue("class_names", out var cn) ? IO.JsonText.Deserialize<string[]>(cn, IO.JsonText.Plain) ?? [] : [];
            float[] Floats(string key, float[] fallback) => g.Metadata.TryGetValue(key, out var v)
                ? v.Split(',').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray() : fallback;
            return new InferenceModel(g.Metadata.TryGetValue("model", out var m) ? m : Path.GetFileName(path), g, shape, names,
                Floats("normalize_mean", Trainer.FashionMnistMean), Floats("normalize_std", Trainer.FashionMnistStd));
        }
        catch { g.Dispose(); throw; }
    }

    /// <summary>Rebuilds a registry model from a cudann checkpoint or weights file. The class count and input channels come
    /// from the weights (the last layer, the stem); the image size is 28 (what cudann train uses) or follows ViT's
    /// position embedding (and the MLP's first layer); the options override.</summary>
    private static InferenceModel LoadCheckpoint(string path, InferenceOptions o)
    {
        var state = TensorFile.Load(path, out var meta);
        try
        {
            var weights = Checkpoint.ModelWeights(state);
            var stored = Preprocessing.FromMetadata(meta, path);
            // A file that records its preprocessing says everything; overriding a size or count drops the record.
            if (stored is not null && o.Channels is null && o.Size is null && o.Classes is null)
            {
                var built = BuildAndLoad(o.Arch ?? stored.Model, new ModelOptions(stored.ClassNames.Length, stored.Channels, stored.ImageSize), weights, path, stored.Model);
                return new InferenceModel(o.Arch ?? stored.Model, built, [stored.Channels, stored.ImageSize, stored.ImageSize], stored.ClassNames, stored.Mean, stored.Std, stored);
            }
            string name = o.Arch ?? (meta.TryGetValue("model", out var m) ? m : throw new ArgumentException($"{path} does not name its model: give the model name"));
            int? Dim(string key, int dim) => weights.TryGetValue(key, out var t) && t.Rank > dim ? t.ShapeRef[dim] : null;
            int classes = o.Classes ?? Dim("fc.weight", 0) ?? Dim("heads.head.weight", 0) ?? Dim("3.weight", 0)
                ?? weights.Where(kv => kv.Key.StartsWith("classifier.", StringComparison.Ordinal) && kv.Value.Rank == 2).Select(kv => (int?)kv.Value.ShapeRef[0]).LastOrDefault()
                ?? throw new ArgumentException($"{path}: cannot tell the class count from the weights: give it");
            int channels = o.Channels ?? Dim("conv1.weight", 1) ?? Dim("features.0.0.weight", 1) ?? Dim("conv_proj.weight", 1) ?? 1;
            int size = 28;
            if (Dim("encoder.pos_embedding", 1) is { } seq && Dim("conv_proj.weight", 2) is { } patch) size = (int)Math.Round(Math.Sqrt(seq - 1)) * patch;
            else if (name == "mlp" && Dim("1.weight", 1) is { } features) size = (int)Math.Round(Math.Sqrt(features / (double)channels));
            size = o.Size ?? size;
            var model = BuildAndLoad(name, new ModelOptions(classes, channels, size), weights, path, meta.GetValueOrDefault("model"));
            string[] names = classes == ImageClassificationSet.FashionMnistClasses.Length && TrainedOnFashionMnist(meta)
                ? ImageClassificationSet.FashionMnistClasses
                : Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
            return new InferenceModel(name, model, [channels, size, size], names, Trainer.FashionMnistMean, Trainer.FashionMnistStd);
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }

    private static Module BuildAndLoad(string name, ModelOptions options, IReadOnlyDictionary<string, Tensor> weights, string path, string? stored)
    {
        var model = ModelRegistry.Create(name, options);
        try { Checkpoint.LoadWeightsInto(model, weights, path, name, stored); }
        catch { model.Dispose(); throw; }
        return model;
    }

    private static bool TrainedOnFashionMnist(IReadOnlyDictionary<string, string> meta)
    {
        if (!meta.TryGetValue("config", out var cfg)) return false;
        using var doc = JsonDocument.Parse(cfg);
        return doc.RootElement.TryGetProperty("data", out var d) && d.GetString() == ImageClassificationSet.DefaultFashionMnistDir;
    }

    private int _disposed;

    /// <summary>The top-k classes of each input, in batches of at most batchSize; the token is checked between batches.
    /// Safe to call from several threads at once.</summary>
    public List<Prediction[]> Predict(IReadOnlyList<InferenceInput> inputs, int top = 5, int batchSize = 64, CancellationToken cancel = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var result = new List<Prediction[]>(inputs.Count);
        int sample = InputShape.Aggregate(1, (a, d) => a * d);
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i].Pixels.Length != sample)
                throw new ArgumentException($"input {i} ('{inputs[i].Name}') has {inputs[i].Pixels.Length} values; the model takes [{string.Join(", ", InputShape)}] = {sample} (prepare it with PrepareImage or ReadInputs)", nameof(inputs));
        for (int start = 0; start < inputs.Count; start += batchSize)
        {
            cancel.ThrowIfCancellationRequested();
            int n = Math.Min(batchSize, inputs.Count - start);
            var data = new float[n * sample];
            for (int i = 0; i < n; i++) inputs[start + i].Pixels.CopyTo(data, i * sample);
            float[] probs;
            using (var scope = new DisposeScope())
            using (AutogradMode.NoGrad())
            {
                var x = Tensor.FromArray(data, [n, .. InputShape]);
                probs = Functional.F.Softmax(Plan is null ? Model.Forward(x) : Plan.Run(x), -1).ToFloatArray();
            }
            int classes = probs.Length / n;
            for (int i = 0; i < n; i++)
            {
                var row = probs.AsSpan(i * classes, classes).ToArray();
                result.Add(Enumerable.Range(0, classes).OrderByDescending(c => row[c]).ThenBy(c => c).Take(top)
                    .Select(c => new Prediction(c, ClassName(c), row[c])).ToArray());
            }
        }
        return result;
    }

    /// <summary>The top-k classes of one prepared input.</summary>
    public Prediction[] Predict(InferenceInput input, int top = 5) => Predict([input], top)[0];

    /// <summary>One image file, decoded and prepared as in evaluation (resize, centre crop, normalisation).</summary>
    public InferenceInput PrepareImage(string path) => PrepareEncoded(Decoder.ReadFile(path), path);

    /// <summary>An encoded image (PNG, JPEG, BMP, GIF, WebP) read from a stream to its end; name is what errors and the
    /// input call it.</summary>
    public InferenceInput PrepareImage(Stream stream, string name = "stream")
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (copy.Length + read > Decoder.MaxFileBytes) throw new InvalidDataException($"{name}: more than {Decoder.MaxFileBytes} bytes, over the limit for an image");
            copy.Write(chunk, 0, read);
        }
        return PrepareEncoded(copy.ToArray(), name);
    }

    /// <summary>Encoded image bytes decoded (guarded, EXIF-oriented) and prepared; name is what errors call them.</summary>
    private InferenceInput PrepareEncoded(byte[] bytes, string name)
    {
        var image = new ImageBuffer(0, 0, 0);
        image.DecodeInto(buffer =>
        {
            var (c, h, w) = Decoder.DecodeNative(bytes, name, InputShape[0] == 1, ref buffer);
            return (buffer, c, h, w);
        });
        return Prepared(image, name);
    }

    /// <summary>Decoded pixels, interleaved row by row (height x width x channels bytes, RGB or grey, as most image
    /// libraries and cameras hand them over), prepared like a decoded file. A grey image feeds a colour model as three
    /// equal channels.</summary>
    public InferenceInput PreparePixels(ReadOnlySpan<byte> pixels, int width, int height, int channels, string name = "pixels")
    {
        int c = InputShape[0];
        if (width < 1 || height < 1 || channels is not (1 or 3) || (long)width * height * channels != pixels.Length)
            throw new ArgumentException($"{name}: {pixels.Length} bytes do not make a {width}x{height} image of {channels} channel(s) (1 or 3, interleaved)", nameof(pixels));
        if (channels != c && !(channels == 1 && c == 3))
            throw new ArgumentException($"{name}: the model takes {c} channel(s), the image has {channels}", nameof(channels));
        var chw = new byte[pixels.Length];
        int plane = width * height;
        for (int p = 0; p < plane; p++)
            for (int k = 0; k < channels; k++) chw[k * plane + p] = pixels[p * channels + k];
        var image = new ImageBuffer(0, 0, 0);
        image.SetFromBytes(chw, channels, height, width);
        if (channels == 1 && c == 3) ImageOps.Grayscale(image, 3);
        return Prepared(image, name);
    }

    /// <summary>Guarded decoding with the default limits (the same as the training loaders').</summary>
    private static readonly ImageDecoder Decoder = new();

    private InferenceInput Prepared(ImageBuffer image, string name)
    {
        if (image.Channels != InputShape[0]) throw new InvalidDataException($"{name}: the image has {image.Channels} channels but the model takes {InputShape[0]}");
        Preprocessing.EvalTransform().Apply(image, new SampleRandom(0, 0, 0));
        return new InferenceInput(name, image.Data.AsSpan(0, image.Size).ToArray(), null);
    }

    public string ClassName(long index) => index >= 0 && index < ClassNames.Length ? ClassNames[index] : index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Inputs from one image file, a dataset's test split (an IDX or CIFAR folder, or a class-per-folder tree
    /// with train/ and test/ or val/: the first <paramref name="limit"/> images, with their labels), or the image files
    /// under any other folder (recursively, sorted, the first <paramref name="limit"/>). Images are prepared as in
    /// evaluation: decoded at their own size, resized and centre-cropped to the model's input, normalised.</summary>
    public List<InferenceInput> ReadInputs(string path, int limit = int.MaxValue)
    {
        int c = InputShape[0];
        var inputs = new List<InferenceInput>();
        var transform = Preprocessing.EvalTransform();
        var image = new ImageBuffer(0, 0, 0);
        if (DatasetResolver.HasOwnTestSplit(path))
        {
            var data = DatasetResolver.Resolve(path, new DataRequest { Grayscale = c == 1, Verify = false });
            var idx = data.TestSplitIndices.Take(limit).ToArray();
            foreach (int i in idx)
            {
                data.Test.Load(i, image);
                if (image.Channels == 1 && c == 3) ImageOps.Grayscale(image, 3);
                if (image.Channels != c) throw new InvalidDataException($"{path}: its images have {image.Channels} channels but the model takes {c}");
                transform.Apply(image, new SampleRandom(0, 0, i));
                string name = data.Test is ImageFileSource ? data.Test.Describe(i) : $"{path}#{i}";
                inputs.Add(new InferenceInput(name, image.Data.AsSpan(0, image.Size).ToArray(), data.ClassNames[data.Test.Label(i)]));
            }
            return inputs;
        }
        string[] files = File.Exists(path) ? [path]
            : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(ImageFolder.IsImageFile).Order(StringComparer.Ordinal).Take(limit).ToArray()
            : throw new FileNotFoundException($"input not found: {path}");
        if (files.Length == 0) throw new InvalidDataException($"{path}: no image files ({string.Join(", ", ImageFolder.Extensions)}) and no IDX test files");
        var source = new ImageFileSource([.. files.Select(f => (f, 0L))], ["?"], grayscale: c == 1);
        for (int i = 0; i < files.Length; i++)
        {
            source.Load(i, image);
            transform.Apply(image, new SampleRandom(0, 0, i));
            inputs.Add(new InferenceInput(files[i], image.Data.AsSpan(0, image.Size).ToArray(), null));
        }
        return inputs;
    }
}
