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
