using Cuda.Nn.Data;

namespace Cuda.Nn.Tests;

public class DataLoaderTests
{
    private static ImageClassificationSet Tiny(int n)
    {
        var images = new byte[n * 4 * 4];
        for (int i = 0; i < n; i++) for (int p = 0; p < 16; p++) images[i * 16 + p] = (byte)(i * 10 + p);
        return new ImageClassificationSet { Images = images, Labels = Enumerable.Range(0, n).Select(i => (long)(i % 3)).ToArray(), Channels = 1, Height = 4, Width = 4, ClassNames = ["a", "b", "c"] };
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void EveryEpochVisitsEachSampleOnceInADeterministicOrder(int workers)
    {
        var set = Tiny(23);
        var loader = new DataLoader(set, 5, shuffle: true, workers: workers, seed: 9);
        var seen = new List<int>();
        foreach (var b in loader.Epoch(0, TestContext.Current.CancellationToken)) using (b) { seen.AddRange(b.Indices); Assert.Equal([b.Size, 1, 4, 4], b.Images.Shape); }
        Assert.Equal(Enumerable.Range(0, 23), seen.Order());
        Assert.Equal(loader.Order(0), seen);
        Assert.NotEqual(loader.Order(0), loader.Order(1));
        var again = new DataLoader(set, 5, shuffle: true, workers: 2, seed: 9);
        Assert.Equal(loader.Order(1), again.Order(1));
    }

    [Fact]
    public void DropLastAndPixelScaling()
    {
        var set = Tiny(7);
        var loader = new DataLoader(set, 3, shuffle: false, dropLast: true, workers: 0);
        var batches = loader.Epoch(0, TestContext.Current.CancellationToken).ToList();
        Assert.Equal(2, batches.Count);
        Assert.Equal(1f / 255f, batches[0].Images.ToArray<float>()[1], 6);
        Assert.Equal([0L, 1, 2], batches[0].Labels.ToArray<long>());
        foreach (var b in batches) b.Dispose();
    }

    [Fact]
    public void AugmentationIsReproducibleAcrossWorkerCounts()
    {
        var set = Tiny(10);
        var t = new Compose(new RandomCrop(4, padding: 1), new RandomHorizontalFlip(), new Normalize([0.5f], [0.25f]));
        float[] Run(int workers)
        {
            var l = new DataLoader(set, 4, shuffle: true, transform: t, workers: workers, seed: 3);
            return l.Epoch(2, TestContext.Current.CancellationToken).SelectMany(b => { using (b) return b.Images.ToArray<float>(); }).ToArray();
        }
        Assert.Equal(Run(0), Run(2));
    }

    [Fact]
    public void RandomCropWithPaddingShiftsContent()
    {
        var img = new ImageBuffer(1, 2, 2);
        img.Data[0] = 1; img.Data[1] = 2; img.Data[2] = 3; img.Data[3] = 4;
        // Find a seed whose crop is not centred, and check the content moved with zero fill.
        for (ulong s = 0; s < 50; s++)
        {
            var copy = new ImageBuffer(1, 2, 2);
            img.Data.AsSpan(0, 4).CopyTo(copy.Data);
            new RandomCrop(2, padding: 1).Apply(copy, new SampleRandom(s, 0, 0));
            var d = copy.Data.AsSpan(0, 4).ToArray();
            if (d.SequenceEqual(new float[] { 0, 0, 0, 1 })) return;
        }
        Assert.Fail("no seed produced the top-left-shifted crop");
    }
}
