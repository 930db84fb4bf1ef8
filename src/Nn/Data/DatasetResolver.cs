// One answer, for every command, to "what does this data path hold": its layout, its classes, and which samples
// are the train split and which the test split. IDX folders, CIFAR-10/100 binary folders, label lists (.csv/.json),
// class-per-folder trees with train/ and test/ (or val/) folders, and flat class-per-folder trees split by a
// stratified validation fraction from a seed. The same path and options give the same classes and split everywhere.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.Data;

/// <summary>How a data path is read; choices that change the classes or the split.</summary>
public sealed record DataRequest
{
    /// <summary>The validation fraction taken (stratified) from layouts without their own test split.</summary>
    public double ValFraction { get; init; } = 0.1;
    public ulong Seed { get; init; }
    /// <summary>Leave out unreadable image files and empty class folders (listed in Skipped) instead of failing.</summary>
    public bool SkipBad { get; init; }
    /// <summary>Decode photos to one luminance channel instead of RGB.</summary>
    public bool Grayscale { get; init; }
    /// <summary>CIFAR-100's 20 coarse labels instead of its 100 fine ones.</summary>
    public bool Coarse { get; init; }
    /// <summary>Decode every image file once before use: unreadable files are found before training starts,
    /// and the image sizes and per-channel statistics of the train split are measured.</summary>
    public bool Verify { get; init; } = true;
    public int Workers { get; init; } = Environment.ProcessorCount;

    public void Check()
    {
        if (!(ValFraction >= 0 && ValFraction < 1)) throw new ArgumentException($"--val must be a fraction in [0, 1), got {ValFraction}");
        if (Workers < 1) throw new ArgumentException($"workers must be at least 1, got {Workers}");
    }
}

/// <summary>The layouts a data path can have.</summary>
public enum DataLayout { Idx, Cifar, LabelList, SplitFolders, ClassFolders }

/// <summary>Per-channel statistics of a split's pixels in [0, 1], and its image sizes.</summary>
public sealed record ImageStatistics(float[] Mean, float[] Std, int MinSide, int MedianShorterSide, int MaxSide)
{
    /// <summary>The image with the smallest shorter side (null for in-memory sets, whose images are all one size).</summary>
    public string? SmallestFile { get; init; }
}

/// <summary>A resolved data path: the classes and the two splits over one or two sample sources.</summary>
public sealed record DataSource
{
    public required string Path { get; init; }
    public required DataLayout Layout { get; init; }
    public required string[] ClassNames { get; init; }
    public required ISampleSource Train { get; init; }
    /// <summary>The train split's indices into Train (null: all of it).</summary>
    public int[]? TrainIndices { get; init; }
    public required ISampleSource Test { get; init; }
    public int[]? TestIndices { get; init; }
    /// <summary>Where the test split comes from: "test", "val", or "validation" (a stratified fraction of train).</summary>
    public required string TestSplit { get; init; }
    public double ValFraction { get; init; }
    public ulong Seed { get; init; }
    /// <summary>True when images are files decoded when needed, at their own size (photos).</summary>
    public required bool FromFiles { get; init; }
    public required int Channels { get; init; }
    /// <summary>Statistics of the train split (null when not measured).</summary>
    public ImageStatistics? TrainStatistics { get; init; }
    /// <summary>Files or folders left out (SkipBad), with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];

    public int[] TrainSplit => TrainIndices ?? [.. Enumerable.Range(0, Train.Count)];
    public int[] TestSplitIndices => TestIndices ?? [.. Enumerable.Range(0, Test.Count)];

    /// <summary>Per-class counts of a split.</summary>
    public int[] Counts(ISampleSource source, int[]? indices)
    {
        var counts = new int[ClassNames.Length];
        foreach (int i in indices ?? Enumerable.Range(0, source.Count)) counts[source.Label(i)]++;
        return counts;
    }

    /// <summary>At most n samples of each split (0 = all), for quick runs: the first n of an IDX or CIFAR set (stored
    /// in random order already), a random n (from the seed, kept in file order) of a file tree, which is sorted by class.</summary>
    public DataSource Limit(int trainLimit, int testLimit) => this with
    {
        TrainIndices = trainLimit > 0 && trainLimit < TrainSplit.Length ? Take(TrainSplit, trainLimit, 1) : TrainIndices,
        TestIndices = testLimit > 0 && testLimit < TestSplitIndices.Length ? Take(TestSplitIndices, testLimit, 2) : TestIndices,
    };

