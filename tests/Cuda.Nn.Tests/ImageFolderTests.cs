using Cuda.Nn.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Cuda.Nn.Tests;

/// <summary>Small image folders written from real Fashion-MNIST test images, plus deliberately damaged files.</summary>
internal static class ImageFixtures
{
    private static readonly Lazy<ImageClassificationSet?> Fashion = new(() =>
        Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)
            ? ImageClassificationSet.FromIdxDirectory(ImageClassificationSet.DefaultFashionMnistDir, train: false, ImageClassificationSet.FashionMnistClasses)
            : null);

    public static ImageClassificationSet FashionOrSkip()
    {
        if (Fashion.Value is null) Assert.Skip($"Fashion-MNIST is not installed at {ImageClassificationSet.DefaultFashionMnistDir} (apt-get install dataset-fashion-mnist)");
        return Fashion.Value;
    }

    /// <summary>The k-th test image of a class.</summary>
    public static int IndexOf(ImageClassificationSet s, int cls, int k) =>
        Enumerable.Range(0, s.Count).Where(i => s.Labels[i] == cls).Skip(k).First();

    public static Image<L8> ToImage(ImageClassificationSet s, int index) =>
        Image.LoadPixelData<L8>(s.Images.AsSpan(index * s.ImageSize, s.ImageSize), s.Width, s.Height);

    public static void Save(ImageClassificationSet s, int index, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var img = ToImage(s, index);
        if (path.EndsWith(".png", StringComparison.Ordinal)) img.SaveAsPng(path);
        else if (path.EndsWith(".jpg", StringComparison.Ordinal)) img.SaveAsJpeg(path, new JpegEncoder { Quality = 95 });
        else if (path.EndsWith(".bmp", StringComparison.Ordinal)) img.SaveAsBmp(path);
        else img.SaveAsGif(path);
    }

    /// <summary>A valid PNG whose header claims width x height (the pixel data is a few bytes: a decompression-bomb shape).</summary>
    public static byte[] HugePngHeader(uint width, uint height)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var len = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
            ms.Write(len);
            var td = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            ms.Write(td);
            var crc = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(td));
            ms.Write(crc);
        }
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ihdr, width);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth; colour type 0 (gray), compression, filter, interlace 0
        Chunk("IHDR", ihdr);
        Chunk("IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
        Chunk("IEND", []);
        return ms.ToArray();
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    public static string TempDir(string name) => Directory.CreateTempSubdirectory(name).FullName;
}

public class ImageFolderTests
{
    private static readonly string[] Classes = ["0_tshirt", "1_trouser", "8_bag"];
    private static readonly int[] Source = [0, 1, 8];

    /// <summary>Writes 4 images per class: PNG for the first two classes, JPEG for the third; returns the source indices per file.</summary>
    private static Dictionary<string, int> WriteFolder(ImageClassificationSet f, string root, int perClass = 4)
    {
        var map = new Dictionary<string, int>();
        for (int c = 0; c < Classes.Length; c++)
            for (int k = 0; k < perClass; k++)
            {
                int idx = ImageFixtures.IndexOf(f, Source[c], k);
                var path = Path.Combine(root, Classes[c], $"img{k}.{(c == 2 ? "jpg" : "png")}");
                ImageFixtures.Save(f, idx, path);
                map[path] = idx;
            }
        return map;
    }

