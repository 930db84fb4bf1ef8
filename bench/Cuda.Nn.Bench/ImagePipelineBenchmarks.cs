// The ImageNet-style training pipeline on one core: JPEG decode (ImageSharp) + RandomResizedCrop(224) +
// horizontal flip + Normalize, per image, against the same decode with ImageSharp's own crop and resize
// (then ToTensor + Normalize) as the in-run peer. The JPEGs are generated once: 64 files of 256-500 px a
// side with smooth colour fields plus noise (photo-like entropy), quality 90.
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- --filter '*ImagePipelineBenchmarks*'
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using Cuda.Nn.Data;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Cuda.Nn.Bench;

[Config(typeof(PipelineConfig))]
public class ImagePipelineBenchmarks
{
    private const int Files = 64;
    private string _dir = "";
    private ImageFileSource _source = null!;
    private ITransform _augment = null!;
    private ITransform _brief = null!;
    private readonly ImageBuffer _image = new(0, 0, 0);

    public static string WriteJpegs(string dir, int count)
    {
        Directory.CreateDirectory(dir);
        var rng = new Random(12345);
        for (int f = 0; f < count; f++)
        {
            int w = rng.Next(256, 501), h = rng.Next(256, 501);
            using var img = new Image<Rgb24>(w, h);
            var freq = Enumerable.Range(0, 9).Select(_ => rng.NextDouble() * 0.05).ToArray();
            var phase = Enumerable.Range(0, 9).Select(_ => rng.NextDouble() * 6.28).ToArray();
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    byte Ch(int c) => (byte)Math.Clamp(128 + 60 * Math.Sin(freq[3 * c] * x + phase[3 * c]) + 40 * Math.Sin(freq[3 * c + 1] * y + phase[3 * c + 1])
                        + 20 * Math.Sin(freq[3 * c + 2] * (x + y) * 3) + rng.Next(-12, 13), 0, 255);
                    img[x, y] = new Rgb24(Ch(0), Ch(1), Ch(2));
                }
            img.SaveAsJpeg(Path.Combine(dir, $"img{f:D3}.jpg"), new JpegEncoder { Quality = 90 });
        }
        return dir;
    }

    [GlobalSetup]
    public void Setup()
    {
        _dir = WriteJpegs(Path.Combine(Path.GetTempPath(), "cudann-bench-jpegs"), Files);
        var files = Directory.GetFiles(_dir, "*.jpg").Order(StringComparer.Ordinal).Select(p => (p, 0L)).ToList();
        _source = new ImageFileSource(files, ["photo"]);
        _augment = new Compose(new RandomResizedCrop(224), new RandomHorizontalFlip(), new Normalize(Normalize.ImageNetMean, Normalize.ImageNetStd));
        _brief = new Compose(new RandomResizedCrop(224), new RandomHorizontalFlip(), new ColorJitter(brightness: 0.2f, contrast: 0.2f), new Normalize(Normalize.ImageNetMean, Normalize.ImageNetStd));
    }

    /// <summary>Ours: decode at full size, then RandomResizedCrop(224), flip and Normalize on the float image.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Files)]
    public float DecodeCropFlipNormalize()
    {
        float sum = 0;
        for (int i = 0; i < Files; i++)
        {
            _source.Load(i, _image);
            _augment.Apply(_image, new SampleRandom(1, 0, i));
            sum += _image.Data[0];
        }
        return sum;
    }

    /// <summary>The photo-folder default of cudann train (the fine-tuning brief's): RandomResizedCrop(224), flip,
    /// ColorJitter(brightness 0.2, contrast 0.2), Normalize, after the decode.</summary>
    [Benchmark(OperationsPerInvoke = Files)]
    public float DecodeBriefPipeline()
    {
        float sum = 0;
        for (int i = 0; i < Files; i++)
        {
            _source.Load(i, _image);
            _brief.Apply(_image, new SampleRandom(1, 0, i));
            sum += _image.Data[0];
        }
        return sum;
    }

    /// <summary>Decode only, to show how much of the pipeline is the JPEG decoder.</summary>
    [Benchmark(OperationsPerInvoke = Files)]
    public int DecodeOnly()
    {
        int total = 0;
        for (int i = 0; i < Files; i++)
        {
            _source.Load(i, _image);
            total += _image.Width;
        }
        return total;
    }

    /// <summary>Peer: ImageSharp decodes, crops and resizes (bilinear) on bytes, then ToTensor + Normalize.</summary>
    [Benchmark(OperationsPerInvoke = Files)]
    public float ImageSharpCropResize()
    {
        var rrc = new RandomResizedCrop(224);
        float sum = 0;
        var mean = Normalize.ImageNetMean;
        var std = Normalize.ImageNetStd;
        var px = new Rgb24[224 * 224];
        var chw = new float[3 * 224 * 224];
        for (int i = 0; i < Files; i++)
        {
            using var img = Image.Load<Rgb24>(_source.Files[i]);
            var (top, left, h, w) = rrc.Params(img.Height, img.Width, new SampleRandom(1, 0, i));
            img.Mutate(x => x.Crop(new Rectangle(left, top, w, h)).Resize(new ResizeOptions { Size = new Size(224, 224), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle }).Flip(FlipMode.Horizontal));
            img.CopyPixelDataTo(px);
            for (int p = 0; p < px.Length; p++)
            {
                chw[p] = (px[p].R / 255f - mean[0]) / std[0];
                chw[50176 + p] = (px[p].G / 255f - mean[1]) / std[1];
                chw[100352 + p] = (px[p].B / 255f - mean[2]) / std[2];
            }
            sum += chw[0];
        }
        return sum;
    }

    private sealed class PipelineConfig : ManualConfig
    {
        public PipelineConfig()
        {
            AddJob(Job.Default.WithWarmupCount(2).WithIterationCount(8).WithInvocationCount(1).WithUnrollFactor(1));
            AddColumn(BenchmarkDotNet.Columns.StatisticColumn.OperationsPerSecond);
        }
    }
}