    /// <summary>The class balance of the train split (counts, weights, balanced orders drawn from seed).</summary>
    public ClassBalance TrainBalance(ulong seed = 0) =>
        new([.. Enumerable.Range(0, Train.Count).Select(i => Train.Label(i))], ClassNames.Length, TrainIndices, seed);

    private int[] Take(int[] split, int n, ulong salt)
    {
        if (!FromFiles) return split[..n];
        var order = (int[])split.Clone();
        Splits.Shuffle(order, new Generator(Seed ^ (0x4C494D4954UL + salt)));
        var kept = order[..n];
        Array.Sort(kept);
        return kept;
    }

    /// <summary>What split.json records: enough to see (and diff) exactly which samples each split held.</summary>
    public SplitRecord ToRecord() => new(Path, Layout.ToString(), ClassNames, TestSplit, TestSplit == "validation" ? ValFraction : null, Seed,
        [.. TrainSplit.Select(i => Train.Describe(i))], [.. TestSplitIndices.Select(i => Test.Describe(i))],
        Counts(Train, TrainIndices), Counts(Test, TestIndices));
}

/// <summary>The split a run used, written to its folder as split.json.</summary>
public sealed record SplitRecord(string Path, string Layout, string[] ClassNames, string TestSplit, double? ValFraction, ulong Seed,
    string[] Train, string[] Test, int[] TrainCounts, int[] TestCounts)
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = IO.CudannJsonContext.Default };
    public string ToJson() => IO.JsonText.Serialize(this, Json);
}

public static class DatasetResolver
{
    /// <summary>Names of a class-per-folder tree's test split folder, in the order they are looked for.</summary>
    public static readonly string[] TestFolderNames = ["test", "val", "valid", "validation"];

    /// <summary>Opens a data path by what it holds (see the file header).</summary>
    public static DataSource Resolve(string path, DataRequest? request = null)
    {
        var r = request ?? new DataRequest();
        r.Check();
        if (File.Exists(path)) return FromLabelList(path, r);
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException(path == ImageClassificationSet.DefaultFashionMnistDir
                ? $"Fashion-MNIST not found at {path}: install it with 'sudo apt-get install dataset-fashion-mnist' or pass --data PATH"
                : $"data path not found: {path}");
        if (IsIdx(path))
        {
            var names = IdxClassNames(path);
            var train = ImageClassificationSet.FromIdxDirectory(path, train: true, names);
            var test = ImageClassificationSet.FromIdxDirectory(path, train: false, names);
            return InMemory(path, DataLayout.Idx, train, test, r);
        }
        if (IsCifar(path))
            return InMemory(path, DataLayout.Cifar, Cifar.FromDirectory(path, train: true, r.Coarse), Cifar.FromDirectory(path, train: false, r.Coarse), r);
        var trainDir = System.IO.Path.Combine(path, "train");
        if (Directory.Exists(trainDir))
        {
            var testName = TestFolder(path);
            if (testName is null) return Stratified(path, DataLayout.SplitFolders, FolderFiles(trainDir, r, out var sk), r, sk);
            return SplitFolders(path, trainDir, System.IO.Path.Combine(path, testName), testName, r);
        }
        return Stratified(path, DataLayout.ClassFolders, FolderFiles(path, r, out var skipped), r, skipped);
    }

    private static bool IsIdx(string dir) => Directory.EnumerateFiles(dir, "*idx3-ubyte*").Any();

    private static bool IsCifar(string dir) =>
        File.Exists(System.IO.Path.Combine(dir, "test_batch.bin")) || File.Exists(System.IO.Path.Combine(dir, "test.bin")) || File.Exists(System.IO.Path.Combine(dir, "data_batch_1.bin"));

    /// <summary>The name of a tree's test split folder beside train/ (test, val, ...), or null.</summary>
    public static string? TestFolder(string dir) => TestFolderNames.FirstOrDefault(n => Directory.Exists(System.IO.Path.Combine(dir, n)));

