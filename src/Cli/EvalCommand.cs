// cudann eval: evaluate a checkpoint (or a weights file) on the test split of an IDX data folder.
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Metrics;
using Cuda.Nn.Models;
using Cuda.Nn.Training;

namespace Cuda.Nn.Cli;

public static class EvalCommand
{
    public static readonly string[] OptionNames = ["checkpoint", "data", "model", "out", "batch-size", "threads", "channels", "size"];

    public static int Run(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("eval needs --checkpoint FILE (a checkpoint.safetensors or best.safetensors from cudann train)");
        Kernels.Cpu.CpuWorkers.ThreadCount = o.Int("threads", Environment.ProcessorCount, 1, 1024);
        try
        {
            var data = o.String("data") ?? ImageClassificationSet.DefaultFashionMnistDir;
            // Image files are sized like the model's input: channels and size from the first conv and the config's data.
            int channels = o.Int("channels", 1, 1, 4), size = o.Int("size", 28, 1, 4096);
            var test = AnyDataset.Load(data, train: false, channels, size, size,
                data == ImageClassificationSet.DefaultFashionMnistDir ? ImageClassificationSet.FashionMnistClasses : null);
            using var net = Checkpoint.CreateFromFile(path, new ModelOptions(test.ClassNames.Length, test.Channels, test.Height), o.String("model"));
            var loader = new DataLoader(test, o.Int("batch-size", 256, 1), shuffle: false, new Normalize(Trainer.FashionMnistMean, Trainer.FashionMnistStd));
            var result = Evaluation.Run(net, loader, test.ClassNames);
            Console.Write(Evaluation.Table(result));
            var outDir = o.String("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "eval");
            Evaluation.Write(result, outDir);
            Console.WriteLine($"wrote {Path.Combine(outDir, "eval.json")}, confusion_matrix.png and per_class.png");
            return 0;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann eval: {e.Message}");
            return 1;
        }
    }
}
