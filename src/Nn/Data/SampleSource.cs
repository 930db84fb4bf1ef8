// What the loader draws samples from: an in-memory set (ImageClassificationSet) or image files decoded
// on demand at their own size (ImageFileSource), the usual case for large photos and RandomResizedCrop.
namespace Cuda.Nn.Data;

public interface ISampleSource
{
    int Count { get; }
    string[] ClassNames { get; }
    long Label(int index);

    /// <summary>Writes sample index into image as floats in [0, 1], C x H x W (the image's shape is set by the source),
    /// and returns the label of what it wrote (another sample's when a source skips a bad file).</summary>
    long Load(int index, ImageBuffer image);

    /// <summary>What names sample index in errors and split lists: its file, or its number.</summary>
    string Describe(int index) => $"#{index}";
}

/// <summary>
/// Image files decoded when a batch needs them, at their own size (guarded by the decoder's pixel and file caps).
/// A file that fails to decode is an InvalidDataException naming it, or with skipBad the next readable sample
/// takes its place and the file is listed in Skipped, so one bad file never ends an epoch.
/// </summary>
public sealed class ImageFileSource : ISampleSource
{
    private readonly string[] _files;
    private readonly long[] _labels;
    private readonly ImageDecoder _decoder;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _skipped = new();

    public string[] ClassNames { get; }
    public bool Grayscale { get; }
    public bool SkipBad { get; }
    public int Count => _files.Length;
    public IReadOnlyList<string> Files => _files;
    /// <summary>Files that failed to decode and were replaced (only with skipBad), with the problem.</summary>
    public IReadOnlyList<SkippedFile> Skipped => _skipped.Select(kv => new SkippedFile(kv.Key, kv.Value)).OrderBy(s => s.Path, StringComparer.Ordinal).ToList();

    public ImageFileSource(IReadOnlyList<(string Path, long Label)> files, string[] classNames, bool grayscale = false, bool skipBad = false, ImageDecoder? decoder = null)
    {
        if (files.Count == 0) throw new ArgumentException("an image file source needs at least one file");
        _files = files.Select(f => f.Path).ToArray();
        _labels = files.Select(f => f.Label).ToArray();
        for (int i = 0; i < _labels.Length; i++)
            if (_labels[i] < 0 || _labels[i] >= classNames.Length) throw new ArgumentException($"{_files[i]}: label {_labels[i]} is outside the {classNames.Length} classes");
        ClassNames = classNames;
        Grayscale = grayscale;
        SkipBad = skipBad;
        _decoder = decoder ?? new ImageDecoder();
    }

    /// <summary>A class-per-folder tree (root/CLASS/*.jpg ...), classes in ordinal order; empty class folders are an error.</summary>
    public static ImageFileSource FromFolder(string root, bool grayscale = false, bool skipBad = false)
    {
        var (classes, _) = ImageFolder.Scan(root);
        if (classes.Count == 0) throw new InvalidDataException($"{root}: no class folders (expected {root}/CLASS_NAME/image files)");
        var empty = classes.Where(c => c.Files.Length == 0).Select(c => c.Class).ToList();
        if (empty.Count > 0) throw new InvalidDataException($"{root}: class folder(s) with no image files: {string.Join(", ", empty)}");
        var files = classes.SelectMany((c, k) => c.Files.Select(f => (f, (long)k))).ToList();
        return new ImageFileSource(files, classes.Select(c => c.Class).ToArray(), grayscale, skipBad);
    }

    public long Label(int index) => _labels[index];

    public string Describe(int index) => _files[index];

    public long Load(int index, ImageBuffer image)
    {
        for (int attempt = 0; attempt < Count; attempt++)
        {
            int k = (index + attempt) % Count;
            if (_skipped.ContainsKey(_files[k])) continue;
            try
            {
                var path = _files[k];
                image.DecodeInto(buffer =>
                {
                    var (c, h, w) = _decoder.DecodeNative(path, Grayscale, ref buffer);
                    return (buffer, c, h, w);
                });
                return _labels[k];
            }
            catch (InvalidDataException e) when (SkipBad)
            {
                _skipped.TryAdd(_files[k], e.Message);
            }
        }
        throw new InvalidDataException($"none of the {Count} image files could be decoded (first problem: {_skipped.Values.FirstOrDefault()})");
    }
}