    [Fact]
    public void LoadsPngAndJpegFoldersAsGrayAndRgb()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("imgfolder");
        try
        {
            var map = WriteFolder(f, root);
            File.WriteAllText(Path.Combine(root, Classes[0], "notes.txt"), "not an image");
            // A link loop inside a class folder is passed over, not followed until the path length limit.
            Directory.CreateSymbolicLink(Path.Combine(root, Classes[1], "loop"), "..");
            var r = ImageFolder.Load(root, new ImageLoadOptions { Width = 28, Height = 28, Grayscale = true, Workers = 2 });
            Assert.Equal(12, r.Set.Count);
            Assert.Equal(Classes, r.Set.ClassNames);
            Assert.Equal(2, r.IgnoredFiles);
            Assert.Empty(r.Skipped);
            for (int i = 0; i < r.Set.Count; i++)
            {
                var src = f.Images.AsSpan(map[r.Files[i]] * 784, 784);
                var got = r.Set.Images.AsSpan(i * 784, 784);
                Assert.Equal(Array.IndexOf(Classes, Path.GetFileName(Path.GetDirectoryName(r.Files[i]))), r.Set.Labels[i]);
                double mad = 0;
                for (int p = 0; p < 784; p++) mad += Math.Abs(src[p] - got[p]);
                mad /= 784;
                if (r.Files[i].EndsWith(".png", StringComparison.Ordinal)) Assert.Equal(0, mad); // lossless, no resize
                else Assert.True(mad < 4, $"JPEG mean absolute difference {mad}");
            }

            var rgb = ImageFolder.Load(root, new ImageLoadOptions { Width = 14, Height = 20, Workers = 1 });
            Assert.Equal((3, 20, 14), (rgb.Set.Channels, rgb.Set.Height, rgb.Set.Width));
            int plane = 14 * 20;
            // A gray source gives equal R, G and B planes; the bilinear resize keeps the mean brightness.
            Assert.Equal(rgb.Set.Images.AsSpan(0, plane).ToArray(), rgb.Set.Images.AsSpan(plane, plane).ToArray());
            double meanSrc = f.Images.AsSpan(map[rgb.Files[0]] * 784, 784).ToArray().Average(b => (double)b);
            double meanGot = rgb.Set.Images.AsSpan(0, plane).ToArray().Average(b => (double)b);
            Assert.InRange(meanGot, meanSrc - 6, meanSrc + 6);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void LoadsALabelList()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("imglist");
        try
        {
            WriteFolder(f, root, 2);
            File.WriteAllText(Path.Combine(root, "list.csv"), "path,label\n0_tshirt/img0.png,shirt\n1_trouser/img1.png,trouser\n8_bag/img0.jpg,bag\n");
            var list = LabelList.Read(Path.Combine(root, "list.csv"));
            var r = ImageFolder.FromList(list, new ImageLoadOptions { Width = 28, Height = 28, Grayscale = true });
            Assert.Equal(["bag", "shirt", "trouser"], r.Set.ClassNames);
            Assert.Equal([1L, 2, 0], r.Set.Labels);
        }
        finally { Directory.Delete(root, true); }
    }

    private static void Damage(string root, string kind, byte[] goodPng)
    {
        switch (kind)
        {
            case "truncated": File.WriteAllBytes(Path.Combine(root, "0_tshirt", "cut.png"), goodPng[..(goodPng.Length / 2)]); break;
            case "random": File.WriteAllBytes(Path.Combine(root, "1_trouser", "noise.jpg"), [.. Enumerable.Range(0, 500).Select(i => (byte)(i * 73 + 11))]); break;
            case "empty": Directory.CreateDirectory(Path.Combine(root, "5_empty")); break;
            case "huge": File.WriteAllBytes(Path.Combine(root, "8_bag", "bomb.png"), ImageFixtures.HugePngHeader(100_000, 100_000)); break;
            case "zero": File.WriteAllBytes(Path.Combine(root, "8_bag", "zero.gif"), []); break;
        }
    }

