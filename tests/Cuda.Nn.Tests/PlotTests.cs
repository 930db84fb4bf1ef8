using Cuda.Nn.Plot;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Cuda.Nn.Tests;

public class PlotTests
{
    [Fact]
    public void PngEncoderOutputDecodesToTheSamePixels()
    {
        var c = new Canvas(7, 5);
        c.Set(0, 0, (255, 0, 0));
        c.Set(6, 4, (0, 0, 255));
        c.Line(0, 4, 6, 0, (0, 128, 0));
        using var img = Image.Load<Rgb24>(Png.Encode(c.Pixels, c.Width, c.Height));
        Assert.Equal(7, img.Width);
        Assert.Equal(5, img.Height);
        Assert.Equal(new Rgb24(255, 0, 0), img[0, 0]);
        Assert.Equal(new Rgb24(0, 0, 255), img[6, 4]);
        Assert.Equal(new Rgb24(0, 128, 0), img[3, 2]);
        Assert.Equal(new Rgb24(255, 255, 255), img[1, 0]);
    }

    [Fact]
    public void ConfusionHeatmapIsAValidPngWithInk()
    {
        long[,] counts = { { 9, 1 }, { 2, 8 } };
        var c = Charts.ConfusionHeatmap(counts, ["Coat", "Shirt"]);
        var path = Path.Combine(Path.GetTempPath(), $"cm-{Guid.NewGuid():N}.png");
        c.Save(path);
        using var img = Image.Load<Rgb24>(path);
        File.Delete(path);
        int dark = 0;
        for (int y = 0; y < img.Height; y++) for (int x = 0; x < img.Width; x++) if (img[x, y].R < 100) dark++;
        Assert.True(dark > 100, $"only {dark} dark pixels: nothing was drawn");
    }
}
