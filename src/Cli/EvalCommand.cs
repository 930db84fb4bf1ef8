// cudann eval: evaluate a checkpoint (or a weights file) on the test split of a data path. The preprocessing and
// classes come from the file; the data path, validation fraction and seed from the run that wrote it unless given.
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Metrics;
using Cuda.Nn.Models;
using Cuda.Nn.Training;

namespace Cuda.Nn.Cli;

public static class EvalCommand
{
    public static readonly string[] OptionNames = ["checkpoint", "data", "model", "out", "batch-size", "threads", "channels", "size", "val", "seed", "skip-bad"];

    public static int Run(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("eval needs --checkpoint FILE (a checkpoint.safetensors or best.safetensors from cudann train)");
        using var threadScope = Kernels.Cpu.CpuKernelOptions.UseThreads(o.Int("threads", Environment.ProcessorCount, 1, 1024));
        int batch = o.Int("batch-size", 256, 1);
        if (!File.Exists(path)) throw new FileNotFoundException($"--checkpoint {path}: no such file");
        var outDir = o.String("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "eval");
        IO.AtomicFile.PreflightFolder(outDir, "--out");
        IReadOnlyDictionary<string, string> meta;
        using (var f = SafeTensorsFile.Open(path)) meta = f.Metadata;
        var pre = Preprocessing.FromMetadata(meta, path);
        var trained = meta.TryGetValue("config", out var cfg) ? ConfigOf(cfg, path) : null;
        var data = o.String("data") ?? trained?.Data ?? ImageClassificationSet.DefaultFashionMnistDir;
        var request = new DataRequest
        {
            ValFraction = o.Double("val", trained?.Val ?? 0.1), Seed = (ulong)o.Int("seed", (int)(trained?.Seed ?? 0), 0),
            SkipBad = o.Bool("skip-bad", trained?.SkipBad ?? false), Grayscale = (pre?.Channels ?? o.Int("channels", 3, 1, 3)) == 1,
        };
        // Evaluation decodes the test images anyway (a bad one is an error naming it); the up-front decode of every
        // file is needed only when bad files were left out, so the split is drawn over the same files as training's.
        request = request with { Verify = request.SkipBad };
        var source = DatasetResolver.Resolve(data, request);
        string[] classes = source.ClassNames;
        if (pre is not null && !classes.SequenceEqual(pre.ClassNames, StringComparer.Ordinal))
            throw new InvalidDataException($"{data}: its classes [{Short(classes)}] are not the {pre.ClassNames.Length} classes {path} was trained on [{Short(pre.ClassNames)}]");
        // Files from before preprocessing was stored: sizes from the options (or 28, cudann train's old default).
        pre ??= new Preprocessing
        {
            Model = o.String("model") ?? Checkpoint.ModelName(path), Channels = source.Channels, ImageSize = o.Int("size", 28, 1, 4096),
            ResizeSize = o.Int("size", 28, 1, 4096), Mean = Trainer.FashionMnistMean, Std = Trainer.FashionMnistStd, ClassNames = classes,
        };
        if (source.Channels != pre.Channels)
            throw new InvalidDataException($"{data}: its images have {source.Channels} channels but {path} takes {pre.Channels}");
        using var net = Checkpoint.CreateFromFile(path, new ModelOptions(classes.Length, pre.Channels, pre.ImageSize), o.String("model"));
        var loader = new DataLoader(source.Test, batch, shuffle: false, pre.EvalTransform(), subset: source.TestIndices);
        Console.WriteLine($"evaluating {path} on {loader.SampleCount} images of {data}'s {source.TestSplit} split; input {pre}");
        var result = Evaluation.Run(net, loader, classes);
        Console.Write(Evaluation.Table(result));
        Evaluation.Write(result, outDir);
        Console.WriteLine($"wrote {Path.Combine(outDir, "eval.json")}, confusion_matrix.png and per_class.png");
        return 0;
    }

    private static string Short(string[] names) => names.Length <= 12 ? string.Join(", ", names) : string.Join(", ", names.Take(12)) + $", ... ({names.Length})";

    /// <summary>The training configuration a file records (lenient: a file from another version may have other keys).</summary>
    internal static TrainConfig? ConfigOf(string json, string source)
    {
        try { return JsonSerializer.Deserialize<TrainConfig>(json, new JsonSerializerOptions(TrainConfig.Json) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip }); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: its 'config' metadata is not a training configuration ({e.Message})", e); }
    }
}
