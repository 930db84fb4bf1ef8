// Annotation agreement: Cohen's kappa (two annotators), Fleiss' kappa (any fixed number of ratings per item)
// with per-category kappas, and a per-class disagreement table, from a CSV "item,annotator1,annotator2,...".
using System.Globalization;
using System.Text;

namespace Cuda.Nn.Data;

public static class Agreement
{
    /// <summary>Cohen's kappa from a square contingency table (rows: annotator A's category, columns: B's).</summary>
    public static double CohenKappa(long[,] table)
    {
        int k = table.GetLength(0);
        if (table.GetLength(1) != k) throw new ArgumentException("the contingency table must be square");
        double n = 0, agree = 0;
        var rows = new double[k];
        var cols = new double[k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                n += table[i, j];
                rows[i] += table[i, j];
                cols[j] += table[i, j];
                if (i == j) agree += table[i, j];
            }
        if (n == 0) return double.NaN;
        double po = agree / n, pe = 0;
        for (int i = 0; i < k; i++) pe += rows[i] / n * (cols[i] / n);
        return pe == 1 ? (po == 1 ? 1 : double.NaN) : (po - pe) / (1 - pe);
    }

    /// <summary>Cohen's kappa of two label sequences over the same items.</summary>
    public static double CohenKappa<T>(IReadOnlyList<T> a, IReadOnlyList<T> b) where T : notnull
    {
        if (a.Count != b.Count) throw new ArgumentException($"{a.Count} and {b.Count} labels: the annotators must rate the same items");
        var cats = a.Concat(b).Distinct().ToList();
        var index = cats.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i);
        var t = new long[cats.Count, cats.Count];
        for (int i = 0; i < a.Count; i++) t[index[a[i]], index[b[i]]]++;
        return CohenKappa(t);
    }

    /// <summary>
    /// Fleiss' kappa from counts[item, category] (how many raters put the item in the category); every item must
    /// have the same number of ratings, at least two.
    /// </summary>
    public static FleissResult FleissKappa(long[,] counts)
    {
        int items = counts.GetLength(0), k = counts.GetLength(1);
        if (items == 0) throw new ArgumentException("no items");
        long n = 0;
        for (int j = 0; j < k; j++) n += counts[0, j];
        if (n < 2) throw new ArgumentException("Fleiss' kappa needs at least two ratings per item");
        var p = new double[k];
        double pBar = 0;
        for (int i = 0; i < items; i++)
        {
            long row = 0;
            double sq = 0;
            for (int j = 0; j < k; j++)
            {
                long c = counts[i, j];
                if (c < 0) throw new ArgumentException($"negative count at item {i}");
                row += c;
                sq += (double)c * c;
                p[j] += c;
            }
            if (row != n) throw new ArgumentException($"item {i} has {row} ratings but item 0 has {n}: Fleiss' kappa needs the same number for every item");
            pBar += (sq - n) / (n * (n - 1.0));
        }
        pBar /= items;
        double pe = 0;
        for (int j = 0; j < k; j++) { p[j] /= (double)items * n; pe += p[j] * p[j]; }
        double kappa = pe == 1 ? (pBar == 1 ? 1 : double.NaN) : (pBar - pe) / (1 - pe);
        var perCat = new double[k];
        for (int j = 0; j < k; j++)
        {
            double s = 0;
            for (int i = 0; i < items; i++) s += (double)counts[i, j] * (n - counts[i, j]);
            double denom = (double)items * n * (n - 1) * p[j] * (1 - p[j]);
            perCat[j] = denom == 0 ? double.NaN : 1 - s / denom;
        }
        return new FleissResult(kappa, pBar, pe, p, perCat);
    }
}

/// <param name="Kappa">Fleiss' kappa.</param>
/// <param name="ObservedAgreement">P̄, the mean pairwise agreement per item.</param>
/// <param name="ExpectedAgreement">P̄e, the agreement expected by chance.</param>
/// <param name="CategoryProportions">p_j, the share of all ratings in each category.</param>
/// <param name="CategoryKappas">κ_j, Fleiss' per-category kappa (NaN where a category is never or always used).</param>
public sealed record FleissResult(double Kappa, double ObservedAgreement, double ExpectedAgreement, double[] CategoryProportions, double[] CategoryKappas);