    [Theory]
    [InlineData("truncated", "cut.png", "corrupt or truncated PNG")]
    [InlineData("random", "noise.jpg", "not a recognized image")]
    [InlineData("empty", "5_empty", "has no image files")]
    [InlineData("huge", "bomb.png", "100000x100000 = 10000000000 pixels, over the limit")]
    [InlineData("zero", "zero.gif", "empty file")]
    public void ABadFileIsAnErrorNamingItAndTheProblem(string kind, string file, string problem)
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("imgbad");
        try
        {
            WriteFolder(f, root, 2);
            Damage(root, kind, File.ReadAllBytes(Path.Combine(root, "0_tshirt", "img0.png")));
            var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(root, new ImageLoadOptions { Width = 28, Height = 28 }));
            Assert.Contains(file, e.Message);
            Assert.Contains(problem, e.Message);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void SkipBadLeavesOutAndListsEveryBadFile()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("imgskip");
        try
        {
            WriteFolder(f, root, 3);
            var good = File.ReadAllBytes(Path.Combine(root, "0_tshirt", "img0.png"));
            foreach (var kind in new[] { "truncated", "random", "empty", "huge", "zero" }) Damage(root, kind, good);
            var r = ImageFolder.Load(root, new ImageLoadOptions { Width = 28, Height = 28, Grayscale = true, SkipBad = true });
            Assert.Equal(9, r.Set.Count);
            Assert.Equal(Classes, r.Set.ClassNames);
            Assert.Equal(["5_empty", "bomb.png", "cut.png", "noise.jpg", "zero.gif"], r.Skipped.Select(s => Path.GetFileName(s.Path)).Order(StringComparer.Ordinal));
            Assert.DoesNotContain(r.Files, p => p.EndsWith("cut.png", StringComparison.Ordinal));
            var report = r.Report();
            Assert.Contains("skipped 5:", report);
            Assert.Contains("over the limit", report);
        }
        finally { Directory.Delete(root, true); }
    }


    [Fact]
    public async Task PipesDevicesAndBrokenLinksAreRefusedWithoutHanging()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("named pipes and /dev/zero are Linux specifics");
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("imgspecial");
        try
        {
            WriteFolder(f, root, 2);
            Assert.Equal(0, SpecialFiles.MakeFifo(Path.Combine(root, "0_tshirt", "pipe.png")));
            File.CreateSymbolicLink(Path.Combine(root, "1_trouser", "zero.jpg"), "/dev/zero");
            File.CreateSymbolicLink(Path.Combine(root, "8_bag", "gone.png"), Path.Combine(root, "missing.png"));
            var load = Task.Run(() => ImageFolder.Load(root, new ImageLoadOptions { Width = 28, Height = 28, Grayscale = true, SkipBad = true }), TestContext.Current.CancellationToken);
            var r = await load.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken); // TimeoutException if it hangs
            Assert.Equal(6, r.Set.Count);
            Assert.Equal(["gone.png", "pipe.png", "zero.jpg"], r.Skipped.Select(s => Path.GetFileName(s.Path)).Order(StringComparer.Ordinal));
            Assert.Contains("not a regular file", r.Skipped.Single(s => s.Path.EndsWith("pipe.png", StringComparison.Ordinal)).Problem);
            Assert.Contains("link to a missing file", r.Skipped.Single(s => s.Path.EndsWith("gone.png", StringComparison.Ordinal)).Problem);
            var list = Task.Run(() => Assert.Throws<InvalidDataException>(() => LabelList.Read(Path.Combine(root, "0_tshirt", "pipe.png"))), TestContext.Current.CancellationToken);
            await list.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void ValidImagesAtThePixelCapDecodeAndOneMorePixelIsRefused()
    {
        var f = ImageFixtures.FashionOrSkip();
        const int w = 640, h = 480;
        var decoder = new ImageDecoder(maxPixels: w * h);
        var tighter = new ImageDecoder(maxPixels: w * h - 1);
        var buf = new byte[3 * 24 * 24];
        foreach (var (name, enc) in new (string, SixLabors.ImageSharp.Formats.IImageEncoder)[]
                 { ("big.png", new PngEncoder()), ("big.jpg", new JpegEncoder()), ("big.webp", new SixLabors.ImageSharp.Formats.Webp.WebpEncoder()), ("big.gif", new SixLabors.ImageSharp.Formats.Gif.GifEncoder()), ("big.bmp", new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder()) })
        {
            using var img = ImageFixtures.ToImage(f, 3);
            img.Mutate(x => x.Resize(w, h));
            using var ms = new MemoryStream();
            img.Save(ms, enc);
            var bytes = ms.ToArray();
            decoder.Decode(bytes, name, 24, 24, grayscale: false, buf);
            Assert.True(buf.Any(b => b > 0), name);
            var e = Assert.Throws<InvalidDataException>(() => tighter.Decode(bytes, name, 24, 24, grayscale: false, buf));
            Assert.Contains($"{name}: ", e.Message);
            Assert.Contains("over the limit", e.Message);
        }
    }

    [Fact]
    public void TheDecoderLeavesImageSharpsDefaultConfigurationAlone()
    {
        _ = new ImageDecoder();
        var gif = Configuration.Default.ImageFormatsManager.FindDecoder(SixLabors.ImageSharp.Formats.Gif.GifFormat.Instance);
        Assert.Equal(SixLabors.ImageSharp.Metadata.FrameDecodingMode.All, Assert.IsType<SixLabors.ImageSharp.Formats.Gif.GifDecoder>(gif).DecodingMode);
    }

    [Fact]
    public void FuzzedImagesDecodeOrFailCleanly()
    {
        var f = ImageFixtures.FashionOrSkip();
        var encoded = new List<(string Name, byte[] Bytes)>();
        foreach (var (name, enc) in new (string, SixLabors.ImageSharp.Formats.IImageEncoder)[]
                 { ("f.png", new PngEncoder()), ("f.jpg", new JpegEncoder()), ("f.bmp", new SixLabors.ImageSharp.Formats.Bmp.BmpEncoder()), ("f.gif", new SixLabors.ImageSharp.Formats.Gif.GifEncoder()), ("f.webp", new SixLabors.ImageSharp.Formats.Webp.WebpEncoder()) })
        {
            using var img = ImageFixtures.ToImage(f, 17);
            using var ms = new MemoryStream();
            img.Save(ms, enc);
            encoded.Add((name, ms.ToArray()));
        }
        var decoder = new ImageDecoder(maxPixels: 1 << 22);
        var rng = new Random(23);
        var buf = new byte[3 * 16 * 16];
        int ok = 0, bad = 0;
        for (int i = 0; i < 300; i++)
        {
            var (name, src) = encoded[i % encoded.Count];
            var b = (byte[])src.Clone();
            if (rng.Next(3) == 0) b = b[..rng.Next(1, b.Length)];
            int flips = rng.Next(1, 6);
            for (int k = 0; k < flips && b.Length > 0; k++) b[rng.Next(b.Length)] = (byte)rng.Next(256);
            try { decoder.Decode(b, name, 16, 16, grayscale: i % 2 == 0, buf); ok++; }
            catch (InvalidDataException e) { Assert.StartsWith(name + ": ", e.Message); bad++; }
        }
        Assert.True(ok > 0 && bad > 0, $"{ok} decoded, {bad} rejected");
    }
}

