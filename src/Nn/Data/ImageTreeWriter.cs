// Writes a data set's splits as a class-per-folder photo tree (root/train/CLASS/*.png|jpg, root/test/CLASS/...):
// how users' own data sets look, made from one we have (Fashion-MNIST, CIFAR) so the photo workflow can be tested
// and compared with the in-memory one on the same images.
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Cuda.Nn.Data;

public sealed record ImageTreeOptions
{
    /// <summary>Side of the written images (bilinear resize).</summary>
    public int Size { get; init; } = 64;
    /// <summary>Write RGB files (grey images replicated) rather than single-channel ones.</summary>
    public bool Rgb { get; init; } = true;
    /// <summary>Every n-th image is a JPEG (quality 95), the rest PNG; 0 = PNG only.</summary>
    public int JpegEvery { get; init; } = 2;
    public int TrainLimit { get; init; }
    public int TestLimit { get; init; }
}

public static class ImageTreeWriter
{
    /// <summary>A class name as a folder name: path separators and other characters no file system takes become '-'.</summary>
    public static string FolderName(string className)
    {
        var chars = className.Select(ch => ch is '/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|' || char.IsControl(ch) ? '-' : ch).ToArray();
        var name = new string(chars).Trim();
        return name is "" or "." or ".." ? "class" : name;
    }

    /// <summary>Writes the train and test splits of data under root; returns the number of files written per split.</summary>
    public static (int Train, int Test) Write(DataSource data, string root, ImageTreeOptions? options = null)
    {
        var o = options ?? new ImageTreeOptions();
        if (o.Size is < 1 or > 4096) throw new ArgumentException($"image size must be in [1, 4096], got {o.Size}");
        var folders = data.ClassNames.Select(FolderName).ToArray();
        if (folders.Distinct(StringComparer.Ordinal).Count() != folders.Length)
            throw new ArgumentException($"class names [{string.Join(", ", data.ClassNames)}] give clashing folder names");
        int train = WriteSplit(data.Train, data.TrainSplit, o.TrainLimit, Path.Combine(root, "train"), folders, o);
        int test = WriteSplit(data.Test, data.TestSplitIndices, o.TestLimit, Path.Combine(root, "test"), folders, o);
        return (train, test);
    }

    private static int WriteSplit(ISampleSource source, int[] indices, int limit, string dir, string[] folders, ImageTreeOptions o)
    {
        var take = limit > 0 ? indices.Take(limit).ToArray() : indices;
        foreach (var f in folders) Directory.CreateDirectory(Path.Combine(dir, f));
        Parallel.For(0, take.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => new ImageBuffer(0, 0, 0), (k, _, img) =>
        {
            int i = take[k];
            long label = source.Load(i, img);
            bool jpeg = o.JpegEvery > 0 && k % o.JpegEvery == o.JpegEvery - 1;
            var path = Path.Combine(dir, folders[label], $"{k:D6}.{(jpeg ? "jpg" : "png")}");
            Save(img, path, o, jpeg);
            return img;
        }, _ => { });
        return take.Length;
    }

    private static void Save(ImageBuffer img, string path, ImageTreeOptions o, bool jpeg)
    {
        int c = img.Channels, h = img.Height, w = img.Width, plane = h * w;
        var d = img.Data;
        byte Px(int ch, int i) => (byte)Math.Clamp((int)MathF.Round(d[Math.Min(ch, c - 1) * plane + i] * 255f), 0, 255);
        using var image = new Image<Rgb24>(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                image[x, y] = new Rgb24(Px(0, i), Px(1, i), Px(2, i));
            }
        if (h != o.Size || w != o.Size) image.Mutate(m => m.Resize(o.Size, o.Size, KnownResamplers.Triangle));
        // The project's one write path: a half-written image is never left under its real name.
        IO.AtomicFile.Write(path, f =>
        {
            if (!o.Rgb)
            {
                using var gray = image.CloneAs<L8>();
                if (jpeg) gray.SaveAsJpeg(f, new JpegEncoder { Quality = 95 }); else gray.SaveAsPng(f, new PngEncoder());
            }
            else if (jpeg) image.SaveAsJpeg(f, new JpegEncoder { Quality = 95 });
            else image.SaveAsPng(f, new PngEncoder());
        });
    }
}
