// cudann prune: magnitude or channel pruning of a trained model, fine-tuning, and a before/after report.
using Cuda.Nn.Compression;

namespace Cuda.Nn.Cli;

public static class PruneCommand
{
    public static readonly string[] OptionNames = ["checkpoint", "amount", "structured", "global", "finetune-epochs", "lr", "batch-size", "data", "out", "train-limit", "test-limit", "threads", "seed"];

    public static int Run(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("prune needs --checkpoint FILE (a checkpoint or best.safetensors from cudann train)");
        double amount = o.Double("amount", 0.5);
        if (amount is < 0 or >= 1) throw new UsageException($"--amount expects the fraction to prune, in [0, 1), got {amount.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        var options = new PruneOptions
        {
            Checkpoint = path,
            Out = o.String("out") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "pruned"),
            Data = o.String("data") ?? Data.ImageClassificationSet.DefaultFashionMnistDir,
            Amount = amount,
            Structured = o.Bool("structured", false),
            Global = o.Bool("global", true),
            FinetuneEpochs = o.Int("finetune-epochs", 1, 0, 1000),
            FinetuneLr = o.Double("lr", 0.01),
            BatchSize = o.Int("batch-size", 128, 1),
            TrainLimit = o.Int("train-limit", 0, 0),
            TestLimit = o.Int("test-limit", 0, 0),
            Threads = o.Int("threads", Environment.ProcessorCount, 1, 1024),
            Seed = (ulong)o.Int("seed", 0, 0),
        };
        IO.AtomicFile.PreflightFolder(options.Out, "--out");
        var r = PruneJob.Run(options, Console.Out);
        Console.WriteLine($"{"",-12} {"accuracy",9} {"parameters",12} {"non-zero w",12} {"file MB",8} {"ms/image",9}");
        foreach (var (label, s) in new[] { ("original", r.Original), ("pruned", r.Pruned), ("fine-tuned", r.FineTuned) })
            Console.WriteLine($"{label,-12} {s.Accuracy,9:P2} {s.Parameters,12:N0} {s.NonZeroWeights,12:N0} {s.FileBytes / 1048576.0,8:F2} {s.InferenceMsPerImage,9:F3}");
        Console.WriteLine($"wrote {Path.Combine(r.Output, "prune_report.json")} and the pruned weights");
        return 0;
    }
}
