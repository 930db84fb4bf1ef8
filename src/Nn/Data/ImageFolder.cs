// Class-per-folder image sets (root/class_name/*.png ...) and label-listed images, decoded with ImageSharp 2.1
// to RGB or grayscale at a fixed size (bilinear). Each file's header is identified and its pixel count capped
// before any pixels are decoded (decompression bombs); only the first frame of a GIF is decoded; one buffer is
// capped by ImageSharp's allocation limit. A file that cannot be used is an error naming it and the problem, or,
// with SkipBad, is left out and listed in the result.
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Cuda.Nn.Data;

public sealed class ImageLoadOptions
{
    public int Width { get; init; } = 32;
    public int Height { get; init; } = 32;
    /// <summary>One luminance channel (ImageSharp's L8, BT.709) instead of three RGB channels.</summary>
    public bool Grayscale { get; init; }
    /// <summary>Leave out and list unusable files and empty class folders instead of failing on the first.</summary>
    public bool SkipBad { get; init; }
    /// <summary>Largest width × height (× frames where the header tells) accepted before decoding.</summary>
    public long MaxPixels { get; init; } = 64L * 1024 * 1024;
    /// <summary>Largest file read.</summary>
    public long MaxFileBytes { get; init; } = 256L * 1024 * 1024;
    /// <summary>Decoding threads.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    internal void Check()
    {
        if (Width is < 1 or > 4096 || Height is < 1 or > 4096) throw new ArgumentOutOfRangeException(nameof(Width), $"output size {Width}x{Height} must be within 1..4096");
        if (MaxPixels < 1 || MaxFileBytes < 1 || Workers < 1) throw new ArgumentOutOfRangeException(nameof(MaxPixels), "limits and workers must be positive");
    }
}

/// <summary>A file or folder left out, and why.</summary>
public sealed record SkippedFile(string Path, string Problem);

public sealed class ImageFolderResult
{
    public required ImageClassificationSet Set { get; init; }
    /// <summary>The file of each sample.</summary>
    public required string[] Files { get; init; }
    /// <summary>What was left out (SkipBad), in path order.</summary>
    public required SkippedFile[] Skipped { get; init; }
    /// <summary>Files without an image extension, and links to folders inside class folders, not read.</summary>
    public required int IgnoredFiles { get; init; }

    public string Report()
    {
        var sb = new StringBuilder();
        var counts = new int[Set.ClassNames.Length];
        foreach (var l in Set.Labels) counts[l]++;
        sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"{Set.Count} images in {Set.ClassNames.Length} classes at {Set.Channels}x{Set.Height}x{Set.Width}");
        if (IgnoredFiles > 0) sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"; {IgnoredFiles} other files or linked folders ignored");
        sb.AppendLine();
        for (int c = 0; c < counts.Length; c++) sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  {Set.ClassNames[c]}: {counts[c]}");
        if (Skipped.Length > 0)
        {
            sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"skipped {Skipped.Length}:");
            foreach (var s in Skipped) sb.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"  {s.Path}: {s.Problem}");
        }
        return sb.ToString();
    }
}

public static class ImageFolder
{
    public static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    private static readonly EnumerationOptions OneLevel = new()
    {
        RecurseSubdirectories = false, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
        MatchType = MatchType.Simple, ReturnSpecialDirectories = false,
    };

    /// <summary>
    /// The files under dir, recursively, not descending into symbolic links to directories (a link loop would
    /// otherwise repeat files until the path length limit). Returns the files and how many linked folders were passed over.
    /// </summary>
    private static (List<string> Files, int SkippedLinks) WalkFiles(string dir)
    {
        var files = new List<string>();
        int links = 0;
        var stack = new Stack<string>();
        stack.Push(dir);
        while (stack.Count > 0)
        {
            var d = stack.Pop();
            files.AddRange(Directory.EnumerateFiles(d, "*", OneLevel));
            foreach (var sub in Directory.EnumerateDirectories(d, "*", OneLevel))
            {
                if (new DirectoryInfo(sub).LinkTarget is not null) { links++; continue; }
                stack.Push(sub);
            }
        }
        return (files, links);
    }

