using Cuda.Nn.Data;

namespace Cuda.Nn.Tests;

public class IdxTests
{
    private static byte[] Header(byte type, params int[] dims)
    {
        var h = new List<byte> { 0, 0, type, (byte)dims.Length };
        foreach (var d in dims) h.AddRange([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        return [.. h];
    }

    [Fact]
    public void ParsesRawAndGzip()
    {
        var bytes = Header(0x08, 2, 2, 3).Concat(Enumerable.Range(0, 12).Select(i => (byte)i)).ToArray();
        var a = Idx.Parse(bytes, "mem.idx");
        Assert.Equal([2, 2, 3], a.Shape);
        Assert.Equal(11, a.Data[11]);
        using var ms = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) gz.Write(bytes);
        var b = Idx.Parse(ms.ToArray(), "mem.idx.gz");
        Assert.Equal(a.Data, b.Data);
    }

    [Theory]
    [InlineData("magic", "wrong magic number")]
    [InlineData("type", "unknown IDX element type")]
    [InlineData("truncated", "truncated")]
    [InlineData("trailing", "unexpected bytes")]
    [InlineData("huge", "more than")]
    [InlineData("short", "too short")]
    public void MalformedFilesNameTheFileAndTheProblem(string kind, string expected)
    {
        byte[] bytes = kind switch
        {
            "magic" => [1, 2, 8, 1, 0, 0, 0, 1, 5],
            "type" => [.. Header(0x42, 1), 5],
            "truncated" => [.. Header(0x08, 10), 1, 2],
            "trailing" => [.. Header(0x08, 1), 1, 2],
            "huge" => Header(0x08, 60000, 60000, 60000),
            _ => [0, 0],
        };
        var e = Assert.Throws<InvalidDataException>(() => Idx.Parse(bytes, "bad-file.idx"));
        Assert.Contains("bad-file.idx", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void FuzzedHeadersNeverCrash()
    {
        var valid = Header(0x08, 3, 4, 4).Concat(new byte[48]).ToArray();
        var rng = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            var b = (byte[])valid.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++) b[rng.Next(Math.Min(b.Length, 20))] = (byte)rng.Next(256);
            if (rng.Next(4) == 0) b = b[..rng.Next(b.Length)];
            try { Idx.Parse(b, "fuzz"); }
            catch (InvalidDataException) { }
        }
    }

    [Fact]
    public void LoadsFashionMnistWhenInstalled()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir))
            Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        var test = ImageClassificationSet.FromIdxDirectory(ImageClassificationSet.DefaultFashionMnistDir, train: false, ImageClassificationSet.FashionMnistClasses);
        Assert.Equal(10000, test.Count);
        Assert.Equal(28, test.Height);
        Assert.Equal(28, test.Width);
        Assert.All(Enumerable.Range(0, 10), c => Assert.Equal(1000, test.Labels.Count(l => l == c)));
    }

    [Fact]
    public void MissingDefaultDirectoryExplainsHowToInstall()
    {
        var e = Assert.ThrowsAny<IOException>(() => ImageClassificationSet.FromIdxDirectory("/nonexistent/fashion", train: true));
        Assert.Contains("/nonexistent/fashion", e.Message);
    }
}
