// What a training run reads and how: the data path resolved (DatasetResolver), the preprocessing the model will
// carry (size, channels, mean/std, classes), the train and eval pipelines, class balancing and the two loaders.
// Everything here is decided before the run writes a file, so bad data or options fail with nothing written.
using Cuda.Nn.Data;

namespace Cuda.Nn.Training;

/// <summary>What report.json says about the data a run used.</summary>
public sealed record DataReport(string Path, string Layout, string TestSplit, int TrainSamples, int TestSamples, string[] ClassNames,
    int[] TrainCounts, int[] TestCounts, string Balance, int[]? BalancedCounts, float[]? LossWeights, string Preprocessing, IReadOnlyList<SkippedFile> Skipped);

public sealed class TrainData
{
    /// <summary>The effective configuration: what "from the data" resolved to (image size, mean/std, channels).</summary>
    public required TrainConfig Config { get; init; }
    public required DataSource Source { get; init; }
    public required Preprocessing Preprocessing { get; init; }
    public required DataLoader TrainLoader { get; init; }
    public required DataLoader TestLoader { get; init; }
    /// <summary>Inverse-frequency class weights for the loss (balance "weights"), else null.</summary>
    public float[]? LossWeights { get; init; }
    public required DataReport Report { get; init; }

    public static DataRequest Request(TrainConfig c) => new()
    {
        ValFraction = c.Val, Seed = c.Seed, SkipBad = c.SkipBad, Grayscale = c.Channels == 1, Workers = Math.Max(1, c.Threads),
    };

    /// <summary>The run's data path resolved with its options, cut to TrainLimit/TestLimit (0 = all).</summary>
    public static DataSource Resolve(TrainConfig c) => DatasetResolver.Resolve(c.Data, Request(c)).Limit(c.TrainLimit, c.TestLimit);

    /// <summary>Starting from pretrained weights (--init): ImageNet's sizes and statistics apply to photos.</summary>
    public static bool Pretrained(TrainConfig c) => c.Init is not null;

    /// <summary>The preprocessing the model is trained with (see TrainConfig.ImageSize, Mean and Std for the defaults).</summary>
    public static Preprocessing PreprocessingFor(TrainConfig c, DataSource d)
    {
        // ImageNet's conventions apply to photos; a fixed-size set (IDX, CIFAR) keeps its own size and statistics.
        bool pretrained = Pretrained(c) && d.FromFiles;
        var stats = d.TrainStatistics;
        int size = c.ImageSize > 0 ? c.ImageSize
            : !d.FromFiles && d.Train is ImageClassificationSet set ? set.Height
            : pretrained ? (c.Model == "efficientnet_b3" ? 256 : 224)
            : Math.Min(224, stats?.MedianShorterSide ?? throw new InvalidOperationException($"{d.Path}: the image size could not be measured: give --size"));
        float[] mean, std;
        if (c.Mean is not null) (mean, std) = (c.Mean, c.Std!);
        else if (pretrained && d.Channels == 3) (mean, std) = (Normalize.ImageNetMean, Normalize.ImageNetStd);
        else if (stats is not null) (mean, std) = (stats.Mean, stats.Std);
        else throw new InvalidOperationException($"{d.Path}: the train split's statistics could not be measured: give --mean and --std");
        if (mean.Length != d.Channels && mean.Length != 1)
            throw new ArgumentException($"mean/std have {mean.Length} values but {d.Path} has {d.Channels}-channel images");
        // Photos are resized with a margin and centre-cropped for evaluation (torchvision's Resize(256) + CenterCrop(224))
        // when the model is ImageNet-style; images already at the training size are evaluated whole.
        int resize = d.FromFiles && pretrained ? Preprocessing.ResizeFor(size, Preprocessing.ImageNetCropFraction) : size;
        var p = new Preprocessing { Model = c.Model, Channels = d.Channels, ImageSize = size, ResizeSize = resize, Mean = mean, Std = std, ClassNames = d.ClassNames };
        p.Check(c.Data);
        return p;
    }

