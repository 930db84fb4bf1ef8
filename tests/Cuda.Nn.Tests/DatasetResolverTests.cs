// The data resolver: every layout gives its classes and split the same way for every command, bad data is an error
// naming the file (or left out and listed with SkipBad), and the statistics it measures match a float64 reference.
using Cuda.Nn.Data;
using Cuda.Nn.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Cuda.Nn.Tests;

public class DatasetResolverTests
{
    /// <summary>Writes n small RGB images per class under dir/CLASS/, alternating PNG and JPEG; sizes vary with the index.</summary>
    internal static void WriteClasses(string dir, string[] classes, int perClass, int size = 20, ulong seed = 1)
    {
        var g = new Generator(seed);
        foreach (var (cls, k) in classes.Select((c, k) => (c, k)))
        {
            Directory.CreateDirectory(Path.Combine(dir, cls));
            for (int i = 0; i < perClass; i++)
            {
                int w = size + i % 3, h = size + (i + 1) % 4;
                using var img = new Image<Rgb24>(w, h);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        img[x, y] = new Rgb24((byte)(40 * k + g.NextInt(60)), (byte)(x * 7 + g.NextInt(20)), (byte)(y * 5));
                var path = Path.Combine(dir, cls, $"{i:D3}.{(i % 2 == 0 ? "png" : "jpg")}");
                if (i % 2 == 0) img.SaveAsPng(path); else img.SaveAsJpeg(path);
            }
        }
    }

    private static string Temp(string name) => Directory.CreateTempSubdirectory(name).FullName;

