// `cudann prune`: prune a trained model, fine-tune it, and report sparsity, size, speed and accuracy before
// and after. The pruned model is written with its widths in the metadata, so eval/predict/export rebuild it.
using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Metrics;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Training;

namespace Cuda.Nn.Compression;

/// <summary>What every compression job takes: the trained model file, the output folder, the IDX data and the threads.</summary>
public abstract record CompressionOptions
{
    public required string Checkpoint { get; init; }
    public required string Out { get; init; }
    public string Data { get; init; } = ImageClassificationSet.DefaultFashionMnistDir;
    /// <summary>Evaluate on the first N test images only (0 = all).</summary>
    public int TestLimit { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
}

public sealed record PruneOptions : CompressionOptions
{
    /// <summary>Fraction of weights (unstructured) or of each group's channels (structured) to remove.</summary>
    public double Amount { get; init; } = 0.5;
    public bool Structured { get; init; }
    /// <summary>Unstructured only: rank weights across all layers (true) or within each layer.</summary>
    public bool Global { get; init; } = true;
    public int FinetuneEpochs { get; init; } = 1;
    public double FinetuneLr { get; init; } = 0.01;
    public int BatchSize { get; init; } = 128;
    public int TrainLimit { get; init; }
    public ulong Seed { get; init; }
}

public sealed record PruneStage(double Accuracy, long Parameters, long NonZeroWeights, long FileBytes, double InferenceMsPerImage);

public sealed record PruneReport(string Model, double Amount, bool Structured, PruneStage Original, PruneStage Pruned, PruneStage FineTuned,
    IReadOnlyList<LayerSparsity> Sparsity, IReadOnlyDictionary<string, int>? Widths, string Output);

public static class PruneJob
{
    public static PruneReport Run(PruneOptions o, TextWriter? log = null, CancellationToken cancel = default)
    {
        log ??= TextWriter.Null;
        using var threadScope = Kernels.Cpu.CpuKernelOptions.UseThreads(o.Threads);
        string name = Checkpoint.ModelName(o.Checkpoint);
        var test = ImageClassificationSet.FromIdxDirectory(o.Data, train: false, ImageClassificationSet.FashionMnistClasses);
        int[]? testSubset = o.TestLimit > 0 ? Enumerable.Range(0, Math.Min(o.TestLimit, test.Count)).ToArray() : null;
        var options = new ModelOptions(test.ClassNames.Length, test.Channels, test.Height);
        var testLoader = new DataLoader(test, 256, shuffle: false, new Normalize(Trainer.FashionMnistMean, Trainer.FashionMnistStd), subset: testSubset);

        PruneStage Measure(Module model, string file)
        {
            var sw = Stopwatch.StartNew();
            var r = Evaluation.Run(model, testLoader, test.ClassNames, cancel);
            double ms = sw.Elapsed.TotalMilliseconds / Math.Max(1, r.Samples);
            var total = Pruning.Sparsity(model)[^1];
            long nonZero = total.Elements - total.Zeros;
            return new PruneStage(r.Accuracy, model.ParameterCount(), nonZero, new FileInfo(file).Length, ms);
        }

        using var model = Checkpoint.CreateFromFile(o.Checkpoint, options);
        var original = Measure(model, o.Checkpoint);
        log.WriteLine($"original {name}: accuracy {original.Accuracy:P2}, {original.Parameters:N0} parameters");

        PruningMasks? masks = null;
        Dictionary<string, int>? widths = null;
        var outMeta = new Dictionary<string, string> { ["model"] = name };
        if (o.Structured)
        {
            widths = Pruning.Channels(model, o.Amount);
            outMeta[Pruning.WidthsMetadataKey] = Pruning.WidthsToJson(widths);
            log.WriteLine($"removed {o.Amount:P0} of the channels of {widths.Count} groups: {Pruning.Describe(widths, model)}");
        }
        else
        {
            masks = Pruning.Magnitude(model, o.Amount, o.Global);
            log.WriteLine($"zeroed {Pruning.Sparsity(model)[^1].Sparsity:P1} of the conv/linear weights ({(o.Global ? "global" : "per layer")} magnitude)");
        }
        using var maskScope = masks;
        string prunedPath = Path.Combine(o.Out, "pruned.safetensors");
        Checkpoint.SaveModel(prunedPath, model, outMeta);
        var pruned = Measure(model, prunedPath);
        log.WriteLine($"after pruning: accuracy {pruned.Accuracy:P2}");

        var tune = new TrainConfig
        {
            Model = name, Data = o.Data, Epochs = Math.Max(1, o.FinetuneEpochs), BatchSize = o.BatchSize, Lr = o.FinetuneLr, Init = prunedPath,
            Out = Path.Combine(o.Out, "finetune"), TrainLimit = o.TrainLimit, TestLimit = o.TestLimit, Threads = o.Threads, Seed = o.Seed,
        };
        var stage = pruned;
        if (o.FinetuneEpochs > 0)
        {
            // The fine-tuned model has the pruned architecture; masks keep unstructured zeros at zero.
            Module Build(int channels, int classes, ulong seed)
            {
                var net = ModelRegistry.Create(name, new ModelOptions(classes, channels, test.Height, new Generator(seed)));
                if (widths is not null) Pruning.ApplyWidths(net, widths);
                return net;
            }
            var trainer = new Trainer(tune, (c, ch, k) => Build(ch, k, c.Seed), log) { AfterStep = masks is null ? null : masks.Apply };
            trainer.Run(cancel);
            using var tuned = Build(test.Channels, test.ClassNames.Length, 0);
            Checkpoint.LoadModel(Path.Combine(tune.Out, "best.safetensors"), tuned);
            string finalPath = Path.Combine(o.Out, "pruned-finetuned.safetensors");
            Checkpoint.SaveModel(finalPath, tuned, outMeta);
            stage = Measure(tuned, finalPath);
            log.WriteLine($"after fine-tuning {o.FinetuneEpochs} epoch(s): accuracy {stage.Accuracy:P2}");
        }
        var report = new PruneReport(name, o.Amount, o.Structured, original, pruned, stage, Pruning.Sparsity(model), widths, o.Out);
        AtomicFile.WriteAllText(Path.Combine(o.Out, "prune_report.json"), JsonText.Serialize(report, TrainConfig.Json));
        return report;
    }
}
