// Image files decoded on demand by the loader: real Fashion-MNIST images written as PNG and JPEG at
// their own sizes, augmented with RandomResizedCrop, plus a truncated file that is named or skipped.
using Cuda.Nn.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Processing;

namespace Cuda.Nn.Tests;

public class ImageFileSourceTests
{
    private static string WriteFolder(ImageClassificationSet f, bool withBadFile)
    {
        var root = ImageFixtures.TempDir("imgsource");
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++)
            {
                var path = Path.Combine(root, $"class{c}", $"img{k}.{(k % 2 == 0 ? "jpg" : "png")}");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                using var img = ImageFixtures.ToImage(f, ImageFixtures.IndexOf(f, c, k));
                // Each file at its own size, so the source must keep sizes apart until the crop.
                img.Mutate(x => x.Resize(28 + 4 * k, 28 + 2 * c));
                if (path.EndsWith(".png", StringComparison.Ordinal)) img.SaveAsPng(path); else img.SaveAsJpeg(path);
            }
        if (withBadFile)
        {
            var good = File.ReadAllBytes(Path.Combine(root, "class1", "img0.jpg"));
            File.WriteAllBytes(Path.Combine(root, "class1", "broken.jpg"), good.AsSpan(0, good.Length / 3).ToArray());
        }
        return root;
    }

    [Fact]
    public void DecodesFilesAtTheirOwnSizeAndCropsThemToOneBatchShape()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = WriteFolder(f, withBadFile: false);
        try
        {
            var source = ImageFileSource.FromFolder(root, grayscale: true);
            Assert.Equal(9, source.Count);
            var img = new ImageBuffer(0, 0, 0);
            Assert.Equal(1, source.Load(4, img));
            Assert.Equal((1, 30, 32), (img.Channels, img.Height, img.Width));
            var loader = new DataLoader(source, 4, shuffle: true, new Compose(new RandomResizedCrop(24), new RandomHorizontalFlip(), new Normalize([0.5f], [0.5f])), workers: 2, seed: 1);
            int seen = 0;
            foreach (var batch in loader.Epoch(0, TestContext.Current.CancellationToken))
                using (batch)
                {
                    Assert.Equal([batch.Size, 1, 24, 24], batch.Images.Shape);
                    var labels = batch.Labels.ToArray<long>();
                    for (int i = 0; i < batch.Size; i++) Assert.Equal(source.Label(batch.Indices[i]), labels[i]);
                    seen += batch.Size;
                }
            Assert.Equal(9, seen);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void ATruncatedFileIsNamedOrSkippedAndListed()
    {
        var f = ImageFixtures.FashionOrSkip();
        var root = WriteFolder(f, withBadFile: true);
        try
        {
            var strict = ImageFileSource.FromFolder(root);
            var loader = new DataLoader(strict, 5, shuffle: false, new CenterCrop(20), workers: 1);
            // The worker's own error reaches the caller, naming the file.
            var e = Assert.Throws<InvalidDataException>(() => loader.Epoch(0, TestContext.Current.CancellationToken).ToList().ForEach(b => b.Dispose()));
            Assert.Contains("broken.jpg", e.Message);

            var lenient = ImageFileSource.FromFolder(root, skipBad: true);
            var all = new DataLoader(lenient, 5, shuffle: false, new CenterCrop(20), workers: 1).Epoch(0, TestContext.Current.CancellationToken).ToList();
            Assert.Equal(10, all.Sum(b => b.Size));
            all.ForEach(b => b.Dispose());
            var skipped = Assert.Single(lenient.Skipped);
            Assert.EndsWith("broken.jpg", skipped.Path);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void EmptyClassFoldersAreNamed()
    {
        var root = ImageFixtures.TempDir("imgsource-empty");
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "cats"));
            Directory.CreateDirectory(Path.Combine(root, "dogs"));
            File.WriteAllBytes(Path.Combine(root, "dogs", "a.png"), ImageFixtures.HugePngHeader(2, 2));
            Assert.Contains("cats", Assert.Throws<InvalidDataException>(() => ImageFileSource.FromFolder(root)).Message);
        }
        finally { Directory.Delete(root, true); }
    }
}