    /// <summary>The default train pipeline for the data, as torchvision-named specs: the fine-tuning brief's for photos
    /// (RandomResizedCrop, horizontal flip, ColorJitter(0.2, 0.2)), padded random crops and flips for fixed-size sets
    /// (IDX, CIFAR); the eval geometry when Augment is off; Normalize with the run's mean/std; RandomErasing when set.</summary>
    public static List<TransformSpec> DefaultTrainTransforms(TrainConfig c, DataSource d, Preprocessing p)
    {
        var steps = new List<TransformSpec>();
        int size = p.ImageSize;
        bool fixedSize = !d.FromFiles && d.Train is ImageClassificationSet s && s.Height == size && s.Width == size;
        if (!c.Augment)
        {
            if (!fixedSize) steps.AddRange([TransformSpec.Of("Resize", ("size", p.ResizeSize)), TransformSpec.Of("CenterCrop", ("size", size))]);
        }
        else if (d.FromFiles)
            steps.AddRange([TransformSpec.Of("RandomResizedCrop", ("size", size)), TransformSpec.Of("RandomHorizontalFlip"),
                TransformSpec.Of("ColorJitter", ("brightness", 0.2), ("contrast", 0.2))]);
        else
        {
            if (!fixedSize) steps.AddRange([TransformSpec.Of("Resize", ("size", size)), TransformSpec.Of("CenterCrop", ("size", size))]);
            steps.AddRange([TransformSpec.Of("RandomCrop", ("size", size), ("padding", d.Layout == DataLayout.Cifar ? 4 : 2)), TransformSpec.Of("RandomHorizontalFlip")]);
        }
        steps.Add(TransformSpec.Of("Normalize", ("mean", p.Mean), ("std", p.Std)));
        if (c.RandomErasing > 0) steps.Add(TransformSpec.Of("RandomErasing", ("p", c.RandomErasing)));
        return steps;
    }

