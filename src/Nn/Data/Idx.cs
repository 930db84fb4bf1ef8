// IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed. Every malformed input gets an
// InvalidDataException that names the file and what is wrong; sizes are checked before allocating.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Cuda.Nn.Data;

public sealed class IdxArray
{
    public required int[] Shape { get; init; }
    /// <summary>Element type code from the header (0x08 = unsigned byte, the only one image sets use).</summary>
    public required byte TypeCode { get; init; }
    public required byte[] Data { get; init; }
    public int Count => Shape[0];
}

public static class Idx
{
    /// <summary>Refuses headers that claim more than this many bytes (a corrupt or hostile file).</summary>
    public const long MaxBytes = 1L << 31;

    public static IdxArray Read(string path)
    {
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"IDX file not found: {path}", path); }
        return Parse(raw, path);
    }

    public static IdxArray Parse(byte[] fileBytes, string source)
    {
        byte[] bytes = fileBytes;
        if (fileBytes.Length >= 2 && fileBytes[0] == 0x1F && fileBytes[1] == 0x8B)
        {
            try
            {
                using var gz = new GZipStream(new MemoryStream(fileBytes), CompressionMode.Decompress);
                using var ms = new MemoryStream();
                var buffer = new byte[81920];
                int n;
                while ((n = gz.Read(buffer, 0, buffer.Length)) > 0)
                {
                    ms.Write(buffer, 0, n);
                    if (ms.Length > MaxBytes + 64) throw new InvalidDataException($"{source}: decompressed data exceeds {MaxBytes} bytes");
                }
                bytes = ms.ToArray();
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{source}: corrupt gzip data ({e.Message})", e);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"{source}: truncated gzip data", e);
            }
        }
        if (bytes.Length < 4) throw new InvalidDataException($"{source}: too short for an IDX header ({bytes.Length} bytes)");
        if (bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"{source}: wrong magic number 0x{bytes[0]:X2}{bytes[1]:X2}{bytes[2]:X2}{bytes[3]:X2} (an IDX file starts with two zero bytes, a type code and the dimension count)");
        byte type = bytes[2];
        int elemSize = type switch { 0x08 or 0x09 => 1, 0x0B => 2, 0x0C or 0x0D => 4, 0x0E => 8, _ => 0 };
        if (elemSize == 0) throw new InvalidDataException($"{source}: unknown IDX element type code 0x{type:X2}");
        int rank = bytes[3];
        if (rank is < 1 or > 8) throw new InvalidDataException($"{source}: IDX dimension count {rank} is outside 1..8");
        int headerLen = 4 + 4 * rank;
        if (bytes.Length < headerLen) throw new InvalidDataException($"{source}: truncated header ({bytes.Length} bytes, need {headerLen} for {rank} dimensions)");
        var shape = new int[rank];
        long total = elemSize;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (d > int.MaxValue) throw new InvalidDataException($"{source}: dimension {i} is {d}, too large");
            shape[i] = (int)d;
            total *= d;
            if (total > MaxBytes) throw new InvalidDataException($"{source}: header claims more than {MaxBytes} bytes of data (shape so far {Kernels.Layout.ShapeString(shape[..(i + 1)])})");
        }
        long have = bytes.Length - headerLen;
        if (have < total) throw new InvalidDataException($"{source}: truncated: header shape {Kernels.Layout.ShapeString(shape)} needs {total} data bytes, file has {have}");
        if (have > total) throw new InvalidDataException($"{source}: {have - total} unexpected bytes after the data of shape {Kernels.Layout.ShapeString(shape)}");
        return new IdxArray { Shape = shape, TypeCode = type, Data = bytes.AsSpan(headerLen).ToArray() };
    }
}

/// <summary>An in-memory image classification set: U8 images [N, C, H, W] and I64 labels [N].</summary>
public sealed class ImageClassificationSet : ISampleSource
{
    public required byte[] Images { get; init; }
    public required long[] Labels { get; init; }
    public required int Channels { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }
    public required string[] ClassNames { get; init; }
    public int Count => Labels.Length;
    public int ImageSize => Channels * Height * Width;

    public long Label(int index) => Labels[index];

    /// <summary>ToTensor: the bytes of sample index scaled to [0, 1].</summary>
    public long Load(int index, ImageBuffer image)
    {
        image.SetFromBytes(Images.AsSpan(index * ImageSize, ImageSize), Channels, Height, Width);
        return Labels[index];
    }

    public static readonly string[] FashionMnistClasses =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Debian's dataset-fashion-mnist location.</summary>
    public const string DefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

    /// <summary>Loads an IDX image/label pair, checking that they agree.</summary>
    public static ImageClassificationSet FromIdx(string imagesPath, string labelsPath, string[]? classNames = null)
    {
        var img = Idx.Read(imagesPath);
        var lab = Idx.Read(labelsPath);
        if (img.TypeCode != 0x08 || img.Shape.Length != 3) throw new InvalidDataException($"{imagesPath}: expected unsigned-byte images [N, H, W], got type 0x{img.TypeCode:X2} shape {Kernels.Layout.ShapeString(img.Shape)}");
        if (lab.TypeCode != 0x08 || lab.Shape.Length != 1) throw new InvalidDataException($"{labelsPath}: expected unsigned-byte labels [N], got type 0x{lab.TypeCode:X2} shape {Kernels.Layout.ShapeString(lab.Shape)}");
        if (img.Count != lab.Count) throw new InvalidDataException($"{imagesPath} has {img.Count} images but {labelsPath} has {lab.Count} labels");
        var labels = new long[lab.Count];
        int maxLabel = 0;
        for (int i = 0; i < labels.Length; i++) { labels[i] = lab.Data[i]; maxLabel = Math.Max(maxLabel, lab.Data[i]); }
        var names = classNames ?? Enumerable.Range(0, maxLabel + 1).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (maxLabel >= names.Length) throw new InvalidDataException($"{labelsPath}: label {maxLabel} but only {names.Length} class names");
        return new ImageClassificationSet { Images = img.Data, Labels = labels, Channels = 1, Height = img.Shape[1], Width = img.Shape[2], ClassNames = names };
    }

    /// <summary>Finds "{prefix}-images-idx3-ubyte[.gz]" and the labels in dir (prefix "train" or "t10k").</summary>
    public static ImageClassificationSet FromIdxDirectory(string dir, bool train, string[]? classNames = null)
    {
        if (!Directory.Exists(dir))
            throw new DirectoryNotFoundException(dir == DefaultFashionMnistDir
                ? $"Fashion-MNIST not found at {dir}: install it with 'sudo apt-get install dataset-fashion-mnist' or pass --data DIR with the four IDX files"
                : $"data directory not found: {dir}");
        string prefix = train ? "train" : "t10k";
        string Find(string kind)
        {
            foreach (var ext in new[] { "", ".gz" })
            {
                var p = Path.Combine(dir, $"{prefix}-{kind}{ext}");
                if (File.Exists(p)) return p;
            }
            throw new FileNotFoundException($"{dir} has no {prefix}-{kind} or {prefix}-{kind}.gz");
        }
        return FromIdx(Find("images-idx3-ubyte"), Find("labels-idx1-ubyte"), classNames);
    }
}
