// cudann quantize: static int8 quantization with a float-vs-int8 report and a QDQ ONNX file.
using Cuda.Nn.Compression;

namespace Cuda.Nn.Cli;

public static class QuantizeCommand
{
    public static readonly string[] OptionNames = ["checkpoint", "calibration", "data", "out", "test-limit", "threads"];

    public static int Run(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("quantize needs --checkpoint FILE (a checkpoint or best.safetensors from cudann train)");
        var options = new QuantizeOptions
        {
            Checkpoint = path,
            Out = o.String("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "int8"),
            Data = o.String("data") ?? Data.ImageClassificationSet.DefaultFashionMnistDir,
            CalibrationImages = o.Int("calibration", 512, 1),
            TestLimit = o.Int("test-limit", 0, 0),
            Threads = o.Int("threads", Environment.ProcessorCount, 1, 1024),
        };
        IO.AtomicFile.PreflightFolder(options.Out, "--out");
        var r = QuantizeJob.Run(options, Console.Out);
        Console.WriteLine($"accuracy float {r.FloatAccuracy:P2} -> int8 {r.Int8Accuracy:P2} ({(r.Int8Accuracy - r.FloatAccuracy) * 100:+0.00;-0.00} points); wrote {r.OnnxPath}");
        return 0;
    }
}