    /// <summary>Resolves the data (unless given), fixes the preprocessing and builds both loaders. Writes nothing.
    /// With several ranks the train loader is this rank's: the whole run's order (BatchSize is the global batch)
    /// sharded by a DistributedSampler, at BatchSize / worldSize per step.</summary>
    public static TrainData Prepare(TrainConfig config, DataSource? data = null, int rank = 0, int worldSize = 1)
    {
        if (worldSize > 1 && config.BatchSize % worldSize != 0)
            throw new ArgumentException($"--batch-size (config: batch_size) {config.BatchSize} is the global batch and must be a multiple of the {worldSize} ranks (each rank takes batch-size / ranks)");
        var d = data ?? Resolve(config);
        var p = PreprocessingFor(config, d);
        var c = config with { ImageSize = p.ImageSize, Mean = p.Mean, Std = p.Std, Channels = config.Channels == 0 && d.FromFiles ? d.Channels : config.Channels };
        c = c with { TrainTransforms = config.TrainTransforms ?? DefaultTrainTransforms(c, d, p) };
        var trainTransform = TransformConfig.Build(c.TrainTransforms, new TransformContext { Mean = p.Mean, Std = p.Std, ImageSize = (p.ImageSize, p.ImageSize) }, "train_transforms");
        var evalTransform = p.EvalTransform();
        if (d.TrainStatistics is { } stats) DryRun(d, stats, trainTransform, evalTransform, p);

        int classes = d.ClassNames.Length;
        IBatchTransform[] mixes = [.. c.MixupAlpha > 0 ? [new MixUp(c.MixupAlpha, classes)] : Array.Empty<IBatchTransform>(),
            .. c.CutmixAlpha > 0 ? [new CutMix(c.CutmixAlpha, classes)] : Array.Empty<IBatchTransform>()];
        var balance = d.TrainBalance(c.Seed);
        var mode = c.Balance switch { "oversample" => BalanceMode.Oversample, "undersample" => BalanceMode.Undersample, _ => BalanceMode.None };
        if (mode != BalanceMode.None && balance.Counts.Any(n => n == 0))
            throw new ArgumentException($"--balance {c.Balance}: class(es) {string.Join(", ", balance.EmptyClasses.Select(k => d.ClassNames[k]))} have no train images");
        var trainLoader = new DataLoader(d.Train, c.BatchSize, shuffle: true, trainTransform, dropLast: false, workers: c.Workers, seed: c.Seed, subset: d.TrainIndices)
        {
            BatchTransform = mixes.Length switch { 0 => null, 1 => mixes[0], _ => new RandomChoiceBatch(mixes) },
            EpochOrder = mode == BalanceMode.None ? null : epoch => balance.BalancedOrder(epoch, mode),
        };
        int globalSamples = trainLoader.SampleCount;
        if (worldSize > 1)
        {
            var sampler = new Distributed.DistributedSampler(globalSamples, rank, worldSize, trainLoader.Order);
            trainLoader = new DataLoader(d.Train, c.BatchSize / worldSize, shuffle: true, trainTransform, dropLast: false, workers: c.Workers, seed: c.Seed, subset: d.TrainIndices)
            {
                BatchTransform = trainLoader.BatchTransform,
                EpochOrder = sampler.Indices,
            };
        }
        var testLoader = new DataLoader(d.Test, Math.Max(c.BatchSize, 256), shuffle: false, evalTransform, workers: c.Workers, seed: c.Seed, subset: d.TestIndices);
        int testSamples = testLoader.SampleCount;
        if (worldSize > 1)
        {
            // Evaluation is sharded without padding: the ranks' sums add up to exactly the single process's.
            var order = testLoader.Order(0);
            var shard = Distributed.DistributedSampler.Strided(order, rank, worldSize);
            testLoader = new DataLoader(d.Test, Math.Max(c.BatchSize, 256), shuffle: false, evalTransform, workers: c.Workers, seed: c.Seed, subset: shard);
        }
        float[]? weights = c.Balance == "weights" ? balance.InverseFrequencyWeights() : null;
        int[]? balanced = mode switch
        {
            BalanceMode.Oversample => [.. balance.Counts.Select(n => n == 0 ? 0 : balance.Counts.Max())],
            BalanceMode.Undersample => [.. balance.Counts.Select(n => n == 0 ? 0 : balance.Counts.Where(m => m > 0).Min())],
            _ => null,
        };
        var report = new DataReport(d.Path, d.Layout.ToString(), d.TestSplit, globalSamples, testSamples, d.ClassNames,
            balance.Counts, d.Counts(d.Test, d.TestIndices), c.Balance, balanced, weights, p.ToString(), d.Skipped);
        return new TrainData { Config = c, Source = d, Preprocessing = p, TrainLoader = trainLoader, TestLoader = testLoader, LossWeights = weights, Report = report };
    }

    /// <summary>Runs both pipelines once on an image as small as the smallest train photo, so a crop larger than the
    /// images fails now, naming that file, instead of in the middle of an epoch.</summary>
    private static void DryRun(DataSource d, ImageStatistics stats, ITransform train, ITransform eval, Preprocessing p)
    {
        foreach (var (name, t) in new[] { ("train", train), ("eval", eval) })
        {
            var img = new ImageBuffer(d.Channels, stats.MinSide, stats.MinSide);
            Array.Fill(img.Data, 0.5f);
            try { t.Apply(img, new SampleRandom(0, 0, 0)); }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{stats.SmallestFile ?? d.Path}: this image's shorter side is {stats.MinSide} px, too small for the {name} transforms at {p.ImageSize} px ({e.Message}); resize the images, give a smaller --size, or start the pipeline with a Resize", e);
            }
            if (img.Channels != p.Channels || img.Height != p.ImageSize || img.Width != p.ImageSize)
                throw new ArgumentException($"the {name} transforms make {img.Channels}x{img.Height}x{img.Width} images but the model takes {p.Channels}x{p.ImageSize}x{p.ImageSize}: end the pipeline with a crop or resize to {p.ImageSize}");
        }
    }

    /// <summary>A data source over the same data with another split (K-fold: train on some folds, evaluate on one).</summary>
    public static DataSource WithSplit(DataSource d, int[] train, int[] test, string testSplit) =>
        d with { TrainIndices = train, Test = d.Train, TestIndices = test, TestSplit = testSplit };
}