public class AuditTests
{
    [Fact]
    public void FindsCountsCorruptFilesDuplicatesAndTrainTestNearDuplicates()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = ImageFixtures.TempDir("audit");
        try
        {
            string P(string split, string cls, string name) => Path.Combine(root, split, cls, name);
            for (int k = 0; k < 6; k++) ImageFixtures.Save(f, ImageFixtures.IndexOf(f, 1, k), P("train", "trouser", $"t{k}.png"));
            for (int k = 0; k < 3; k++) ImageFixtures.Save(f, ImageFixtures.IndexOf(f, 8, k), P("train", "bag", $"b{k}.png"));
            for (int k = 6; k < 8; k++) ImageFixtures.Save(f, ImageFixtures.IndexOf(f, 1, k), P("test", "trouser", $"t{k}.png"));
            for (int k = 3; k < 5; k++) ImageFixtures.Save(f, ImageFixtures.IndexOf(f, 8, k), P("test", "bag", $"b{k}.png"));
            // A byte-identical leak, the same image re-encoded as JPEG under another label, and a corrupt file.
            File.Copy(P("train", "bag", "b0.png"), P("test", "bag", "leak.png"));
            ImageFixtures.Save(f, ImageFixtures.IndexOf(f, 1, 2), P("test", "bag", "reencoded.jpg"));
            File.WriteAllBytes(P("test", "trouser", "broken.png"), File.ReadAllBytes(P("train", "trouser", "t0.png"))[..60]);
            Directory.CreateDirectory(Path.Combine(root, "test", "sandal"));

            var r = DatasetAudit.Run(root, new AuditOptions { Workers = 2 });
            Assert.Equal(["train", "test"], r.Splits.Select(s => s.Name));
            Assert.Equal(6, r.Splits[0].Counts["trouser"]);
            Assert.Equal(2.0, r.Splits[0].ImbalanceRatio);
            Assert.Equal(["sandal"], r.Splits[1].EmptyClasses);
            var broken = Assert.Single(r.Unreadable);
            Assert.EndsWith("broken.png", broken.Path);
            var dup = Assert.Single(r.ExactDuplicates);
            Assert.True(dup.CrossSplit);
            Assert.Equal(["b0.png", "leak.png"], dup.Files.Select(x => Path.GetFileName(x.Path)));
            var near = Assert.Single(r.NearDuplicates, p => p.B.Path.EndsWith("reencoded.jpg", StringComparison.Ordinal) && p.A.Path.EndsWith("t2.png", StringComparison.Ordinal));
            Assert.True(near.LabelConflict);
            Assert.DoesNotContain(r.NearDuplicates, p => p.B.Path.EndsWith("leak.png", StringComparison.Ordinal) && p.A.Path.EndsWith("b0.png", StringComparison.Ordinal));

            var text = r.ToText();
            Assert.Contains("exact duplicate groups: 1 (1 across splits", text);
            Assert.Contains("reencoded.jpg", text);
            using var json = System.Text.Json.JsonDocument.Parse(r.ToJson());
            Assert.Equal(1, json.RootElement.GetProperty("exact_duplicates").GetArrayLength());
            Assert.Equal(r.NearDuplicateCount, json.RootElement.GetProperty("near_duplicate_count").GetInt32());
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void PerceptualHashIsStableUnderSmallChangesAndSeparatesDifferentImages()
    {
        var f = ImageFixtures.FashionOrSkip();
        var d = new ImageDecoder();
        ulong Hash(Image<L8> img)
        {
            using var ms = new MemoryStream();
            img.SaveAsPng(ms);
            var buf = new byte[1024];
            d.Decode(ms.ToArray(), "mem.png", 32, 32, true, buf);
            return PerceptualHash.FromGray32(buf);
        }
        using var a = ImageFixtures.ToImage(f, 0);
        using var brighter = a.Clone(x => x.Brightness(1.05f));
        using var other = ImageFixtures.ToImage(f, ImageFixtures.IndexOf(f, 1, 0));
        Assert.InRange(PerceptualHash.Distance(Hash(a), Hash(brighter)), 0, 4);
        Assert.True(PerceptualHash.Distance(Hash(a), Hash(other)) > 10);
    }
}