    /// <summary>
    /// The class folders of root (ordinal order) with their image files (recursive, ordinal order), and how many
    /// other files and linked sub-folders were passed over.
    /// </summary>
    public static (List<(string Class, string Dir, string[] Files)> Classes, int Ignored) Scan(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"image folder not found: {root}");
        var classes = new List<(string, string, string[])>();
        int ignored = 0;
        // A class folder may itself be a link (it is followed); links to folders inside it are not.
        foreach (var dir in Directory.EnumerateDirectories(root, "*", OneLevel).Order(StringComparer.Ordinal))
        {
            var (all, links) = WalkFiles(dir);
            var images = all.Where(IsImageFile).Order(StringComparer.Ordinal).ToArray();
            ignored += all.Count - images.Length + links;
            classes.Add((Path.GetFileName(dir), dir, images));
        }
        return (classes, ignored);
    }

    /// <summary>Loads root/class_name/**/*.{jpg,jpeg,png,bmp,gif,webp}; classes are the folder names in ordinal order.</summary>
    public static ImageFolderResult Load(string root, ImageLoadOptions options)
    {
        options.Check();
        var (files, names, skipped, ignored) = ClassFiles(root, options.SkipBad);
        return LoadFiles(files, names, options, skipped, ignored);
    }

    /// <summary>
    /// The image files of a class-per-folder tree labelled in the tree's class order (ordinal). An empty class folder
    /// is an error naming it, or with skipBad is left out and listed.
    /// </summary>
    internal static (List<(string Path, long Label)> Files, string[] Classes, List<SkippedFile> Skipped, int Ignored) ClassFiles(string root, bool skipBad)
    {
        var (classes, ignored) = Scan(root);
        if (classes.Count == 0) throw new InvalidDataException($"{root}: no class folders (expected {root}/CLASS_NAME/image files)");
        var skipped = new List<SkippedFile>();
        var names = new List<string>();
        var files = new List<(string, long)>();
        foreach (var (name, dir, images) in classes)
        {
            if (images.Length == 0)
            {
                string problem = $"class folder '{name}' has no image files ({string.Join(", ", Extensions)})";
                if (!skipBad) throw new InvalidDataException($"{dir}: {problem} (remove it, or --skip-bad leaves it out)");
                skipped.Add(new SkippedFile(dir, problem));
                continue;
            }
            foreach (var f in images) files.Add((f, names.Count));
            names.Add(name);
        }
        if (names.Count == 0) throw new InvalidDataException($"{root}: every class folder is empty");
        return (files, [.. names], skipped, ignored);
    }

    /// <summary>Loads the images of a single-label list (see LabelList); class indices follow the list's ClassNames.</summary>
    public static ImageFolderResult FromList(LabelList list, ImageLoadOptions options, string source = "label list")
    {
        options.Check();
        var labels = list.SingleLabels(source);
        return LoadFiles([.. list.Samples.Select((s, i) => (s.Path, labels[i]))], list.ClassNames, options, [], 0);
    }

    private static ImageFolderResult LoadFiles(List<(string Path, long Label)> files, string[] classNames, ImageLoadOptions o, List<SkippedFile> skipped, int ignored)
    {
        int c = o.Grayscale ? 1 : 3, size = c * o.Height * o.Width;
        if ((long)size * files.Count > int.MaxValue) throw new InvalidOperationException($"{files.Count} images of {c}x{o.Height}x{o.Width} do not fit in one in-memory set");
        var images = new byte[(long)size * files.Count];
        var problems = new string?[files.Count];
        var decoder = new ImageDecoder(o.MaxPixels, o.MaxFileBytes);
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = o.Workers }, (i, state) =>
        {
            if (!o.SkipBad && state.ShouldExitCurrentIteration && state.LowestBreakIteration < i) return;
            try { decoder.DecodeFile(files[i].Path, o.Width, o.Height, o.Grayscale, images.AsSpan(i * size, size)); }
            catch (InvalidDataException e)
            {
                problems[i] = e.Message;
                if (!o.SkipBad) state.Break();
            }
        });
        var keep = new List<int>();
        for (int i = 0; i < files.Count; i++)
        {
            if (problems[i] is null) { keep.Add(i); continue; }
            if (!o.SkipBad) throw new InvalidDataException(problems[i]);
            skipped.Add(new SkippedFile(files[i].Path, problems[i]![(files[i].Path.Length + 2)..]));
        }
        byte[] kept = images;
        if (keep.Count != files.Count)
        {
            kept = new byte[(long)size * keep.Count];
            for (int k = 0; k < keep.Count; k++) Buffer.BlockCopy(images, keep[k] * size, kept, k * size, size);
        }
        var set = new ImageClassificationSet
        {
            Images = kept, Labels = [.. keep.Select(i => files[i].Label)], Channels = c, Height = o.Height, Width = o.Width, ClassNames = classNames,
        };
        return new ImageFolderResult { Set = set, Files = [.. keep.Select(i => files[i].Path)], Skipped = [.. skipped], IgnoredFiles = ignored };
    }
}