    /// <summary>Whether a folder holds a test split of its own: IDX, CIFAR, or train/ beside test/ or val/ (not a
    /// split drawn by a validation fraction).</summary>
    public static bool HasOwnTestSplit(string dir) =>
        Directory.Exists(dir) && (IsIdx(dir) || IsCifar(dir) || (Directory.Exists(System.IO.Path.Combine(dir, "train")) && TestFolder(dir) is not null));

    /// <summary>Fashion-MNIST's names for a folder that is Fashion-MNIST (the default folder, or a path naming it), a
    /// classes.txt beside the files when there is one (one name per line), else the label numbers.</summary>
    private static string[]? IdxClassNames(string dir)
    {
        var list = System.IO.Path.Combine(dir, "classes.txt");
        if (File.Exists(list)) return [.. File.ReadAllLines(list).Select(l => l.Trim()).Where(l => l.Length > 0)];
        bool fashion = System.IO.Path.GetFullPath(dir).TrimEnd('/') == ImageClassificationSet.DefaultFashionMnistDir
            || dir.Contains("fashion", StringComparison.OrdinalIgnoreCase);
        return fashion ? ImageClassificationSet.FashionMnistClasses : null;
    }

    private static DataSource InMemory(string path, DataLayout layout, ImageClassificationSet train, ImageClassificationSet test, DataRequest r)
    {
        if (train.ClassNames.Length != test.ClassNames.Length)
            throw new InvalidDataException($"{path}: the train split has {train.ClassNames.Length} classes but the test split has {test.ClassNames.Length}");
        if (train.Channels != test.Channels || train.Height != test.Height || train.Width != test.Width)
            throw new InvalidDataException($"{path}: train images are {train.Channels}x{train.Height}x{train.Width} but test images are {test.Channels}x{test.Height}x{test.Width}");
        return new DataSource
        {
            Path = path, Layout = layout, ClassNames = train.ClassNames, Train = train, Test = test, TestSplit = "test", Seed = r.Seed,
            FromFiles = false, Channels = train.Channels, TrainStatistics = r.Verify ? Statistics(train, null) : null,
        };
    }

    /// <summary>The statistics of an in-memory set's samples (exact integer sums, so the same bits every run).</summary>
    public static ImageStatistics Statistics(ImageClassificationSet set, int[]? indices)
    {
        int c = set.Channels, plane = set.Height * set.Width;
        var sum = new long[c];
        var sq = new long[c];
        foreach (int i in indices ?? Enumerable.Range(0, set.Count))
            for (int ch = 0; ch < c; ch++)
            {
                var (s, s2) = ByteSums(set.Images.AsSpan(i * set.ImageSize + ch * plane, plane));
                sum[ch] += s;
                sq[ch] += s2;
            }
        long n = (long)(indices?.Length ?? set.Count) * plane;
        var (mean, std) = MeanStd(sum, sq, n);
        int side = Math.Min(set.Height, set.Width);
        return new ImageStatistics(mean, std, side, side, Math.Max(set.Height, set.Width));
    }

    /// <summary>The sum and the sum of squares of a plane of bytes (exact, so any order gives the same result).</summary>
    internal static (long Sum, long Squares) ByteSums(ReadOnlySpan<byte> plane)
    {
        long s = 0, s2 = 0;
        foreach (byte b in plane) { s += b; s2 += b * b; }
        return (s, s2);
    }

    internal static (float[] Mean, float[] Std) MeanStd(long[] sum, long[] sq, long n)
    {
        var mean = new float[sum.Length];
        var std = new float[sum.Length];
        for (int ch = 0; ch < sum.Length; ch++)
        {
            double m = sum[ch] / (255.0 * Math.Max(1, n));
            double v = sq[ch] / (255.0 * 255.0 * Math.Max(1, n)) - m * m;
            mean[ch] = (float)m;
            // A constant channel would divide by zero when normalised: keep 1 there.
            std[ch] = v > 1e-12 ? (float)Math.Sqrt(v) : 1f;
        }
        return (mean, std);
    }