/// <summary>Per-stage times of the pipeline (Stopwatch, not BenchmarkDotNet): ... -- pipeline-profile [reps]</summary>
public static class PipelineProfile
{
    public static void Run(string[] args)
    {
        int reps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5;
        var dir = ImagePipelineBenchmarks.WriteJpegs(Path.Combine(Path.GetTempPath(), "cudann-bench-jpegs"), 64);
        var files = Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        var source = new ImageFileSource(files.Select(f => (f, 0L)).ToList(), ["photo"]);
        var img = new ImageBuffer(0, 0, 0);
        var rrc = new RandomResizedCrop(224);
        var flip = new RandomHorizontalFlip(1.0);
        var norm = new Normalize(Normalize.ImageNetMean, Normalize.ImageNetStd);
        var t = new double[4];
        var sw = new System.Diagnostics.Stopwatch();
        for (int r = 0; r < reps; r++)
            for (int i = 0; i < files.Length; i++)
            {
                var rand = new SampleRandom(1, r, i);
                sw.Restart(); source.Load(i, img); t[0] += sw.Elapsed.TotalMilliseconds;
                sw.Restart(); rrc.Apply(img, rand); t[1] += sw.Elapsed.TotalMilliseconds;
                sw.Restart(); flip.Apply(img, rand); t[2] += sw.Elapsed.TotalMilliseconds;
                sw.Restart(); norm.Apply(img, rand); t[3] += sw.Elapsed.TotalMilliseconds;
            }
        int n = reps * files.Length;
        string[] names = ["read + decode (ImageSharp) to planar bytes", "RandomResizedCrop(224) from the bytes", "horizontal flip", "normalize"];
        for (int k = 0; k < t.Length; k++) Console.WriteLine($"{names[k],-40} {t[k] / n,8:F3} ms");
        Console.WriteLine($"{"total",-40} {t.Sum() / n,8:F3} ms = {1000 * n / t.Sum(),6:F0} images/s on one core");
    }
}