/// <summary>Guarded decoding of one image file to a fixed-size CHW byte image. Errors are InvalidDataException("PATH: problem").</summary>
public sealed class ImageDecoder
{
    private readonly Configuration _config;
    public long MaxPixels { get; }
    public long MaxFileBytes { get; }

    public ImageDecoder(long maxPixels = 64L * 1024 * 1024, long maxFileBytes = 256L * 1024 * 1024)
    {
        MaxPixels = maxPixels;
        MaxFileBytes = maxFileBytes;
        // A configuration of its own: Configuration.Default.Clone() shares the format manager, so setting the GIF
        // decoder on a clone changed every ImageSharp user in the process. Only the five formats read here.
        _config = new Configuration(new PngConfigurationModule(), new JpegConfigurationModule(), new GifConfigurationModule(),
            new BmpConfigurationModule(), new WebpConfigurationModule())
        {
            MaxDegreeOfParallelism = 1, // the loaders run one file per thread already
        };
        // One buffer may hold at most a frame of 16-byte pixels at the pixel cap (decoders' working buffers stay well under it).
        _config.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions
        {
            AllocationLimitMegabytes = (int)Math.Clamp(maxPixels * 16 / (1024 * 1024) + 16, 16, 1 << 20),
        });
        _config.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
    }

    private static InvalidDataException Bad(string path, string problem, Exception? inner = null) => new($"{path}: {problem}", inner);

    /// <summary>Exceptions a hostile or broken file can raise inside a decoder; anything else is a bug and propagates.</summary>
    private static bool Recoverable(Exception e) => e is ImageFormatException or InvalidMemoryOperationException or NotSupportedException
        or ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException or IOException or NullReferenceException
        or InvalidCastException or DivideByZeroException;

    public byte[] ReadFile(string path)
    {
        try { return SafeFile.ReadAllBytes(path, MaxFileBytes, "image file"); }
        catch (FileNotFoundException e) { throw Bad(path, "file not found", e); }
    }

    public void DecodeFile(string path, int width, int height, bool grayscale, Span<byte> chw) =>
        Decode(ReadFile(path), path, width, height, grayscale, chw);

    /// <summary>Identifies, checks the pixel count, decodes the first frame, orients it by EXIF, resizes (bilinear) and writes C×H×W bytes.</summary>
    public void Decode(byte[] bytes, string path, int width, int height, bool grayscale, Span<byte> chw)
    {
        string format = Check(bytes, path);
        try
        {
            using var img = Load(bytes, grayscale);
            img.Mutate(x =>
            {
                x.AutoOrient();
                if (x.GetCurrentSize() != new Size(width, height))
                    x.Resize(new ResizeOptions { Size = new Size(width, height), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle });
            });
            ToPlanar(img, chw);
        }
        catch (Exception e) when (Recoverable(e)) { throw Bad(path, $"corrupt or truncated {format} data ({Describe(e)})", e); }
    }

    /// <summary>Decodes a file at its own (EXIF-oriented) size into buffer (grown when needed) as C×H×W bytes.</summary>
    public (int C, int H, int W) DecodeNative(string path, bool grayscale, ref byte[] buffer) => DecodeNative(ReadFile(path), path, grayscale, ref buffer);

    /// <summary>As DecodeNative for a file, from its bytes; name is what errors call it.</summary>
    public (int C, int H, int W) DecodeNative(byte[] bytes, string name, bool grayscale, ref byte[] buffer)
    {
        if (bytes.LongLength > MaxFileBytes) throw Bad(name, $"{bytes.LongLength} bytes, over the limit of {MaxFileBytes} for an image");
        string format = Check(bytes, name);
        try
        {
            using var img = Load(bytes, grayscale);
            img.Mutate(x => x.AutoOrient());
            int c = grayscale ? 1 : 3, n = c * img.Width * img.Height;
            if (buffer.Length < n) buffer = new byte[n];
            ToPlanar(img, buffer.AsSpan(0, n));
            return (c, img.Height, img.Width);
        }
        catch (Exception e) when (Recoverable(e)) { throw Bad(name, $"corrupt or truncated {format} data ({Describe(e)})", e); }
    }

    /// <summary>Checks the header and the pixel cap before any pixel is decoded; returns the format's name.</summary>
    private string Check(byte[] bytes, string path)
    {
        IImageInfo? info;
        IImageFormat? format;
        try { info = Image.Identify(_config, bytes, out format); }
        catch (Exception e) when (Recoverable(e)) { throw Bad(path, $"corrupt image header ({Describe(e)})", e); }
        if (info is null || format is null) throw Bad(path, $"not a recognized image ({Sniff(bytes)}; PNG, JPEG, BMP, GIF and WebP are read)");
        if (info.Width <= 0 || info.Height <= 0) throw Bad(path, $"{format.Name} header gives an empty size {info.Width}x{info.Height}");
        long frames = format.Name == "Webp" ? Math.Max(1, WebpFrames(bytes)) : 1;
        long pixels = (long)info.Width * info.Height * frames;
        if (pixels > MaxPixels)
            throw Bad(path, $"{format.Name} header claims {info.Width}x{info.Height}{(frames > 1 ? $"x{frames} frames" : "")} = {pixels} pixels, over the limit of {MaxPixels} (a decompression bomb, or raise the limit)");
        return format.Name;
    }

    private Image Load(byte[] bytes, bool grayscale) => grayscale ? Image.Load<L8>(_config, bytes) : Image.Load<Rgb24>(_config, bytes);

    /// <summary>Interleaved pixels to planes, row by row (no whole-image temporary).</summary>
    private static void ToPlanar(Image image, Span<byte> chw)
    {
        int w = image.Width, h = image.Height, plane = w * h;
        if (image is Image<L8> gray)
        {
            gray.CopyPixelDataTo(chw[..plane]);
            return;
        }
        var rgb = (Image<Rgb24>)image;
        if (rgb.DangerousTryGetSinglePixelMemory(out var memory)) Split(memory.Span, chw);
        else
        {
            // Images over the allocator's contiguous limit come in several buffers.
            var all = new Rgb24[plane];
            rgb.CopyPixelDataTo(all);
            Split(all, chw);
        }
    }

    private static void Split(ReadOnlySpan<Rgb24> px, Span<byte> chw)
    {
        int plane = px.Length;
        for (int i = 0; i < plane; i++)
        {
            chw[i] = px[i].R;
            chw[plane + i] = px[i].G;
            chw[2 * plane + i] = px[i].B;
        }
    }

    private static string Describe(Exception e) => e is InvalidMemoryOperationException
        ? $"decoding needs a buffer over the allocation limit: {e.Message}"
        : $"{e.GetType().Name}: {e.Message}";

    /// <summary>Names what the first bytes look like, for "not an image" errors.</summary>
    internal static string Sniff(byte[] b)
    {
        if (b.Length == 0) return "empty";
        if (b.Length >= 2 && b[0] == 0x1F && b[1] == 0x8B) return "gzip data";
        if (b.Length >= 4 && b[0] == 'P' && b[1] == 'K') return "a zip archive";
        if (b.Length >= 5 && Encoding.ASCII.GetString(b, 0, 5) == "%PDF-") return "a PDF";
        int n = Math.Min(b.Length, 64), text = 0;
        for (int i = 0; i < n; i++) if (b[i] is 9 or 10 or 13 || (b[i] >= 32 && b[i] < 127)) text++;
        if (text == n) return "looks like text";
        return "unknown signature " + Convert.ToHexString(b, 0, Math.Min(b.Length, 8));
    }

    /// <summary>Counts ANMF (animation frame) chunks of a RIFF WebP file, walking the chunk list with bounds checks.</summary>
    internal static long WebpFrames(byte[] b)
    {
        long frames = 0;
        long pos = 12;
        while (pos + 8 <= b.Length)
        {
            uint size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan((int)pos + 4));
            if (b[pos] == 'A' && b[pos + 1] == 'N' && b[pos + 2] == 'M' && b[pos + 3] == 'F') frames++;
            pos += 8 + size + (size & 1);
        }
        return frames;
    }
}