    /// <summary>The image files of a class-per-folder tree, with labels in the tree's own class order.</summary>
    private static (List<(string Path, long Label)> Files, string[] Classes) FolderFiles(string root, DataRequest r, out List<SkippedFile> skipped)
    {
        var (files, classes, empty, _) = ImageFolder.ClassFiles(root, r.SkipBad);
        skipped = empty;
        return (files, classes);
    }

    private static DataSource SplitFolders(string path, string trainDir, string testDir, string testName, DataRequest r)
    {
        var (trainFiles, classes) = FolderFiles(trainDir, r, out var skipped);
        var (testFiles, testClasses) = FolderFiles(testDir, r, out var skippedTest);
        if (!classes.SequenceEqual(testClasses, StringComparer.Ordinal))
        {
            var missing = classes.Except(testClasses, StringComparer.Ordinal).ToList();
            var extra = testClasses.Except(classes, StringComparer.Ordinal).ToList();
            throw new InvalidDataException($"{testDir}: the {testName} split's classes differ from {trainDir}'s" +
                (missing.Count > 0 ? $"; missing from {testName}: {string.Join(", ", missing)}" : "") +
                (extra.Count > 0 ? $"; not in train: {string.Join(", ", extra)}" : ""));
        }
        var (trainSource, trainScan, bad1) = Files(trainFiles, classes, r);
        var (testSource, _, bad2) = Files(testFiles, classes, r);
        return new DataSource
        {
            Path = path, Layout = DataLayout.SplitFolders, ClassNames = classes, Train = trainSource, Test = testSource, TestSplit = testName, Seed = r.Seed,
            FromFiles = true, Channels = r.Grayscale ? 1 : 3, TrainStatistics = trainScan?.Statistics(null), Skipped = [.. skipped, .. skippedTest, .. bad1, .. bad2],
        };
    }

    private static DataSource FromLabelList(string path, DataRequest r)
    {
        var list = LabelList.Read(path);
        var labels = list.SingleLabels(path);
        var files = list.Samples.Select((s, i) => (s.Path, labels[i])).ToList();
        return Stratified(path, DataLayout.LabelList, (files, list.ClassNames), r, []);
    }

    /// <summary>One set of files split into train and validation by class (Splits.Stratified from the seed).</summary>
    private static DataSource Stratified(string path, DataLayout layout, (List<(string Path, long Label)> Files, string[] Classes) all, DataRequest r, List<SkippedFile> skipped)
    {
        // Unreadable files are dropped before splitting, so the split is over the files that are used.
        var (source, scan, bad) = Files(all.Files, all.Classes, r);
        var labels = Enumerable.Range(0, source.Count).Select(i => source.Label(i)).ToArray();
        var (train, val) = Splits.Stratified(labels, r.ValFraction, r.Seed);
        if (val.Length == 0) throw new InvalidDataException($"{path}: has no test split ({string.Join("/", TestFolderNames)} folder) and --val {r.ValFraction} leaves no validation images");
        return new DataSource
        {
            Path = path, Layout = layout, ClassNames = all.Classes, Train = source, TrainIndices = train, Test = source, TestIndices = val,
            TestSplit = "validation", ValFraction = r.ValFraction, Seed = r.Seed, FromFiles = true, Channels = r.Grayscale ? 1 : 3,
            TrainStatistics = scan?.Statistics(train), Skipped = [.. skipped, .. bad],
        };
    }

    /// <summary>An image file source over the readable files (all of them must be readable unless SkipBad), and their scan.</summary>
    private static (ImageFileSource Source, FileScan? Scan, List<SkippedFile> Bad) Files(List<(string Path, long Label)> files, string[] classes, DataRequest r)
    {
        var source = new ImageFileSource(files, classes, r.Grayscale);
        if (!r.Verify) return (source, null, []);
        var scan = FileScan.Run(source, r);
        var problems = scan.Problems;
        if (problems.Count == 0) return (source, scan, []);
        if (!r.SkipBad)
            throw new InvalidDataException($"{problems[0].Path}: {problems[0].Problem}" + (problems.Count > 1 ? $" (and {problems.Count - 1} more unreadable files; --skip-bad leaves them out and lists them)" : " (--skip-bad leaves unreadable files out and lists them)"));
        var keep = Enumerable.Range(0, files.Count).Where(i => scan.Readable(i)).ToArray();
        if (keep.Length == 0) throw new InvalidDataException($"none of the {files.Count} image files could be decoded (first: {problems[0].Path}: {problems[0].Problem})");
        return (new ImageFileSource([.. keep.Select(i => files[i])], classes, r.Grayscale), scan.Subset(keep), problems);
    }
}

