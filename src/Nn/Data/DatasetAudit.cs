// Dataset audit: per-class counts and imbalance per split, unusable files, exact duplicates (SHA-256 of the
// bytes; flagged when they cross splits or classes), and near-duplicates by a 64-bit DCT perceptual hash
// (pHash: 32x32 grayscale, 8x8 low frequencies against their median) within a Hamming distance, across
// train and test when DIR/train and DIR/test exist, else within the one folder.
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Data;

public sealed class AuditOptions
{
    /// <summary>Largest Hamming distance (of 64 bits) that counts as a near-duplicate.</summary>
    public int HammingThreshold { get; init; } = 4;
    /// <summary>Near-duplicate pairs listed in the report (all are counted).</summary>
    public int MaxPairsListed { get; init; } = 200;
    public long MaxPixels { get; init; } = 64L * 1024 * 1024;
    public long MaxFileBytes { get; init; } = 256L * 1024 * 1024;
    public int Workers { get; init; } = Environment.ProcessorCount;
}

public sealed record AuditFile(string Split, string Class, string Path);
public sealed record SplitSummary(string Name, string Path, Dictionary<string, int> Counts, int Total, double ImbalanceRatio, string[] EmptyClasses, int IgnoredFiles);
public sealed record DuplicateGroup(string Sha256, AuditFile[] Files, bool CrossSplit, bool LabelConflict);
public sealed record NearDuplicate(AuditFile A, AuditFile B, int Distance, bool LabelConflict);

public sealed record AuditReport(
    string Root,
    SplitSummary[] Splits,
    SkippedFile[] Unreadable,
    DuplicateGroup[] ExactDuplicates,
    int NearDuplicateCount,
    NearDuplicate[] NearDuplicates,
    int HammingThreshold)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new IO.NonFiniteAsNullDouble(), new IO.NonFiniteAsNullSingle() },
        TypeInfoResolver = IO.CudannJsonContext.Default,
    };

    public string ToJson() => IO.JsonText.Serialize(this, Json);

    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"audit of {Root}");
        foreach (var s in Splits)
        {
            sb.AppendLine(ci, $"{(s.Name.Length == 0 ? "images" : s.Name)}: {s.Total} images in {s.Counts.Count} classes, imbalance ratio {Ratio(s.ImbalanceRatio)}{(s.IgnoredFiles > 0 ? $", {s.IgnoredFiles} other files or linked folders ignored" : "")}");
            foreach (var (c, n) in s.Counts) sb.AppendLine(ci, $"  {c,-24} {n,8}");
            if (s.EmptyClasses.Length > 0) sb.AppendLine(ci, $"  empty class folders: {string.Join(", ", s.EmptyClasses)}");
        }
        sb.AppendLine(ci, $"unreadable or corrupt files: {Unreadable.Length}");
        foreach (var u in Unreadable) sb.AppendLine(ci, $"  {u.Path}: {u.Problem}");
        sb.AppendLine(ci, $"exact duplicate groups: {ExactDuplicates.Length} ({ExactDuplicates.Count(d => d.CrossSplit)} across splits, {ExactDuplicates.Count(d => d.LabelConflict)} with conflicting labels)");
        foreach (var d in ExactDuplicates)
            sb.AppendLine(ci, $"  {d.Sha256[..12]}{(d.CrossSplit ? " [across splits]" : "")}{(d.LabelConflict ? " [label conflict]" : "")}: {string.Join(", ", d.Files.Select(f => f.Path))}");
        string scope = Splits.Length > 1 ? $"between {Splits[0].Name} and {string.Join(", ", Splits.Skip(1).Select(s => s.Name))}" : "within the folder";
        sb.AppendLine(ci, $"near-duplicates {scope} (pHash distance <= {HammingThreshold}, byte-identical files left out): {NearDuplicateCount}{(NearDuplicateCount > NearDuplicates.Length ? $" ({NearDuplicates.Length} listed)" : "")}");
        foreach (var p in NearDuplicates)
            sb.AppendLine(ci, $"  {p.Distance,2}  {p.A.Path}  ~  {p.B.Path}{(p.LabelConflict ? $"  [labels {p.A.Class} vs {p.B.Class}]" : "")}");
        return sb.ToString();
    }

    private static string Ratio(double r) => double.IsInfinity(r) ? "n/a" : r.ToString("0.00", CultureInfo.InvariantCulture);
}

