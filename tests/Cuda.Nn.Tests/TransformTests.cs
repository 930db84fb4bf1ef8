// Image transforms: the deterministic ones against transforms.safetensors (torchvision), the random ones by
// the properties their parameters must have, and MixUp/CutMix by what the mixed batch must satisfy.
using Cuda.Nn.Data;
using Cuda.Nn.Functional;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class TransformTests
{
    private const string File = "transforms.safetensors";

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    private static ImageBuffer Buffer(Tensor x)
    {
        var s = x.ShapeRef;
        var img = new ImageBuffer(s[0], s[1], s[2]);
        x.ToArray<float>().CopyTo(img.Data, 0);
        return img;
    }

    private static (int H, int W) Size(CaseParams p) => p.Pair("size");

    private static Interpolation Mode(CaseParams p, string what) => p.String("interpolation") switch
    {
        "nearest" => Interpolation.Nearest,
        "bilinear" => Interpolation.Bilinear,
        var m => throw new NotSupportedException($"{what}: no interpolation mode '{m}'"),
    };

    private static float[] Floats(CaseParams p, string name) => p.Doubles(name).Select(d => (float)d).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTorchvision(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What;
        oracle.AssertRoles(caseId, ["x", "y"]);
        using var scope = new DisposeScope();
        var img = Buffer(oracle.Load(caseId, "x"));
        string op = p.String("op");
        // README: flips, crops and nearest resampling are exact; the rest float32 on both sides, a few ulps apart.
        bool exact = op is "hflip" or "vflip" or "center_crop";
        switch (op)
        {
            case "hflip": ImageOps.HorizontalFlip(img); break;
            case "vflip": ImageOps.VerticalFlip(img); break;
            case "resize":
                {
                    p.Requires("antialias", false, "antialiased resizing");
                    var s = Size(p);
                    var mode = Mode(p, what);
                    exact = mode == Interpolation.Nearest;
                    ImageOps.Resize(img, s.H, s.W, mode);
                    break;
                }
            case "center_crop":
                {
                    var s = Size(p);
                    if (p.Has("top") || p.Has("left"))
                        Assert.True((p.Int("top"), p.Int("left")) == ImageOps.CenterOffsets(img.Height, img.Width, s.H, s.W),
                            $"{what}: the fixture's offsets ({p.Int("top")}, {p.Int("left")}) vs ImageOps.CenterOffsets {ImageOps.CenterOffsets(img.Height, img.Width, s.H, s.W)}");
                    ImageOps.CenterCrop(img, s.H, s.W);
                    break;
                }
            case "rotate":
                {
                    p.Requires("expand", false, "rotation with expand");
                    if (p.Has("center")) p.Expect("center", "image center", "ImageOps.Rotate turns about the image centre");
                    var mode = Mode(p, what);
                    exact = mode == Interpolation.Nearest;
                    ImageOps.Rotate(img, p.Double("angle"), mode, (float)p.Double("fill", 0));
                    break;
                }
            case "adjust_brightness": ImageOps.AdjustBrightness(img, (float)p.Double("brightness_factor")); break;
            case "adjust_contrast": ImageOps.AdjustContrast(img, (float)p.Double("contrast_factor")); break;
            case "adjust_saturation": ImageOps.AdjustSaturation(img, (float)p.Double("saturation_factor")); break;
            case "adjust_hue": ImageOps.AdjustHue(img, (float)p.Double("hue_factor")); break;
            case "normalize": ImageOps.Normalize(img, Floats(p, "mean"), Floats(p, "std")); break;
            case "rgb_to_grayscale":
                if (p.Has("weights"))
                    Assert.True(Floats(p, "weights").SequenceEqual([ImageOps.LumaR, ImageOps.LumaG, ImageOps.LumaB]), $"{what}: 'weights' are not ImageOps' luma weights");
                ImageOps.Grayscale(img, p.Has("num_output_channels") ? p.Int("num_output_channels") : 1);
                break;
            default: throw new InvalidOperationException($"{what}: no transform for op '{op}'");
        }
        // 'note' explains how the fixture was made (c6: crop at Python's offsets, which 'top'/'left' give)
        p.AssertAllRead("seed", "note");
        var expected = oracle.Load(caseId, "y");
        var got = Tensor.FromArray(img.Data.AsSpan(0, img.Size).ToArray(), img.Channels, img.Height, img.Width);
        if (exact) TensorAssert.AssertClose(got, expected, 0, 0, $"{what} (exact)");
        else TensorAssert.AssertClose(got, expected, 2e-6, 1e-5, what);
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);

    private static ImageBuffer Ramp(int c, int h, int w)
    {
        var img = new ImageBuffer(c, h, w);
        for (int i = 0; i < img.Size; i++) img.Data[i] = (i * 37 % 101) / 100f;
        return img;
    }

    [Fact]
    public void RandomResizedCropParametersStayInsideTheirRanges()
    {
        var t = new RandomResizedCrop(24, 24, scale: (0.2, 0.9), ratio: (0.5, 2.0));
        int fallbacks = 0;
        for (int s = 0; s < 2000; s++)
        {
            var (top, left, h, w) = t.Params(60, 80, new SampleRandom(5, 0, s));
            Assert.InRange(top, 0, 60 - h);
            Assert.InRange(left, 0, 80 - w);
            double area = (double)h * w / (60 * 80), ratio = (double)w / h;
            // Rounding h and w to integers moves area and ratio slightly past the drawn values.
            if (area < 0.2 * 0.9 || area > 0.9 * 1.1 || ratio < 0.5 * 0.9 || ratio > 2.0 * 1.1) fallbacks++;
        }
        Assert.Equal(0, fallbacks);
        var img = Ramp(3, 60, 80);
        t.Apply(img, new SampleRandom(5, 0, 1));
        Assert.Equal((3, 24, 24), (img.Channels, img.Height, img.Width));
    }

    [Fact]
    public void RandomResizedCropFallsBackToACentralCropWhenNoTryFits()
    {
        // A 10x100 strip cannot hold any crop of ratio 1 covering at least 90% of it: the fallback is central with ratio max.
        var t = new RandomResizedCrop(8, 8, scale: (0.9, 1.0), ratio: (1.0, 1.0));
        var (top, left, h, w) = t.Params(10, 100, new SampleRandom(1, 0, 0));
        Assert.Equal((0, 45, 10, 10), (top, left, h, w));
    }

    [Fact]
    public void RandomTransformsAreDeterministicPerSampleStream()
    {
        var t = new Compose(new RandomResizedCrop(16), new RandomHorizontalFlip(), new RandomVerticalFlip(), new RandomRotation(20, Interpolation.Bilinear),
            new ColorJitter(0.4f, 0.4f, 0.4f, 0.1f), new RandomErasing(p: 1));
        var a = Ramp(3, 30, 40);
        var b = Ramp(3, 30, 40);
        var c = Ramp(3, 30, 40);
        t.Apply(a, new SampleRandom(7, 2, 11));
        t.Apply(b, new SampleRandom(7, 2, 11));
        t.Apply(c, new SampleRandom(7, 2, 12));
        Assert.Equal(a.Data.AsSpan(0, a.Size).ToArray(), b.Data.AsSpan(0, b.Size).ToArray());
        Assert.NotEqual(a.Data.AsSpan(0, a.Size).ToArray(), c.Data.AsSpan(0, c.Size).ToArray());
    }

    [Fact]
    public void ColorJitterWithOneAdjustmentEqualsThatAdjustmentAtTheDrawnFactor()
    {
        var img = Ramp(3, 6, 7);
        var expected = Ramp(3, 6, 7);
        var r = new SampleRandom(3, 0, 0);
        new ColorJitter(brightness: 0.5f).Apply(img, r);
        // Replay the stream: a permutation of 4 (3 draws), then the factor.
        var replay = new SampleRandom(3, 0, 0);
        replay.Permutation(4);
        float factor = (float)replay.Uniform(0.5, 1.5);
        ImageOps.AdjustBrightness(expected, factor);
        Assert.Equal(expected.Data, img.Data);
    }

    [Fact]
    public void RotationByZeroIsIdentityAndFillCoversTheCorners()
    {
        var img = Ramp(2, 9, 12);
        var orig = img.Data.ToArray();
        ImageOps.Rotate(img, 0, Interpolation.Bilinear);
        TensorAssert.AssertClose(Tensor.FromArray(img.Data, orig.Length), Tensor.FromArray(orig, orig.Length), 1e-6, 0, "rotate 0");
        ImageOps.Rotate(img, 45, Interpolation.Nearest, fill: 0.25f);
        Assert.Equal(0.25f, img.Data[0]);
        Assert.Equal(0.25f, img.Data[9 * 12 + 11]);
    }

    [Fact]
    public void GrayscaleWithThreeChannelsRepeatsTheLuma()
    {
        var img = Ramp(3, 4, 5);
        var one = Ramp(3, 4, 5);
        ImageOps.Grayscale(img, 3);
        ImageOps.Grayscale(one, 1);
        for (int c = 0; c < 3; c++) Assert.Equal(one.Data.AsSpan(0, 20).ToArray(), img.Data.AsSpan(c * 20, 20).ToArray());
    }

    [Fact]
    public void RandomErasingErasesOneBoxOfTheRequestedArea()
    {
        var t = new RandomErasing(p: 1, scale: (0.1, 0.2), value: -9);
        for (int s = 0; s < 50; s++)
        {
            var img = Ramp(3, 20, 30);
            t.Apply(img, new SampleRandom(1, 0, s));
            int erased = img.Data.AsSpan(0, img.Size).ToArray().Count(v => v == -9);
            Assert.Equal(0, erased % 3);
            double fraction = erased / 3.0 / 600;
            Assert.InRange(fraction, 0.1 * 0.8, 0.2 * 1.2);
        }
        var untouched = Ramp(3, 20, 30);
        new RandomErasing(p: 0).Apply(untouched, new SampleRandom(1, 0, 0));
        Assert.Equal(Ramp(3, 20, 30).Data, untouched.Data);
    }

    [Fact]
    public void BadParametersNameTheProblem()
    {
        Assert.Contains("outside the 4x4 image", Assert.Throws<ArgumentException>(() => ImageOps.ResizedCrop(Ramp(1, 4, 4), 2, 0, 3, 4, 2, 2)).Message);
        Assert.Contains("hue", Assert.Throws<ArgumentException>(() => new ColorJitter(hue: 0.7f)).Message);
        Assert.Contains("3-channel", Assert.Throws<ArgumentException>(() => ImageOps.AdjustHue(Ramp(2, 3, 3), 0.1f)).Message);
        Assert.Contains("2 means", Assert.Throws<ArgumentException>(() => ImageOps.Normalize(Ramp(3, 2, 2), [0.5f, 0.5f], [1f])).Message);
    }

    [Fact]
    public void BetaAndGammaDrawsHaveTheRightMeans()
    {
        var r = new SampleRandom(11, 0, 0);
        const int n = 20000;
        double beta = 0, gammaSmall = 0;
        for (int i = 0; i < n; i++)
        {
            beta += r.Beta(0.4, 0.4);
            gammaSmall += r.Gamma(0.3);
        }
        Assert.InRange(beta / n, 0.49, 0.51);
        Assert.InRange(gammaSmall / n, 0.29, 0.31);
    }

    private static BatchData MixBatch(int n, int c, int h, int w, int classes)
    {
        var images = new float[n * c * h * w];
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % classes;
            images.AsSpan(i * c * h * w, c * h * w).Fill(i + 1); // each sample constant, so the mix is readable
        }
        return new BatchData(images, n, c, h, w, labels);
    }

    [Fact]
    public void MixUpBlendsEachSampleWithItsPredecessorByTheTargetWeight()
    {
        var b = MixBatch(4, 2, 3, 3, classes: 5);
        new MixUp(0.4, 5).Apply(b, new SampleRandom(2, 0, 0));
        var t = b.SoftTargets!;
        Assert.Equal(5, b.Classes);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(1f, t.AsSpan(i * 5, 5).ToArray().Sum(), 5);
            int prev = (i + 3) % 4;
            float lam = t[i * 5 + i % 5];
            Assert.Equal(1 - lam, t[i * 5 + prev % 5], 5);
            Assert.All(b.Images.AsSpan(i * 18, 18).ToArray(), v => Assert.Equal(lam * (i + 1) + (1 - lam) * (prev + 1), v, 4));
        }
    }

    [Fact]
    public void CutMixPastesABoxWhoseAreaMatchesTheTargets()
    {
        for (int s = 0; s < 20; s++)
        {
            var b = MixBatch(3, 2, 10, 12, classes: 3);
            new CutMix(1.0, 3).Apply(b, new SampleRandom(4, 0, s));
            for (int i = 0; i < 3; i++)
            {
                int prev = (i + 2) % 3;
                var px = b.Images.AsSpan(i * 240, 240).ToArray();
                Assert.All(px, v => Assert.True(v == i + 1 || v == prev + 1));
                double pasted = px.Count(v => v == prev + 1) / 240.0;
                Assert.Equal(1 - pasted, b.SoftTargets![i * 3 + i], 5);
                Assert.Equal(pasted, b.SoftTargets![i * 3 + prev], 5);
            }
        }
    }

    [Fact]
    public void LoaderAppliesTheBatchTransformAndTheLossTakesSoftTargets()
    {
        var set = new ImageClassificationSet
        {
            Images = Enumerable.Range(0, 8 * 16).Select(i => (byte)(i * 7)).ToArray(),
            Labels = [0, 1, 2, 0, 1, 2, 0, 1],
            Channels = 1, Height = 4, Width = 4, ClassNames = ["a", "b", "c"],
        };
        var loader = new DataLoader(set, 4, shuffle: true, workers: 1, seed: 5) { BatchTransform = new RandomChoiceBatch(new MixUp(1, 3), new CutMix(1, 3)) };
        using var scope = new DisposeScope();
        foreach (var batch in loader.Epoch(0, TestContext.Current.CancellationToken))
        {
            using (batch)
            {
                Assert.Equal([4, 3], batch.SoftTargets!.Shape);
                var logits = Tensor.Zeros([4, 3]);
                var loss = F.CrossEntropy(logits, batch.Targets);
                Assert.Equal(Math.Log(3), loss.Item(), 5);
            }
        }
    }
}
