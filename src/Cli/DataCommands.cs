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
        AnnotationTable table;
        try { table = AnnotationTable.Read(path); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann kappa: {e.Message}");
            return 1;
        }
        Console.Write(table.Analyze().ToText());
        return 0;
    }

    /// <summary>cudann dataset PATH: loads an image folder, a label list (.csv/.json) or a CIFAR directory and prints its balance and a stratified split.</summary>
    public static int Dataset(string[] args)
    {
        var (path, o, flags) = Split("dataset", args, "image folder, label list (.csv or .json) or CIFAR directory",
            ["size", "val", "seed", "max-pixels", "workers"], ["gray", "skip-bad", "coarse"]);
        int size = o.Int("size", 32, 1, 4096);
        double val = o.Double("val", 0.1);
        if (val is < 0 or >= 1) throw new UsageException($"--val expects a fraction in [0, 1), got {val}");
        var load = new ImageLoadOptions
        {
            Width = size, Height = size, Grayscale = flags.Contains("gray"), SkipBad = flags.Contains("skip-bad"),
            MaxPixels = o.Int("max-pixels", 64 * 1024 * 1024, 1), Workers = o.Int("workers", Environment.ProcessorCount, 1, 1024),
        };
        ImageClassificationSet set;
        try
        {
            bool cifar = Directory.Exists(path) && (File.Exists(Path.Combine(path, "test_batch.bin")) || File.Exists(Path.Combine(path, "test.bin")));
            if (cifar) set = Cifar.FromDirectory(path, train: true, coarse: flags.Contains("coarse"));
            else if (File.Exists(path))
            {
                var r = ImageFolder.FromList(LabelList.Read(path), load, path);
                Console.Write(r.Report());
                set = r.Set;
            }
            else
            {
                var r = ImageFolder.Load(path, load);
                Console.Write(r.Report());
                set = r.Set;
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann dataset: {e.Message}");
            return 1;
        }
        var balance = ClassBalance.Of(set);
        var weights = balance.InverseFrequencyWeights();
        var (train, valid) = Splits.Stratified(set.Labels, val, (ulong)o.Int("seed", 0, 0));
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci, $"{set.Count} samples, {set.ClassNames.Length} classes, {set.Channels}x{set.Height}x{set.Width}; imbalance ratio {balance.ImbalanceRatio:0.00}"));
        Console.WriteLine(string.Create(ci, $"stratified split (--val {val}, --seed {o.Int("seed", 0, 0)}): {train.Length} train, {valid.Length} validation"));
        Console.WriteLine("class                     count  loss weight");
        for (int c = 0; c < set.ClassNames.Length; c++)
            Console.WriteLine(string.Create(ci, $"{set.ClassNames[c],-24} {balance.Counts[c],6}  {weights[c],10:0.000}"));
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
        AuditReport report;
        try { report = DatasetAudit.Run(dir, options); }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"cudann audit: {e.Message}");
            return 1;
        }
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
