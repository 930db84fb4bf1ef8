// `cudann quantize`: static int8 post-training quantization of a trained model, calibrated on training images,
// evaluated against the float model on the test set, and written as a QDQ ONNX file.
using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Metrics;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Training;

namespace Cuda.Nn.Compression;

public sealed record QuantizeOptions : CompressionOptions
{
    /// <summary>Training images used to calibrate activation ranges (never test images).</summary>
    public int CalibrationImages { get; init; } = 512;
}

public sealed record QuantizeReport(string Model, double FloatAccuracy, double Int8Accuracy, double FloatMsPerImage, double Int8MsPerImage,
    QuantizationSummary Summary, bool Vnni, string OnnxPath);

public static class QuantizeJob
{
    public static QuantizeReport Run(QuantizeOptions o, TextWriter? log = null, CancellationToken cancel = default)
    {
        log ??= TextWriter.Null;
        using var threadScope = Kernels.Cpu.CpuKernelOptions.UseThreads(o.Threads);
        string name = Checkpoint.ModelName(o.Checkpoint);
        var test = ImageClassificationSet.FromIdxDirectory(o.Data, train: false, ImageClassificationSet.FashionMnistClasses);
        var train = ImageClassificationSet.FromIdxDirectory(o.Data, train: true, ImageClassificationSet.FashionMnistClasses);
        var normalize = new Normalize(Trainer.FashionMnistMean, Trainer.FashionMnistStd);
        var testLoader = new DataLoader(test, 256, shuffle: false, normalize, subset: o.TestLimit > 0 ? Enumerable.Range(0, Math.Min(o.TestLimit, test.Count)).ToArray() : null);
        using var model = Checkpoint.CreateFromFile(o.Checkpoint, new ModelOptions(test.ClassNames.Length, test.Channels, test.Height));

        (double Acc, double Ms) Measure()
        {
            var sw = Stopwatch.StartNew();
            var r = Evaluation.Run(model, testLoader, test.ClassNames, cancel);
            return (r.Accuracy, sw.Elapsed.TotalMilliseconds / Math.Max(1, r.Samples));
        }

        var (floatAcc, floatMs) = Measure();
        log.WriteLine($"float {name}: accuracy {floatAcc:P2}, {floatMs:F3} ms/image");
        // Calibration draws a seeded random sample of the training set.
        var pick = new DataLoader(train, 128, shuffle: true, normalize, seed: 1234).Order(0).Take(Math.Max(1, o.CalibrationImages)).ToArray();
        var batches = new DataLoader(train, 128, shuffle: false, normalize, subset: pick).Epoch(0, cancel).ToList();
        QuantizationSummary summary;
        try { summary = Quantization.QuantizeStatic(model, batches.Select(b => b.Images)); }
        finally { batches.ForEach(b => b.Dispose()); }
        var (int8Acc, int8Ms) = Measure();
        log.WriteLine($"int8: accuracy {int8Acc:P2}, {int8Ms:F3} ms/image ({summary.Int8Convs} int8 convs, {summary.FloatConvs} float convs, {summary.Int8Linears} int8 linears, {summary.FoldedBatchNorms} batch norms folded; VPDPBUSD {(Kernels.Cpu.Int8Gemm.UsesVnni ? "on" : "off")})");
        var onnx = Path.Combine(o.Out, "model.int8.onnx");
        Onnx.OnnxExporter.Export(model, [test.Channels, test.Height, test.Width], onnx, new Dictionary<string, string> { ["model"] = name, ["quantization"] = "static int8 QDQ" });
        var report = new QuantizeReport(name, floatAcc, int8Acc, floatMs, int8Ms, summary, Kernels.Cpu.Int8Gemm.UsesVnni, onnx);
        AtomicFile.WriteAllText(Path.Combine(o.Out, "quantize_report.json"), IO.JsonText.Serialize(report, TrainConfig.Json));
        return report;
    }
}