public static class DatasetAudit
{
    public static AuditReport Run(string root, AuditOptions? options = null)
    {
        var o = options ?? new AuditOptions();
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"dataset folder not found: {root}");
        // The same splits as every other command (DatasetResolver): train/ against test/ or val/ when both exist.
        string train = Path.Combine(root, "train");
        string? testName = DatasetResolver.TestFolder(root);
        var splits = Directory.Exists(train) && testName is not null ? new[] { ("train", train), (testName, Path.Combine(root, testName)) } : [("", root)];
        var files = new List<AuditFile>();
        var summaries = new List<SplitSummary>();
        foreach (var (name, dir) in splits)
        {
            var (classes, ignored) = ImageFolder.Scan(dir);
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (cls, _, images) in classes)
            {
                counts[cls] = images.Length;
                files.AddRange(images.Select(f => new AuditFile(name, cls, f)));
            }
            var nonEmpty = counts.Values.Where(n => n > 0).ToArray();
            double ratio = nonEmpty.Length == 0 ? double.PositiveInfinity : (double)nonEmpty.Max() / nonEmpty.Min();
            summaries.Add(new SplitSummary(name, dir, counts, counts.Values.Sum(), ratio, [.. counts.Where(kv => kv.Value == 0).Select(kv => kv.Key)], ignored));
        }

        var sha = new string?[files.Count];
        var hash = new ulong[files.Count];
        var problem = new string?[files.Count];
        var decoder = new ImageDecoder(o.MaxPixels, o.MaxFileBytes);
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, o.Workers) }, i =>
        {
            var buf = new byte[32 * 32];
            try
            {
                var bytes = decoder.ReadFile(files[i].Path);
                sha[i] = Convert.ToHexStringLower(SHA256.HashData(bytes));
                decoder.Decode(bytes, files[i].Path, 32, 32, grayscale: true, buf);
                hash[i] = PerceptualHash.FromGray32(buf);
            }
            catch (InvalidDataException e) { problem[i] = e.Message[(files[i].Path.Length + 2)..]; }
        });

        var unreadable = Enumerable.Range(0, files.Count).Where(i => problem[i] is not null).Select(i => new SkippedFile(files[i].Path, problem[i]!)).ToArray();
        var dups = Enumerable.Range(0, files.Count).Where(i => sha[i] is not null).GroupBy(i => sha[i]!).Where(g => g.Count() > 1)
            .Select(g => new DuplicateGroup(g.Key, [.. g.Select(i => files[i])],
                g.Select(i => files[i].Split).Distinct().Count() > 1, g.Select(i => files[i].Class).Distinct().Count() > 1))
            .OrderBy(d => d.Files[0].Path, StringComparer.Ordinal).ToArray();

        var ok = Enumerable.Range(0, files.Count).Where(i => problem[i] is null).ToArray();
        var pairs = new List<NearDuplicate>();
        int count = 0;
        void Consider(int a, int b)
        {
            int d = BitOperations.PopCount(hash[a] ^ hash[b]);
            if (d > o.HammingThreshold || sha[a] == sha[b]) return;
            count++;
            if (pairs.Count < o.MaxPairsListed) pairs.Add(new NearDuplicate(files[a], files[b], d, files[a].Class != files[b].Class));
        }
        if (splits.Length > 1)
        {
            var tr = ok.Where(i => files[i].Split == "train").ToArray();
            var te = ok.Where(i => files[i].Split == testName).ToArray();
            foreach (int b in te) foreach (int a in tr) Consider(a, b);
        }
        else
        {
            for (int x = 0; x < ok.Length; x++) for (int y = x + 1; y < ok.Length; y++) Consider(ok[x], ok[y]);
        }
        return new AuditReport(root, [.. summaries], unreadable, dups, count, [.. pairs.OrderBy(p => p.Distance).ThenBy(p => p.A.Path, StringComparer.Ordinal)], o.HammingThreshold);
    }
}

/// <summary>64-bit perceptual hashes of grayscale images.</summary>
public static class PerceptualHash
{
    private static readonly double[] Cos = BuildCos();

    private static double[] BuildCos()
    {
        var c = new double[8 * 32];
        for (int u = 0; u < 8; u++) for (int x = 0; x < 32; x++) c[u * 32 + x] = Math.Cos((2 * x + 1) * u * Math.PI / 64);
        return c;
    }

    /// <summary>DCT pHash of a 32x32 grayscale image: the 8x8 lowest DCT-II frequencies, each bit set when above their median (DC left out of the median).</summary>
    public static ulong FromGray32(ReadOnlySpan<byte> g)
    {
        if (g.Length != 32 * 32) throw new ArgumentException("expects 32x32 = 1024 pixels");
        var rows = new double[32 * 8]; // rows[y, u]
        for (int y = 0; y < 32; y++)
            for (int u = 0; u < 8; u++)
            {
                double s = 0;
                for (int x = 0; x < 32; x++) s += g[y * 32 + x] * Cos[u * 32 + x];
                rows[y * 8 + u] = s;
            }
        var coef = new double[64];
        for (int v = 0; v < 8; v++)
            for (int u = 0; u < 8; u++)
            {
                double s = 0;
                for (int y = 0; y < 32; y++) s += rows[y * 8 + u] * Cos[v * 32 + y];
                coef[v * 8 + u] = s;
            }
        var sorted = coef[1..].Order().ToArray();
        double median = sorted[31];
        ulong h = 0;
        for (int i = 0; i < 64; i++) if (coef[i] > median) h |= 1UL << i;
        return h;
    }

    public static int Distance(ulong a, ulong b) => BitOperations.PopCount(a ^ b);
}
