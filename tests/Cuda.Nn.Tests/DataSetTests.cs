using Cuda.Nn.Data;

namespace Cuda.Nn.Tests;

public class CifarTests
{
    internal static byte[] Records(CifarKind kind, int n, int seed = 1)
    {
        var rng = new Random(seed);
        int rec = Cifar.RecordSize(kind);
        var b = new byte[rec * n];
        rng.NextBytes(b);
        for (int i = 0; i < n; i++)
        {
            if (kind == CifarKind.Cifar10) b[i * rec] = (byte)(i % 10);
            else { b[i * rec] = (byte)(i % 20); b[i * rec + 1] = (byte)(i * 7 % 100); }
        }
        return b;
    }

    [Fact]
    public void ParsesCifar10AndCifar100Records()
    {
        var b = Records(CifarKind.Cifar10, 4);
        var s = Cifar.Parse(b, "data_batch_1.bin", CifarKind.Cifar10);
        Assert.Equal(4, s.Count);
        Assert.Equal((3, 32, 32), (s.Channels, s.Height, s.Width));
        Assert.Equal([0L, 1, 2, 3], s.Labels);
        Assert.Equal(b.AsSpan(3073 * 2 + 1, 3072).ToArray(), s.Images.AsSpan(3072 * 2, 3072).ToArray());
        Assert.Equal("cat", s.ClassNames[3]);

        var c = Records(CifarKind.Cifar100Fine, 3);
        var fine = Cifar.Parse(c, "train.bin", CifarKind.Cifar100Fine);
        var coarse = Cifar.Parse(c, "train.bin", CifarKind.Cifar100Coarse);
        Assert.Equal([0L, 7, 14], fine.Labels);
        Assert.Equal([0L, 1, 2], coarse.Labels);
        Assert.Equal(100, fine.ClassNames.Length);
        Assert.Equal(c.AsSpan(3074 + 2, 3072).ToArray(), fine.Images.AsSpan(3072, 3072).ToArray());
    }

