// cudann kappa and cudann audit: annotation agreement and dataset checks.
using Cuda.Nn.Data;

namespace Cuda.Nn.Cli;

public static class DataCommands
{
    /// <summary>Splits off the one positional argument and bare flags (given without a value) before Options.Parse.</summary>
    internal static (string Positional, Options Options, HashSet<string> Flags) Split(string command, string[] args, string what, string[] allowed, string[] flags)
    {
        string? positional = null;
        var rest = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                if (flags.Contains(a[2..])) { seen.Add(a[2..]); continue; }
                rest.Add(a);
                if (!a.Contains('=') && i + 1 < args.Length) rest.Add(args[++i]);
            }
            else if (positional is null) positional = a;
            else throw new UsageException($"{command} takes one {what}, got '{positional}' and '{a}'");
        }
        if (positional is null) throw new UsageException($"{command} needs a {what}");
        return (positional, Options.Parse([.. rest], allowed), seen);
    }

    public static int Kappa(string[] args)
    {
        var (path, _, _) = Split("kappa", args, "CSV file (header: item,annotator1,annotator2,...)", [], []);
        var table = AnnotationTable.Read(path);
        Console.Write(table.Analyze().ToText());
        return 0;
    }

    /// <summary>cudann dataset PATH: resolves a data path as train does and prints its layout, classes, splits,
    /// statistics, skipped files and class balance.</summary>
    public static int Dataset(string[] args)
    {
        var (path, o, flags) = Split("dataset", args, "data path (image folder tree, label list .csv/.json, IDX or CIFAR folder)",
            ["val", "seed", "workers"], ["gray", "skip-bad", "coarse"]);
        var request = new DataRequest
        {
            ValFraction = o.Double("val", 0.1), Seed = (ulong)o.Int("seed", 0, 0), SkipBad = flags.Contains("skip-bad"), Grayscale = flags.Contains("gray"),
            Coarse = flags.Contains("coarse"), Workers = o.Int("workers", Environment.ProcessorCount, 1, 1024),
        };
        if (request.ValFraction is < 0 or >= 1) throw new UsageException($"--val expects a fraction in [0, 1), got {request.ValFraction}");
        var d = DatasetResolver.Resolve(path, request);
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var balance = d.TrainBalance();
        var trainCounts = balance.Counts;
        var testCounts = d.Counts(d.Test, d.TestIndices);
        var weights = balance.InverseFrequencyWeights();
        string split = d.TestSplit == "validation" ? string.Create(ci, $"validation ({d.ValFraction} of the images, stratified, seed {d.Seed})") : $"'{d.TestSplit}' folder";
        Console.WriteLine(string.Create(ci, $"{d.Path}: {d.Layout}, {d.ClassNames.Length} classes, {d.Channels} channel(s){(d.FromFiles ? " (image files)" : "")}"));
        Console.WriteLine(string.Create(ci, $"train: {trainCounts.Sum()} images; test: {testCounts.Sum()} images from the {split}"));
        if (d.TrainStatistics is { } s)
            Console.WriteLine(string.Create(ci, $"train images: shorter side {s.MinSide}..{s.MaxSide} px (median {s.MedianShorterSide}); mean [{string.Join(", ", s.Mean.Select(v => v.ToString("0.0000", ci)))}], std [{string.Join(", ", s.Std.Select(v => v.ToString("0.0000", ci)))}]"));
        Console.WriteLine(string.Create(ci, $"imbalance ratio (train) {balance.ImbalanceRatio:0.00}"));
        Console.WriteLine("class                     train    test  loss weight");
        for (int c = 0; c < d.ClassNames.Length; c++)
            Console.WriteLine(string.Create(ci, $"{d.ClassNames[c],-24} {trainCounts[c],6}  {testCounts[c],6}  {weights[c],10:0.000}"));
        if (d.Skipped.Count > 0)
        {
            Console.WriteLine($"skipped {d.Skipped.Count}:");
            foreach (var f in d.Skipped) Console.WriteLine($"  {f.Path}: {f.Problem}");
        }
        return 0;
    }

    /// <summary>cudann images --data PATH --out TREE: writes a data set's splits as a class-per-folder photo tree.</summary>
    public static int Images(string[] args)
    {
        var o = Options.Parse(args, ["data", "out", "size", "gray", "jpeg-every", "train-limit", "test-limit", "val", "seed"]);
        var data = o.String("data") ?? ImageClassificationSet.DefaultFashionMnistDir;
        var outDir = o.String("out") ?? throw new UsageException("images needs --out DIR (the tree to write)");
        var options = new ImageTreeOptions
        {
            Size = o.Int("size", 64, 1, 4096), Rgb = !o.Bool("gray", false), JpegEvery = o.Int("jpeg-every", 2, 0),
            TrainLimit = o.Int("train-limit", 0, 0), TestLimit = o.Int("test-limit", 0, 0),
        };
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new IOException($"--out {outDir} exists and is not empty: give a new folder");
        IO.AtomicFile.PreflightFolder(outDir, "--out");
        var d = DatasetResolver.Resolve(data, new DataRequest { ValFraction = o.Double("val", 0.1), Seed = (ulong)o.Int("seed", 0, 0), Verify = false });
        var (train, test) = ImageTreeWriter.Write(d, outDir, options);
        Console.WriteLine($"wrote {train} train and {test} test images of {d.ClassNames.Length} classes under {outDir} ({options.Size} px, {(options.Rgb ? "RGB" : "grey")}, {(options.JpegEvery > 0 ? $"one in {options.JpegEvery} JPEG, the rest PNG" : "PNG")})");
        return 0;
    }

    public static int Audit(string[] args)
    {
        var (dir, o, flags) = Split("audit", args, "dataset folder", ["threshold", "max-pairs", "out", "workers"], ["json"]);
        var options = new AuditOptions
        {
            HammingThreshold = o.Int("threshold", 4, 0, 64),
            MaxPairsListed = o.Int("max-pairs", 200, 0),
            Workers = o.Int("workers", Environment.ProcessorCount, 1, 1024),
        };
        // The output is checked before the audit's work, so an unwritable --out fails at once.
        if (o.String("out") is { } target) IO.AtomicFile.Preflight(target, "--out");
        var report = DatasetAudit.Run(dir, options);
        var text = flags.Contains("json") ? report.ToJson() : report.ToText();
        if (o.String("out") is { } outPath)
        {
            IO.AtomicFile.WriteAllText(outPath, text);
            Console.WriteLine($"wrote {outPath}");
        }
        else Console.Write(flags.Contains("json") ? text + Environment.NewLine : text);
        return 0;
    }
}