/// <summary>Per-annotator labels read from "item,annotator1,annotator2,..." CSV; an empty cell is a missing rating.</summary>
public sealed class AnnotationTable
{
    public required string[] Annotators { get; init; }
    public required string[] Items { get; init; }
    /// <summary>Labels[item][annotator], null where missing.</summary>
    public required string?[][] Labels { get; init; }
    /// <summary>Every label used, in ordinal order.</summary>
    public required string[] Categories { get; init; }

    public static AnnotationTable Read(string path)
    {
        return Parse(LabelList.DecodeText(SafeFile.ReadAllBytes(path, LabelList.MaxFileBytes, "annotation file"), path), path);
    }

    public static AnnotationTable Parse(string text, string source)
    {
        string[]? header = null;
        var items = new List<string>();
        var labels = new List<string?[]>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (fields, line) in Csv.Rows(text, source))
        {
            if (fields.Length == 1 && fields[0].Trim().Length == 0) continue;
            if (header is null)
            {
                if (fields.Length < 3) throw new InvalidDataException($"{source}:{line}: the header needs an item column and at least two annotator columns, got {fields.Length} columns");
                header = [.. fields.Select(f => f.Trim())];
                continue;
            }
            if (fields.Length != header.Length) throw new InvalidDataException($"{source}:{line}: {fields.Length} fields, but the header has {header.Length}");
            var item = fields[0].Trim();
            if (item.Length == 0) throw new InvalidDataException($"{source}:{line}: empty item name");
            if (seen.TryGetValue(item, out int first)) throw new InvalidDataException($"{source}:{line}: item '{item}' already appears on line {first}");
            seen[item] = line;
            items.Add(item);
            labels.Add([.. fields.Skip(1).Select(f => f.Trim() is { Length: > 0 } s ? s : null)]);
        }
        if (header is null) throw new InvalidDataException($"{source}: empty file (expected a header item,annotator1,annotator2,...)");
        if (items.Count == 0) throw new InvalidDataException($"{source}: a header but no items");
        var cats = labels.SelectMany(r => r).OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (cats.Length == 0) throw new InvalidDataException($"{source}: no labels at all");
        return new AnnotationTable { Annotators = header[1..], Items = [.. items], Labels = [.. labels], Categories = cats };
    }

    private int Cat(string s) => Array.BinarySearch(Categories, s, StringComparer.Ordinal);

    /// <summary>A×B contingency table over the items both annotators rated.</summary>
    public long[,] Contingency(int a, int b)
    {
        var t = new long[Categories.Length, Categories.Length];
        foreach (var row in Labels)
            if (row[a] is { } x && row[b] is { } y) t[Cat(x), Cat(y)]++;
        return t;
    }

    /// <summary>Fleiss' counts over the items rated by every annotator (the others are left out and counted).</summary>
    public (long[,] Counts, int Used, int LeftOut) FleissCounts()
    {
        var complete = Labels.Where(r => r.All(l => l is not null)).ToArray();
        var c = new long[complete.Length, Categories.Length];
        for (int i = 0; i < complete.Length; i++)
            foreach (var l in complete[i]) c[i, Cat(l!)]++;
        return (c, complete.Length, Labels.Length - complete.Length);
    }

    /// <summary>The full report: pairwise Cohen's kappas, Fleiss' kappa, and the per-class disagreement table.</summary>
    public AgreementReport Analyze()
    {
        int m = Annotators.Length;
        var pairs = new List<PairKappa>();
        for (int a = 0; a < m; a++)
            for (int b = a + 1; b < m; b++)
            {
                var t = Contingency(a, b);
                long n = 0, agree = 0;
                for (int i = 0; i < Categories.Length; i++) for (int j = 0; j < Categories.Length; j++) { n += t[i, j]; if (i == j) agree += t[i, j]; }
                pairs.Add(new PairKappa(Annotators[a], Annotators[b], n, n == 0 ? double.NaN : (double)agree / n, Agreement.CohenKappa(t)));
            }
        var (counts, used, leftOut) = FleissCounts();
        FleissResult? fleiss = used > 0 ? Agreement.FleissKappa(counts) : null;
        var classes = new List<ClassDisagreement>();
        for (int c = 0; c < Categories.Length; c++)
        {
            long ratings = 0, items = 0, unanimous = 0, disputed = 0;
            foreach (var row in Labels)
            {
                var given = row.OfType<string>().ToArray();
                int hits = given.Count(l => l == Categories[c]);
                ratings += hits;
                if (hits == 0) continue;
                items++;
                if (hits == given.Length) unanimous++; else disputed++;
            }
            classes.Add(new ClassDisagreement(Categories[c], ratings, items, unanimous, disputed,
                items == 0 ? double.NaN : (double)disputed / items, fleiss?.CategoryKappas[c] ?? double.NaN));
        }
        return new AgreementReport(Items.Length, m, [.. Categories], [.. pairs], fleiss?.Kappa ?? double.NaN, used, leftOut, [.. classes]);
    }
}