    [Fact]
    public void ReadsTheStandardDirectoryLayouts()
    {
        var dir = Directory.CreateTempSubdirectory("cifar").FullName;
        try
        {
            for (int i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(dir, $"data_batch_{i}.bin"), Records(CifarKind.Cifar10, 2, i));
            File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), Records(CifarKind.Cifar10, 3));
            Assert.Equal(10, Cifar.FromDirectory(dir, train: true).Count);
            Assert.Equal(3, Cifar.FromDirectory(dir, train: false).Count);
            File.Delete(Path.Combine(dir, "data_batch_4.bin"));
            var e = Assert.Throws<FileNotFoundException>(() => Cifar.FromDirectory(dir, train: true));
            Assert.Contains("data_batch_4.bin", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("size", "not a multiple of the Cifar10 record size 3073")]
    [InlineData("label", "record 1 (byte offset 3073) has label 10")]
    [InlineData("empty", "empty file")]
    [InlineData("kind", "fits CIFAR-100 records")]
    public void MalformedBatchesNameTheFileAndTheProblem(string kind, string expected)
    {
        var b = Records(CifarKind.Cifar10, 3);
        byte[] bytes = kind switch
        {
            "size" => b[..^5],
            "label" => b.Select((x, i) => i == 3073 ? (byte)10 : x).ToArray(),
            "empty" => [],
            _ => Records(CifarKind.Cifar100Fine, 3),
        };
        var e = Assert.Throws<InvalidDataException>(() => Cifar.Parse(bytes, "data_batch_9.bin", CifarKind.Cifar10));
        Assert.Contains("data_batch_9.bin", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Cifar100CoarseLabelsAreChecked()
    {
        var c = Records(CifarKind.Cifar100Fine, 2);
        c[3074] = 20;
        var e = Assert.Throws<InvalidDataException>(() => Cifar.Parse(c, "test.bin", CifarKind.Cifar100Fine));
        Assert.Contains("test.bin: record 1", e.Message);
        Assert.Contains("coarse label 20", e.Message);
    }

    [Fact]
    public void FuzzedBatchesParseOrFailCleanly()
    {
        var rng = new Random(11);
        foreach (var kind in new[] { CifarKind.Cifar10, CifarKind.Cifar100Fine, CifarKind.Cifar100Coarse })
        {
            var valid = Records(kind, 3);
            int parsed = 0, rejected = 0;
            for (int i = 0; i < 400; i++)
            {
                var b = (byte[])valid.Clone();
                switch (rng.Next(4))
                {
                    case 0: b = b[..rng.Next(b.Length + 1)]; break;
                    case 1: b = [.. b, .. new byte[rng.Next(1, 4000)]]; break;
                    default:
                        for (int f = 0; f < 3; f++) b[rng.Next(3) * Cifar.RecordSize(kind) + rng.Next(2)] = (byte)rng.Next(256);
                        break;
                }
                try
                {
                    var s = Cifar.Parse(b, "fuzz.bin", kind);
                    Assert.All(s.Labels, l => Assert.InRange(l, 0, Cifar.ClassCount(kind) - 1));
                    parsed++;
                }
                catch (InvalidDataException e) { Assert.StartsWith("fuzz.bin: ", e.Message); rejected++; }
            }
            Assert.True(parsed > 0 && rejected > 0, $"{kind}: {parsed} parsed, {rejected} rejected");
        }
    }
}

public class LabelListTests
{
    [Fact]
    public void ParsesCsvWithHeaderQuotingAndMultiLabel()
    {
        var text = "path,labels\r\nimg/a.png,cat\r\n\"img/b,1.png\",dog;cat\n\"img/\"\"c\"\".png\", bird \n\n";
        var l = LabelList.ParseCsv(text, "list.csv");
        Assert.Equal(3, l.Count);
        Assert.Equal("img/b,1.png", l.Samples[1].Path);
        Assert.Equal(["dog", "cat"], l.Samples[1].Labels);
        Assert.Equal("img/\"c\".png", l.Samples[2].Path);
        Assert.Equal(["bird"], l.Samples[2].Labels);
        Assert.Equal([2, 3, 4], l.Samples.Select(s => s.Line));
        Assert.Equal(["bird", "cat", "dog"], l.ClassNames);
        Assert.True(l.MultiLabel);
        var e = Assert.Throws<InvalidDataException>(() => l.SingleLabels("list.csv"));
        Assert.Contains("list.csv:3", e.Message);
    }

    [Theory]
    [InlineData("a.png,x\nb.png,y,z\n", "list.csv:2: 3 fields")]
    [InlineData("a.png,x\n\"b.png,y\n", "list.csv:2: unterminated quoted field")]
    [InlineData("a.png,x\nb.png,\n", "list.csv:2: empty label")]
    [InlineData("a.png,x\n,y\n", "list.csv:2: empty path")]
    [InlineData("a.png,x;;y\n", "list.csv:1: empty label")]
    [InlineData("a\"b.png,x\n", "list.csv:1: a quote inside")]
    [InlineData("path,label\n", "list.csv: no samples")]
    public void CsvErrorsNameFileAndLine(string text, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => LabelList.ParseCsv(text, "list.csv"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ParsesJsonAndNamesTheLineOfABadItem()
    {
        var json = "[\n  {\"path\": \"a.png\", \"label\": \"cat\"},\n  {\"path\": \"b.png\", \"labels\": [\"dog\", 3]}\n]";
        var l = LabelList.ParseJson(System.Text.Encoding.UTF8.GetBytes(json), "list.json");
        Assert.Equal(["3", "dog"], l.Samples[1].Labels.Order(StringComparer.Ordinal));
        Assert.Equal(3, l.Samples[1].Line);
        var bad = "[\n  {\"path\": \"a.png\", \"label\": \"cat\"},\n  {\"path\": \"b.png\"}\n]";
        var e = Assert.Throws<InvalidDataException>(() => LabelList.ParseJson(System.Text.Encoding.UTF8.GetBytes(bad), "list.json"));
        Assert.Contains("list.json:3", e.Message);
        var syntax = "[\n  {\"path\": \"a.png\", \"label\": \"cat\"},\n  {\"path\": \"b.png\" \"label\": 1}\n]";
        e = Assert.Throws<InvalidDataException>(() => LabelList.ParseJson(System.Text.Encoding.UTF8.GetBytes(syntax), "list.json"));
        Assert.Contains("list.json:3", e.Message);
    }

    [Fact]
    public void ReadResolvesPathsAgainstTheListFolder()
    {
        var dir = Directory.CreateTempSubdirectory("labels").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "l.csv"), "x/a.png,1\n/abs/b.png,2\n");
            var l = LabelList.Read(Path.Combine(dir, "l.csv"));
            Assert.Equal(Path.Combine(dir, "x/a.png"), l.Samples[0].Path);
            Assert.Equal("/abs/b.png", l.Samples[1].Path);
            File.WriteAllBytes(Path.Combine(dir, "bad.csv"), [0x61, 0x2C, 0xFF, 0xFE]);
            var e = Assert.Throws<InvalidDataException>(() => LabelList.Read(Path.Combine(dir, "bad.csv")));
            Assert.Contains("bad.csv: not UTF-8", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void FuzzedListsParseOrFailCleanly()
    {
        var rng = new Random(5);
        const string csv = "path,label\na.png,cat\n\"b,c.png\",dog;cat\nd.png,bird\n";
        const string json = "[{\"path\": \"a.png\", \"label\": \"cat\"}, {\"path\": \"b.png\", \"labels\": [\"dog\", \"cat\"]}]";
        char[] alphabet = ['"', ',', ';', '\n', '\r', ' ', 'x', '[', ']', '{', '}', ':', '\0', 'é', '\uFEFF'];
        string Mutate(string s)
        {
            var sb = new System.Text.StringBuilder(s);
            int edits = 1 + rng.Next(4);
            for (int k = 0; k < edits && sb.Length > 0; k++)
            {
                int at = rng.Next(sb.Length);
                switch (rng.Next(3))
                {
                    case 0: sb.Remove(at, 1); break;
                    case 1: sb.Insert(at, alphabet[rng.Next(alphabet.Length)]); break;
                    default: sb[at] = alphabet[rng.Next(alphabet.Length)]; break;
                }
            }
            if (rng.Next(5) == 0) sb.Length = rng.Next(sb.Length + 1);
            return sb.ToString();
        }
        int ok = 0, bad = 0;
        for (int i = 0; i < 1500; i++)
        {
            try
            {
                var l = LabelList.ParseCsv(Mutate(csv), "fuzz.csv");
                Assert.All(l.Samples, s => Assert.NotEmpty(s.Path));
                ok++;
            }
            catch (InvalidDataException e) { Assert.StartsWith("fuzz.csv", e.Message); bad++; }
            try
            {
                LabelList.ParseJson(System.Text.Encoding.UTF8.GetBytes(Mutate(json)), "fuzz.json");
                ok++;
            }
            catch (InvalidDataException e) { Assert.StartsWith("fuzz.json", e.Message); bad++; }
            try
            {
                AnnotationTable.Parse(Mutate("item,a,b\n1,x,y\n2,y,y\n3,x,\n"), "fuzz-k.csv").Analyze();
                ok++;
            }
            catch (InvalidDataException e) { Assert.StartsWith("fuzz-k.csv", e.Message); bad++; }
        }
        Assert.True(ok > 100 && bad > 100, $"{ok} parsed, {bad} rejected");
    }
}

public class BalanceTests
{
    private static readonly long[] Labels = [.. Enumerable.Repeat(0L, 50), .. Enumerable.Repeat(1L, 20), .. Enumerable.Repeat(2L, 5)];

    [Fact]
    public void StratifiedSplitKeepsProportionsAndIsDeterministic()
    {
        var (train, val) = Splits.Stratified(Labels, 0.2, seed: 3);
        Assert.Equal(Enumerable.Range(0, Labels.Length), train.Concat(val).Order());
        Assert.Equal([10, 4, 1], Enumerable.Range(0, 3).Select(c => val.Count(i => Labels[i] == c)));
        var again = Splits.Stratified(Labels, 0.2, seed: 3);
        Assert.Equal(val, again.Validation);
        Assert.NotEqual(val, Splits.Stratified(Labels, 0.2, seed: 4).Validation);
        // A class of two keeps one on each side; a class of one stays in train.
        var (t2, v2) = Splits.Stratified([0, 0, 1], 0.1, 1);
        Assert.Single(v2);
        Assert.Equal(2, t2.Length);
    }

    [Fact]
    public void CountsRatioAndInverseFrequencyWeights()
    {
        var b = new ClassBalance(Labels, 4);
        Assert.Equal([50, 20, 5, 0], b.Counts);
        Assert.Equal(10.0, b.ImbalanceRatio);
        Assert.Equal([3], b.EmptyClasses);
        var w = b.InverseFrequencyWeights();
        Assert.Equal(75.0 / (3 * 50), w[0], 5);
        Assert.Equal(75.0 / (3 * 5), w[2], 5);
        Assert.Equal(0f, w[3]);
        // Weighted by class: each non-empty class contributes the same total weight.
        Assert.Equal(w[0] * 50, w[2] * 5, 3);
    }

    [Fact]
    public void OverUnderAndWeightedSamplingBalanceTheClasses()
    {
        var b = new ClassBalance(Labels, 3, seed: 9);
        var over = b.Oversample(0);
        Assert.Equal(150, over.Length);
        Assert.All(Enumerable.Range(0, 3), c => Assert.Equal(50, over.Count(i => Labels[i] == c)));
        Assert.Equal(20, over.Where(i => Labels[i] == 1).Distinct().Count());
        Assert.Equal(over, b.Oversample(0));
        Assert.NotEqual(over, b.Oversample(1));

        var under = b.Undersample(2);
        Assert.Equal(15, under.Length);
        Assert.Equal(15, under.Distinct().Count());
        Assert.All(Enumerable.Range(0, 3), c => Assert.Equal(5, under.Count(i => Labels[i] == c)));

        var weighted = b.WeightedSample(0, 30000);
        Assert.All(Enumerable.Range(0, 3), c => Assert.InRange(weighted.Count(i => Labels[i] == c), 9400, 10600));
        Assert.Equal(75, b.BalancedOrder(0, BalanceMode.Weighted).Length);
    }

    [Fact]
    public void BalancedOrderFeedsTheDataLoader()
    {
        var set = new ImageClassificationSet
        {
            Images = new byte[Labels.Length * 4], Labels = Labels, Channels = 1, Height = 2, Width = 2, ClassNames = ["a", "b", "c"],
        };
        var (train, _) = Splits.Stratified(Labels, 0.2, 1);
        var balance = ClassBalance.Of(set, train, seed: 2);
        Assert.Equal([40, 16, 4], balance.Counts);
        var order = balance.BalancedOrder(0, BalanceMode.Oversample);
        var loader = new DataLoader(set, 16, shuffle: false, workers: 0, subset: order);
        var seen = new List<long>();
        foreach (var batch in loader.Epoch(0, TestContext.Current.CancellationToken)) using (batch) seen.AddRange(batch.Labels.ToArray<long>());
        Assert.Equal(120, seen.Count);
        Assert.All(Enumerable.Range(0, 3), c => Assert.Equal(40, seen.Count(l => l == c)));
    }
}

public class AgreementTests
{
    // Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
    private static readonly long[,] FleissExample =
    {
        { 0, 0, 0, 0, 14 }, { 0, 2, 6, 4, 2 }, { 0, 0, 3, 5, 6 }, { 0, 3, 9, 2, 0 }, { 2, 2, 8, 1, 1 },
        { 7, 7, 0, 0, 0 }, { 3, 2, 6, 3, 0 }, { 2, 5, 3, 2, 2 }, { 6, 5, 2, 1, 0 }, { 0, 2, 2, 3, 7 },
    };

    [Fact]
    public void FleissKappaMatchesTheWikipediaExample()
    {
        var r = Agreement.FleissKappa(FleissExample);
        Assert.Equal(0.210, r.Kappa, 3);
        Assert.Equal(0.378, r.ObservedAgreement, 3);
        Assert.Equal(0.213, r.ExpectedAgreement, 3);
        Assert.Equal([0.143, 0.200, 0.279, 0.150, 0.229], r.CategoryProportions.Select(p => Math.Round(p, 3)));
    }

    [Fact]
    public void CohenKappaMatchesTheWikipediaExample()
    {
        // 20 both yes, 5 A yes / B no, 10 A no / B yes, 15 both no.
        Assert.Equal(0.4, Agreement.CohenKappa(new long[,] { { 20, 5 }, { 10, 15 } }), 10);
        var a = new List<string>();
        var b = new List<string>();
        void Add(int n, string x, string y) { for (int i = 0; i < n; i++) { a.Add(x); b.Add(y); } }
        Add(20, "yes", "yes"); Add(5, "yes", "no"); Add(10, "no", "yes"); Add(15, "no", "no");
        Assert.Equal(0.4, Agreement.CohenKappa(a, b), 10);
        Assert.Equal(1.0, Agreement.CohenKappa(a, a), 10);
    }

    [Fact]
    public void AnnotationCsvGivesBothKappasAndTheDisagreementTable()
    {
        var cats = new[] { "c1", "c2", "c3", "c4", "c5" };
        var sb = new System.Text.StringBuilder("item," + string.Join(",", Enumerable.Range(1, 14).Select(i => $"r{i}")) + "\n");
        for (int i = 0; i < 10; i++)
        {
            var row = new List<string>();
            for (int j = 0; j < 5; j++) for (long k = 0; k < FleissExample[i, j]; k++) row.Add(cats[j]);
            sb.Append($"s{i + 1},{string.Join(",", row)}\n");
        }
        var report = AnnotationTable.Parse(sb.ToString(), "ratings.csv").Analyze();
        Assert.Equal(0.210, report.FleissKappa, 3);
        Assert.Equal(91, report.Pairs.Length);
        var c1 = report.Classes[0];
        Assert.Equal(("c1", 20L, 5L, 0L, 5L), (c1.Class, c1.Ratings, c1.Items, c1.Unanimous, c1.Disputed));
        Assert.Equal(1L, report.Classes[4].Unanimous);
        var text = report.ToText();
        Assert.Contains("Fleiss' kappa: 0.210", text);

        var two = "item,ann1,ann2\n" + string.Join("", Enumerable.Range(0, 50).Select(i =>
            $"{i},{(i < 25 ? "yes" : "no")},{(i < 20 || (i >= 25 && i < 35) ? "yes" : "no")}\n")) + "50,yes,\n";
        var r2 = AnnotationTable.Parse(two, "two.csv").Analyze();
        Assert.Equal(0.4, r2.Pairs[0].Kappa, 10);
        Assert.Equal(50, r2.Pairs[0].Items);
        Assert.Equal(1, r2.FleissLeftOut);
        Assert.Contains("Cohen's kappa ann1 vs ann2: 0.400", r2.ToText());
    }

    [Theory]
    [InlineData("item,a\n1,x\n", "ratings.csv:1: the header needs")]
    [InlineData("item,a,b\n1,x,y\n1,y,y\n", "ratings.csv:3: item '1' already appears on line 2")]
    [InlineData("item,a,b\n1,x\n", "ratings.csv:2: 2 fields")]
    [InlineData("item,a,b\n", "ratings.csv: a header but no items")]
    public void AnnotationCsvErrorsNameFileAndLine(string text, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => AnnotationTable.Parse(text, "ratings.csv"));
        Assert.Contains(expected, e.Message);
    }
}