    [Fact]
    public void SplitFoldersGiveTheirOwnSplitAndValFoldersCountAsTest()
    {
        string[] classes = ["cat", "dog", "fox"];
        foreach (var testName in new[] { "test", "val" })
        {
            var root = Temp("resolve-split");
            WriteClasses(Path.Combine(root, "train"), classes, 6);
            WriteClasses(Path.Combine(root, testName), classes, 2, seed: 2);
            var d = DatasetResolver.Resolve(root);
            Assert.Equal(DataLayout.SplitFolders, d.Layout);
            Assert.Equal(classes, d.ClassNames);
            Assert.Equal(testName, d.TestSplit);
            Assert.Equal([6, 6, 6], d.Counts(d.Train, d.TrainIndices));
            Assert.Equal([2, 2, 2], d.Counts(d.Test, d.TestIndices));
            Assert.Equal(3, d.Channels);
            Assert.True(d.FromFiles);
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void AFlatTreeIsSplitByClassFromTheSeedTheSameWayEveryTime()
    {
        var root = Temp("resolve-flat");
        WriteClasses(root, ["a", "b"], 10);
        var r = new DataRequest { ValFraction = 0.3, Seed = 5 };
        var d1 = DatasetResolver.Resolve(root, r);
        var d2 = DatasetResolver.Resolve(root, r);
        Assert.Equal(DataLayout.ClassFolders, d1.Layout);
        Assert.Equal("validation", d1.TestSplit);
        Assert.Equal(d1.ToRecord().Test, d2.ToRecord().Test);
        Assert.Equal([3, 3], d1.Counts(d1.Test, d1.TestIndices));
        Assert.Empty(d1.TrainSplit.Intersect(d1.TestSplitIndices));
        var other = DatasetResolver.Resolve(root, r with { Seed = 6 });
        Assert.NotEqual(d1.ToRecord().Test, other.ToRecord().Test);
        // A train/ folder without test/ or val/ is split the same way.
        var nested = Temp("resolve-trainonly");
        WriteClasses(Path.Combine(nested, "train"), ["a", "b"], 10);
        var d3 = DatasetResolver.Resolve(nested, r);
        Assert.Equal("validation", d3.TestSplit);
        Assert.Equal(d1.ToRecord().Test.Select(Path.GetFileName), d3.ToRecord().Test.Select(Path.GetFileName));
        Directory.Delete(root, true);
        Directory.Delete(nested, true);
    }

    [Fact]
    public void ALabelListResolvesToItsFilesWithAStratifiedSplit()
    {
        var root = Temp("resolve-list");
        WriteClasses(Path.Combine(root, "img"), ["x", "y"], 5);
        var lines = Directory.GetFiles(Path.Combine(root, "img"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetRelativePath(root, f)},{Path.GetFileName(Path.GetDirectoryName(f))}");
        File.WriteAllLines(Path.Combine(root, "labels.csv"), ["path,label", .. lines]);
        var d = DatasetResolver.Resolve(Path.Combine(root, "labels.csv"), new DataRequest { ValFraction = 0.2 });
        Assert.Equal(DataLayout.LabelList, d.Layout);
        Assert.Equal(["x", "y"], d.ClassNames);
        Assert.Equal([1, 1], d.Counts(d.Test, d.TestIndices));
        Assert.Equal([4, 4], d.Counts(d.Train, d.TrainIndices));
        Directory.Delete(root, true);
    }

    [Fact]
    public void MeasuredStatisticsMatchAFloat64Reference()
    {
        var root = Temp("resolve-stats");
        WriteClasses(Path.Combine(root, "train"), ["p", "q"], 4);
        WriteClasses(Path.Combine(root, "test"), ["p", "q"], 1, seed: 3);
        var d = DatasetResolver.Resolve(root, new DataRequest { Workers = 2 });
        var files = Directory.GetFiles(Path.Combine(root, "train"), "*", SearchOption.AllDirectories);
        var sum = new double[3];
        var sq = new double[3];
        long n = 0;
        foreach (var f in files)
        {
            using var img = Image.Load<Rgb24>(f);
            for (int y = 0; y < img.Height; y++)
                for (int x = 0; x < img.Width; x++)
                {
                    var p = img[x, y];
                    double[] v = [p.R / 255.0, p.G / 255.0, p.B / 255.0];
                    for (int c = 0; c < 3; c++) { sum[c] += v[c]; sq[c] += v[c] * v[c]; }
                }
            n += img.Width * img.Height;
        }
        var s = d.TrainStatistics!;
        for (int c = 0; c < 3; c++)
        {
            double mean = sum[c] / n, std = Math.Sqrt(sq[c] / n - mean * mean);
            Assert.Equal(mean, s.Mean[c], 5);
            Assert.Equal(std, s.Std[c], 5);
        }
        Assert.Equal(s.Mean, DatasetResolver.Resolve(root, new DataRequest { Workers = 1 }).TrainStatistics!.Mean);
        Directory.Delete(root, true);
    }

    [Fact]
    public void BadDataIsAnErrorNamingItOrLeftOutAndListedWithSkipBad()
    {
        var root = Temp("resolve-bad");
        WriteClasses(Path.Combine(root, "train"), ["a", "b"], 4);
        WriteClasses(Path.Combine(root, "test"), ["a", "b"], 2, seed: 2);
        var bad = Path.Combine(root, "train", "a", "000.png");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..40]); // truncated
        var e = Assert.Throws<InvalidDataException>(() => DatasetResolver.Resolve(root));
        Assert.Contains(bad, e.Message);
        Assert.Contains("--skip-bad", e.Message);
        var d = DatasetResolver.Resolve(root, new DataRequest { SkipBad = true });
        Assert.Equal(7, d.TrainSplit.Length);
        Assert.Contains(d.Skipped, s => s.Path == bad);

        Directory.CreateDirectory(Path.Combine(root, "train", "empty"));
        Directory.CreateDirectory(Path.Combine(root, "test", "empty"));
        var skipped = DatasetResolver.Resolve(root, new DataRequest { SkipBad = true });
        Assert.Equal(["a", "b"], skipped.ClassNames);
        Assert.Contains(skipped.Skipped, s => s.Path == Path.Combine(root, "train", "empty"));
        e = Assert.Throws<InvalidDataException>(() => DatasetResolver.Resolve(root));
        Assert.Contains("empty", e.Message);
        Assert.Contains("no image files", e.Message);
        Directory.Delete(root, true);
    }

    [Fact]
    public void ATestSplitWithOtherClassesIsRefusedNamingThem()
    {
        var root = Temp("resolve-classes");
        WriteClasses(Path.Combine(root, "train"), ["a", "b", "c"], 2);
        WriteClasses(Path.Combine(root, "test"), ["a", "b", "d"], 1);
        var e = Assert.Throws<InvalidDataException>(() => DatasetResolver.Resolve(root));
        Assert.Contains("missing from test: c", e.Message);
        Assert.Contains("not in train: d", e.Message);
        Directory.Delete(root, true);
    }

    [Fact]
    public void IdxFoldersKeepTheirSplitAndMeasureFashionMnistsStatistics()
    {
        ImageFixtures.FashionOrSkip();
        var d = DatasetResolver.Resolve(ImageClassificationSet.DefaultFashionMnistDir);
        Assert.Equal(DataLayout.Idx, d.Layout);
        Assert.Equal(ImageClassificationSet.FashionMnistClasses, d.ClassNames);
        Assert.Equal(60000, d.TrainSplit.Length);
        Assert.Equal(10000, d.TestSplitIndices.Length);
        // The constants code without data falls back to are what the resolver measures.
        Assert.Equal(Trainer.FashionMnistMean[0], d.TrainStatistics!.Mean[0], 3);
        Assert.Equal(Trainer.FashionMnistStd[0], d.TrainStatistics.Std[0], 3);
    }

    [Fact]
    public void TrainingPrepareUsesTheDataAndPretrainedDefaults()
    {
        var root = Temp("resolve-prepare");
        WriteClasses(Path.Combine(root, "train"), ["a", "b"], 6, size: 30);
        WriteClasses(Path.Combine(root, "test"), ["a", "b"], 2, size: 30);
        var c = new TrainConfig { Data = root, Model = "resnet18", Threads = 1, Workers = 0 };
        var prepared = TrainData.Prepare(c);
        var p = prepared.Preprocessing;
        Assert.Equal(prepared.Source.TrainStatistics!.MedianShorterSide, p.ImageSize);
        Assert.InRange(p.ImageSize, 30, 32);
        Assert.Equal(p.ImageSize, p.ResizeSize);
        Assert.Equal(["a", "b"], p.ClassNames);
        var pre = TrainData.Prepare(c with { Init = "weights.pth" }).Preprocessing;
        Assert.Equal(224, pre.ImageSize);
        Assert.Equal(256, pre.ResizeSize);
        Assert.Equal(Normalize.ImageNetMean, pre.Mean);
        Assert.Equal(256, TrainData.Prepare(c with { Init = "w.pth", Model = "efficientnet_b3" }).Preprocessing.ImageSize);
        var balanced = TrainData.Prepare(c with { Balance = "weights" });
        Assert.Equal([1f, 1f], balanced.LossWeights!);
        Directory.Delete(root, true);
    }

    [Fact]
    public void BalancingResamplesEveryEpochOrWeightsTheLossAndReportsIt()
    {
        var root = Temp("resolve-balance");
        WriteClasses(Path.Combine(root, "train"), ["few"], 3);
        WriteClasses(Path.Combine(root, "train"), ["many"], 9, seed: 4);
        WriteClasses(Path.Combine(root, "test"), ["few", "many"], 1, seed: 5);
        var c = new TrainConfig { Data = root, Model = "mlp", Threads = 1, Workers = 0, Seed = 3 };
        var over = TrainData.Prepare(c with { Balance = "oversample" });
        Assert.Equal(18, over.TrainLoader.SampleCount);
        Assert.Equal([3, 9], over.Report.TrainCounts);
        Assert.Equal([9, 9], over.Report.BalancedCounts!);
        var e0 = over.TrainLoader.Order(0);
        Assert.Equal(9, e0.Count(i => over.Source.Train.Label(i) == 0));
        Assert.NotEqual(e0, over.TrainLoader.Order(1));
        var under = TrainData.Prepare(c with { Balance = "undersample" });
        Assert.Equal(6, under.TrainLoader.SampleCount);
        Assert.Equal([3, 3], under.Report.BalancedCounts!);
        var weighted = TrainData.Prepare(c with { Balance = "weights" });
        Assert.Equal(12, weighted.TrainLoader.SampleCount);
        Assert.Equal(12f / (2 * 3), weighted.LossWeights![0], 6);
        Assert.Equal(12f / (2 * 9), weighted.LossWeights[1], 6);
        Assert.Throws<ArgumentException>(() => new Trainer(c with { Balance = "smote" }, (_, _, _) => null!));
        Directory.Delete(root, true);
    }

    [Fact]
    public void TheFineTuneRecipeSetsTheBriefsValuesAndValidates()
    {
        var r = new TrainConfig().WithRecipe("finetune");
        Assert.Equal(("adamw", 1e-4, 1e-4, 5.0, "cosine", 0.1, true, 5), (r.Optimizer, r.Lr, r.WeightDecay, r.WarmupEpochs, r.Schedule, r.BackboneLrFactor, r.FreezeBackbone, r.Patience));
        Assert.True(r.UnfreezeEvery > 0);
        r.Validate();
        Assert.Throws<ArgumentException>(() => new TrainConfig().WithRecipe("nope"));
        Assert.Contains("weight_decay", Assert.Throws<ArgumentException>(() => new TrainConfig { WeightDecay = -1 }.Validate()).Message);
    }
}