public sealed record PairKappa(string A, string B, long Items, double ObservedAgreement, double Kappa);

/// <param name="Class">The class name.</param>
/// <param name="Ratings">How many ratings chose the class.</param>
/// <param name="Items">Items at least one annotator put in the class.</param>
/// <param name="Unanimous">Of those, items every annotator who rated them put in the class.</param>
/// <param name="Disputed">Of those, items where some annotator chose another class.</param>
/// <param name="DisagreementRate">Disputed / Items.</param>
/// <param name="FleissKappa">Fleiss' per-category kappa.</param>
public sealed record ClassDisagreement(string Class, long Ratings, long Items, long Unanimous, long Disputed, double DisagreementRate, double FleissKappa);

public sealed record AgreementReport(int Items, int Annotators, string[] Categories, PairKappa[] Pairs, double FleissKappa, int FleissItems,
    int FleissLeftOut, ClassDisagreement[] Classes)
{
    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        string F(double x) => double.IsNaN(x) ? "n/a" : x.ToString("0.000", ci);
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"{Items} items, {Annotators} annotators, {Categories.Length} categories");
        // Every pair when there are few; with many annotators, the least and most agreeing pairs.
        var shown = Pairs.Length <= 15 ? Pairs
            : [.. Pairs.Where(p => !double.IsNaN(p.Kappa)).OrderBy(p => p.Kappa).Take(3), .. Pairs.Where(p => !double.IsNaN(p.Kappa)).OrderBy(p => p.Kappa).TakeLast(3)];
        if (shown.Length < Pairs.Length) sb.AppendLine(ci, $"{Pairs.Length} annotator pairs; the three least and three most agreeing:");
        foreach (var p in shown)
            sb.AppendLine(ci, $"Cohen's kappa {p.A} vs {p.B}: {F(p.Kappa)} (observed agreement {F(p.ObservedAgreement)} over {p.Items} items)");
        if (Pairs.Length > 1)
            sb.AppendLine(ci, $"mean pairwise Cohen's kappa: {F(Pairs.Select(p => p.Kappa).Where(k => !double.IsNaN(k)).DefaultIfEmpty(double.NaN).Average())}");
        sb.AppendLine(ci, $"Fleiss' kappa: {F(FleissKappa)} over {FleissItems} fully rated items{(FleissLeftOut > 0 ? $" ({FleissLeftOut} with missing ratings left out)" : "")}");
        sb.AppendLine();
        int w = Math.Max(5, Classes.Max(c => c.Class.Length));
        sb.AppendLine(ci, $"{"class".PadRight(w)}  ratings    items  unanimous  disputed  disagree  kappa");
        foreach (var c in Classes)
            sb.AppendLine(ci, $"{c.Class.PadRight(w)}  {c.Ratings,7}  {c.Items,7}  {c.Unanimous,9}  {c.Disputed,8}  {F(c.DisagreementRate),8}  {F(c.FleissKappa)}");
        return sb.ToString();
    }
}