/// <summary>Every file of a source decoded once: which fail, each one's size and per-channel byte sums.</summary>
internal sealed class FileScan
{
    private readonly string?[] _problem;
    private readonly int[] _shorter, _longer;
    private readonly long[] _sums, _squares;
    private readonly int _channels;
    private readonly string[] _files;

    private FileScan(string[] files, int channels)
    {
        _files = files;
        _channels = channels;
        _problem = new string?[files.Length];
        _shorter = new int[files.Length];
        _longer = new int[files.Length];
        _sums = new long[files.Length * channels];
        _squares = new long[files.Length * channels];
    }

    public bool Readable(int i) => _problem[i] is null;

    public List<SkippedFile> Problems => [.. Enumerable.Range(0, _files.Length).Where(i => _problem[i] is not null).Select(i => new SkippedFile(_files[i], _problem[i]!))];

    public static FileScan Run(ImageFileSource source, DataRequest r)
    {
        var scan = new FileScan([.. source.Files], r.Grayscale ? 1 : 3);
        var decoder = new ImageDecoder();
        Parallel.For(0, scan._files.Length, new ParallelOptions { MaxDegreeOfParallelism = r.Workers }, () => Array.Empty<byte>(), (k, _, buffer) =>
        {
            var path = scan._files[k];
            try
            {
                var (ch, h, w) = decoder.DecodeNative(path, r.Grayscale, ref buffer);
                scan._shorter[k] = Math.Min(h, w);
                scan._longer[k] = Math.Max(h, w);
                int plane = h * w;
                for (int p = 0; p < ch; p++)
                {
                    (scan._sums[k * ch + p], scan._squares[k * ch + p]) = DatasetResolver.ByteSums(buffer.AsSpan(p * plane, plane));
                }
            }
            catch (InvalidDataException e) { scan._problem[k] = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message; }
            return buffer;
        }, _ => { });
        return scan;
    }

    /// <summary>The scan of the listed files only, renumbered 0..n-1 (after unreadable files are dropped).</summary>
    public FileScan Subset(int[] keep)
    {
        var s = new FileScan([.. keep.Select(i => _files[i])], _channels);
        for (int j = 0; j < keep.Length; j++)
        {
            int i = keep[j];
            s._problem[j] = _problem[i];
            s._shorter[j] = _shorter[i];
            s._longer[j] = _longer[i];
            for (int p = 0; p < _channels; p++) { s._sums[j * _channels + p] = _sums[i * _channels + p]; s._squares[j * _channels + p] = _squares[i * _channels + p]; }
        }
        return s;
    }

    /// <summary>Mean, std and sizes over the readable files among indices (all when null); sums in index order, so the
    /// same bits whatever the thread count.</summary>
    public ImageStatistics? Statistics(int[]? indices)
    {
        var ok = (indices ?? Enumerable.Range(0, _files.Length)).Where(Readable).ToArray();
        if (ok.Length == 0) return null;
        var sum = new long[_channels];
        var sq = new long[_channels];
        long n = 0;
        foreach (int k in ok)
        {
            for (int p = 0; p < _channels; p++) { sum[p] += _sums[k * _channels + p]; sq[p] += _squares[k * _channels + p]; }
            n += (long)_shorter[k] * _longer[k]; // every channel of an image has h * w pixels
        }
        var (mean, std) = DatasetResolver.MeanStd(sum, sq, n);
        var sides = ok.Select(k => _shorter[k]).Order().ToArray();
        int smallest = ok.MinBy(k => _shorter[k]);
        return new ImageStatistics(mean, std, sides[0], sides[sides.Length / 2], ok.Max(k => _longer[k])) { SmallestFile = _files[smallest] };
    }
}
