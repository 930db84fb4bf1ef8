// CIFAR-10 / CIFAR-100 binary batches (data_batch_N.bin, test_batch.bin; train.bin, test.bin): each record is
// the label byte(s) then 3072 bytes of 32x32 RGB planes. Every malformed input gets an InvalidDataException
// naming the file, the record and what is wrong.
namespace Cuda.Nn.Data;

public enum CifarKind
{
    /// <summary>One label byte (0..9) per record.</summary>
    Cifar10,
    /// <summary>Coarse (0..19) then fine (0..99) label bytes per record; the fine label is used.</summary>
    Cifar100Fine,
    /// <summary>CIFAR-100 records, using the coarse (superclass) label.</summary>
    Cifar100Coarse,
}

public static class Cifar
{
    public const int ImageBytes = 3 * 32 * 32;

    public static readonly string[] Cifar10Classes =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    public static int RecordSize(CifarKind kind) => (kind == CifarKind.Cifar10 ? 1 : 2) + ImageBytes;

    public static int ClassCount(CifarKind kind) => kind switch
    {
        CifarKind.Cifar10 => 10,
        CifarKind.Cifar100Coarse => 20,
        _ => 100,
    };

    /// <summary>Parses one batch held in memory; <paramref name="source"/> names it in errors.</summary>
    public static ImageClassificationSet Parse(byte[] bytes, string source, CifarKind kind, string[]? classNames = null)
    {
        var (images, labels) = ParseRecords(bytes, source, kind);
        return Make(images, labels, kind, classNames);
    }

    /// <summary>Reads and concatenates batch files.</summary>
    public static ImageClassificationSet Read(IReadOnlyList<string> paths, CifarKind kind, string[]? classNames = null)
    {
        if (paths.Count == 0) throw new ArgumentException("no CIFAR batch files given", nameof(paths));
        var images = new List<byte[]>();
        var labels = new List<long[]>();
        foreach (var p in paths)
        {
            var (im, lab) = ParseRecords(SafeFile.ReadAllBytes(p, Idx.MaxBytes, "CIFAR batch"), p, kind);
            images.Add(im);
            labels.Add(lab);
        }
        return Make([.. images.SelectMany(x => x)], [.. labels.SelectMany(x => x)], kind, classNames);
    }

    /// <summary>
    /// The standard layout: cifar-10-batches-bin (data_batch_1..5.bin, test_batch.bin, batches.meta.txt) or
    /// cifar-100-binary (train.bin, test.bin, fine_label_names.txt, coarse_label_names.txt).
    /// </summary>
    public static ImageClassificationSet FromDirectory(string dir, bool train, bool coarse = false)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"CIFAR directory not found: {dir}");
        var test10 = Path.Combine(dir, "test_batch.bin");
        var test100 = Path.Combine(dir, "test.bin");
        if (File.Exists(test10) || File.Exists(Path.Combine(dir, "data_batch_1.bin")))
        {
            var files = train
                ? Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"data_batch_{i}.bin")).ToList()
                : [test10];
            foreach (var f in files) if (!File.Exists(f)) throw new FileNotFoundException($"{dir} looks like CIFAR-10 but has no {Path.GetFileName(f)}", f);
            return Read(files, CifarKind.Cifar10, NamesFile(Path.Combine(dir, "batches.meta.txt"), 10) ?? Cifar10Classes);
        }
        if (File.Exists(test100) || File.Exists(Path.Combine(dir, "train.bin")))
        {
            var f = Path.Combine(dir, train ? "train.bin" : "test.bin");
            if (!File.Exists(f)) throw new FileNotFoundException($"{dir} looks like CIFAR-100 but has no {Path.GetFileName(f)}", f);
            var kind = coarse ? CifarKind.Cifar100Coarse : CifarKind.Cifar100Fine;
            var names = NamesFile(Path.Combine(dir, coarse ? "coarse_label_names.txt" : "fine_label_names.txt"), ClassCount(kind));
            return Read([f], kind, names);
        }
        throw new FileNotFoundException($"{dir} has neither CIFAR-10 (data_batch_1.bin, test_batch.bin) nor CIFAR-100 (train.bin, test.bin) batches");
    }

    private static string[]? NamesFile(string path, int count)
    {
        if (!File.Exists(path)) return null;
        var names = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (names.Length != count) throw new InvalidDataException($"{path}: {names.Length} class names, expected {count}");
        return names;
    }

    private static (byte[] Images, long[] Labels) ParseRecords(byte[] bytes, string source, CifarKind kind)
    {
        int rec = RecordSize(kind), labelBytes = rec - ImageBytes;
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: empty file (a CIFAR batch holds records of {rec} bytes)");
        if (bytes.Length % rec != 0)
        {
            string hint = kind == CifarKind.Cifar10 && bytes.Length % RecordSize(CifarKind.Cifar100Fine) == 0 ? " (its size fits CIFAR-100 records: wrong kind?)"
                : kind != CifarKind.Cifar10 && bytes.Length % RecordSize(CifarKind.Cifar10) == 0 ? " (its size fits CIFAR-10 records: wrong kind?)" : "";
            throw new InvalidDataException($"{source}: size {bytes.Length} bytes is not a multiple of the {kind} record size {rec} ({bytes.Length / rec} whole records and {bytes.Length % rec} bytes left over: truncated or not a CIFAR batch){hint}");
        }
        int n = bytes.Length / rec;
        var images = new byte[(long)n * ImageBytes];
        var labels = new long[n];
        int coarseMax = 20, max = ClassCount(kind);
        for (int i = 0; i < n; i++)
        {
            int off = i * rec;
            if (kind != CifarKind.Cifar10 && bytes[off] >= coarseMax)
                throw new InvalidDataException($"{source}: record {i} (byte offset {off}) has coarse label {bytes[off]}, outside 0..{coarseMax - 1}");
            int label = kind switch { CifarKind.Cifar10 => bytes[off], CifarKind.Cifar100Coarse => bytes[off], _ => bytes[off + 1] };
            if (label >= max)
                throw new InvalidDataException($"{source}: record {i} (byte offset {off}) has label {label}, outside 0..{max - 1} for {kind}");
            labels[i] = label;
            Buffer.BlockCopy(bytes, off + labelBytes, images, i * ImageBytes, ImageBytes);
        }
        return (images, labels);
    }

    private static ImageClassificationSet Make(byte[] images, long[] labels, CifarKind kind, string[]? classNames)
    {
        int k = ClassCount(kind);
        var names = classNames ?? (kind == CifarKind.Cifar10 ? Cifar10Classes : Enumerable.Range(0, k).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        if (names.Length != k) throw new ArgumentException($"{kind} has {k} classes but {names.Length} class names were given", nameof(classNames));
        return new ImageClassificationSet { Images = images, Labels = labels, Channels = 3, Height = 32, Width = 32, ClassNames = names };
    }
}
