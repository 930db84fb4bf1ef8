// The training loop: data, model, optimizer, schedule, mixed precision, evaluation, early stopping,
// metrics.jsonl, report.json and exact-resume checkpoints.
using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Amp;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Training;

public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double Lr, double TrainSeconds, double ImagesPerSecond, int SkippedSteps);

public sealed record TrainReport(double TestAccuracy, int BestEpoch, double BestTestAccuracy, int Epochs, double TrainSeconds, double ImagesPerSecond, bool EarlyStopped, IReadOnlyList<EpochMetrics> History, TrainConfig Config)
{
    /// <summary>The data the run used: splits, class counts, balancing, preprocessing, skipped files.</summary>
    public DataReport? Data { get; init; }
}

public sealed class Trainer
{
    /// <summary>Fashion-MNIST's train-split statistics (what the resolver measures on it), for code that has no data to measure.</summary>
    public static readonly float[] FashionMnistMean = [0.2860f];
    public static readonly float[] FashionMnistStd = [0.3530f];

    private readonly TrainConfig _config;
    private readonly Func<TrainConfig, int, int, Module> _modelFactory;
    private readonly TextWriter _log;
    private Tensor? _lossWeights;

    /// <param name="modelFactory">Builds the model from (config, input channels, classes).</param>
    /// <summary>Runs after every optimizer step (pruning masks use it to keep pruned weights at zero).</summary>
    public Action<Module>? AfterStep { get; init; }

    public Trainer(TrainConfig config, Func<TrainConfig, int, int, Module> modelFactory, TextWriter? log = null)
    {
        config.Validate();
        _config = config;
        _modelFactory = modelFactory;
        _log = log ?? Console.Out;
    }

    public string OutDir { get; private set; } = "";

    /// <summary>Trains on the data path's train split and evaluates on its test split.</summary>
    public TrainReport Run(CancellationToken cancel = default) => Run(null, cancel);

    /// <summary>Trains and evaluates on the given data (K-fold cross-validation passes the fold here), else on the config's data path.</summary>
    public TrainReport Run(DataSource? source, CancellationToken cancel = default)
    {
        CpuWorkers.ThreadCount = _config.Threads;
        if (!Models.ModelRegistry.List().Any(m => m.Name == _config.Model))
            throw new ArgumentException($"unknown model '{_config.Model}' (cudann models lists them: {string.Join(", ", Models.ModelRegistry.List().Select(m => m.Name))})");
        if (_config.Resume is { } r && !File.Exists(r)) throw new FileNotFoundException($"--resume {r}: no such checkpoint file{(Directory.Exists(r) ? " (it is a folder: give RUN/checkpoint.safetensors)" : "")}");
        if (_config.Init is { } i && !File.Exists(i)) throw new FileNotFoundException($"--init {i}: no such weights file");
        // Data and options are checked before anything is written.
        var data = TrainData.Prepare(_config, source);
        var c = data.Config;
        OutDir = c.Out ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(OutDir);
        AtomicFile.WriteAllText(Path.Combine(OutDir, "config.json"), c.ToJson());
        AtomicFile.WriteAllText(Path.Combine(OutDir, "split.json"), data.Source.ToRecord().ToJson());
        var train = data.Source;
        var trainLoader = data.TrainLoader;
        var testLoader = data.TestLoader;
        int classes = train.ClassNames.Length, channels = train.Channels;
        var preprocessing = data.Preprocessing;
        var weightsMeta = new Dictionary<string, string> { ["model"] = c.Model, ["config"] = c.ToJson(), [Preprocessing.MetadataKey] = preprocessing.ToJson() };
        // Class weights for the loss (--balance weights): one tensor for the run, not one per batch.
        using var lossWeights = data.LossWeights is { } lw ? DisposeScope.Detach(Tensor.FromArray(lw, lw.Length)) : null;
        _lossWeights = lossWeights;
        _log.WriteLine($"data: {train.Path} ({train.Layout}), {classes} classes, {trainLoader.SampleCount} train / {testLoader.SampleCount} {train.TestSplit} images; input {preprocessing}" +
            (train.Skipped.Count > 0 ? $"; {train.Skipped.Count} skipped (listed in report.json)" : "") + (c.Balance != "none" ? $"; balance {c.Balance}" : ""));

        Generator.ManualSeed(c.Seed);
        using var model = _modelFactory(c, channels, classes);
        using var teacher = c.Teacher is null ? null : Checkpoint.CreateFromFile(c.Teacher, new Models.ModelOptions(classes, channels, preprocessing.ImageSize));
        if (teacher is not null)
        {
            teacher.Eval();
            _log.WriteLine($"distilling from {c.Teacher} at temperature {c.DistillTemperature}, alpha {c.DistillAlpha}");
        }
        if (c.Init is { } init)
        {
            var loaded = Checkpoint.LoadModel(init, model, strict: false);
            _log.WriteLine($"initialised from {init}: {model.StateDict().Count - loaded.MissingKeys.Count - loaded.ShapeMismatches.Count} tensors loaded" +
                (loaded.ShapeMismatches.Count > 0 ? $"; kept fresh (shape differs): {string.Join("; ", loaded.ShapeMismatches)}" : "") +
                (loaded.MissingKeys.Count > 0 ? $"; not in the file: {string.Join(", ", loaded.MissingKeys)}" : "") +
                (loaded.UnexpectedKeys.Count > 0 ? $"; ignored from the file: {string.Join(", ", loaded.UnexpectedKeys)}" : ""));
        }
        var transfer = new TransferLearning(model, c);
        using var optimizer = BuildOptimizer(model, c, transfer);
        int stepsPerEpoch = trainLoader.BatchCount;
        int totalSteps = stepsPerEpoch * c.Epochs;
        var scheduler = BuildScheduler(optimizer, c, stepsPerEpoch, totalSteps);
        var scaler = new GradScaler(enabled: c.Amp);

        var history = new List<EpochMetrics>();
        int startEpoch = 0, bestEpoch = 0, sinceBest = 0;
        double best = double.NegativeInfinity;
        if (c.Resume is { } resume)
        {
            var state = Checkpoint.Load(resume, model, optimizer, scheduler, scaler);
            startEpoch = state.Epoch;
            best = state.BestAccuracy;
            bestEpoch = state.BestEpoch;
            history.AddRange(ReadHistory(Path.Combine(OutDir, "metrics.jsonl"), startEpoch));
            _log.WriteLine($"resumed from {resume} after epoch {startEpoch}");
        }
        _log.WriteLine($"training {c.Model} ({model.ParameterCount():N0} parameters) on {trainLoader.SampleCount} images for {c.Epochs} epochs, batch {c.BatchSize}, {c.Optimizer} lr {c.Lr}, {c.Threads} threads{(c.Amp ? ", AMP" : "")}");
        var total = Stopwatch.StartNew();
        double trainSeconds = history.Sum(h => h.TrainSeconds);
        bool stopped = false;
        for (int epoch = startEpoch; epoch < c.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            if (transfer.ApplyEpoch(epoch) is { } change) _log.WriteLine(change);
            var (loss, acc, secs, skipped) = TrainEpoch(model, teacher, optimizer, scheduler, scaler, trainLoader, epoch, cancel);
            trainSeconds += secs;
            var (testLoss, testAcc) = Evaluate(model, testLoader, cancel);
            var m = new EpochMetrics(epoch + 1, loss, acc, testLoss, testAcc, optimizer.Groups[0].Lr, secs, trainLoader.SampleCount / secs, skipped);
            history.Add(m);
            AppendLine(Path.Combine(OutDir, "metrics.jsonl"), JsonSerializer.Serialize(m, TrainConfig.Json).ReplaceLineEndings(" "));
            _log.WriteLine($"epoch {epoch + 1}/{c.Epochs}: train loss {loss:F4} acc {acc * 100:F2}% | test loss {testLoss:F4} acc {testAcc * 100:F2}% | {secs:F1} s, {m.ImagesPerSecond:F0} img/s");
            if (testAcc > best + c.MinDelta) { best = testAcc; bestEpoch = epoch + 1; sinceBest = 0; Checkpoint.SaveModel(Path.Combine(OutDir, "best.safetensors"), model, weightsMeta); }
            else sinceBest++;
            Checkpoint.Save(Path.Combine(OutDir, "checkpoint.safetensors"), model, optimizer, scheduler, scaler, epoch + 1, best, bestEpoch, c, preprocessing);
            if (c.Patience > 0 && sinceBest >= c.Patience)
            {
                _log.WriteLine($"early stopping: no test-accuracy gain of {c.MinDelta} for {c.Patience} epochs; restoring the best weights (epoch {bestEpoch})");
                Checkpoint.LoadModel(Path.Combine(OutDir, "best.safetensors"), model);
                stopped = true;
                break;
            }
        }
        var final = history.Count > 0 ? history[^1] : null;
        double finalAcc = stopped ? best : final?.TestAccuracy ?? double.NaN;
        var report = new TrainReport(finalAcc, bestEpoch, best, history.Count, trainSeconds, trainLoader.SampleCount * history.Count / Math.Max(1e-9, trainSeconds), stopped, history, c) { Data = data.Report };
        AtomicFile.WriteAllText(Path.Combine(OutDir, "report.json"), JsonSerializer.Serialize(report, TrainConfig.Json));
        Curves.Write(Path.Combine(OutDir, "curves.png"), history);
        _log.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s: test accuracy {finalAcc * 100:F2}% (best {best * 100:F2}% at epoch {bestEpoch}); outputs in {OutDir}");
        return report;
    }

    private (double Loss, double Acc, double Seconds, int Skipped) TrainEpoch(Module model, Module? teacher, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler, DataLoader loader, int epoch, CancellationToken cancel)
    {
        model.Train();
        var sw = Stopwatch.StartNew();
        double lossSum = 0;
        long correct = 0, seen = 0;
        int skippedBefore = scaler.SkippedSteps, step = 0, steps = loader.BatchCount;
        var progress = new ProgressLine(_log, steps);
        foreach (var batch in loader.Epoch(epoch, cancel))
        {
            using (batch)
            using (var scope = new DisposeScope())
            {
                Tensor logits;
                using (new Autocast(_config.Amp)) logits = model.Forward(batch.Images);
                var loss = F.CrossEntropy(logits, batch.Targets, _lossWeights, labelSmoothing: _config.LabelSmoothing);
                if (teacher is not null)
                {
                    Tensor teacherLogits;
                    using (AutogradMode.NoGrad()) teacherLogits = teacher.Forward(batch.Images);
                    // Hinton et al.: alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE.
                    using var kd = F.DistillationLoss(logits, teacherLogits, _config.DistillTemperature);
                    loss = kd.Mul(_config.DistillAlpha).Add(loss.Mul(1 - _config.DistillAlpha));
                }
                scaler.ScaleLoss(loss).Backward();
                if (_config.GradClip > 0)
                {
                    scaler.Unscale(optimizer);
                    Optimizer.ClipGradNorm(model.Parameters(), _config.GradClip);
                }
                scaler.Step(optimizer);
                AfterStep?.Invoke(model);
                scaler.Update();
                optimizer.ZeroGrad();
                scheduler.Step();
                lossSum += loss.Item() * batch.Size;
                using (AutogradMode.NoGrad()) correct += (long)logits.ArgMax(1).Eq(batch.Labels).Sum().Item();
                seen += batch.Size;
            }
            step++;
            progress.Update(step, $"epoch {epoch + 1}", $"loss {lossSum / seen:F4} acc {100.0 * correct / seen:F2}% lr {optimizer.Groups[0].Lr:G4} {seen / sw.Elapsed.TotalSeconds:F0} img/s");
        }
        progress.Done();
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), sw.Elapsed.TotalSeconds, scaler.SkippedSteps - skippedBefore);
    }

    /// <summary>Mean loss and accuracy of the model in eval mode, without gradients.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module model, DataLoader loader, CancellationToken cancel = default)
    {
        model.Eval();
        double lossSum = 0;
        long correct = 0, seen = 0;
        using var noGrad = AutogradMode.NoGrad();
        foreach (var batch in loader.Epoch(0, cancel))
        {
            using (batch)
            using (var scope = new DisposeScope())
            {
                var logits = model.Forward(batch.Images);
                lossSum += F.CrossEntropy(logits, batch.Labels).Item() * batch.Size;
                correct += (long)logits.ArgMax(1).Eq(batch.Labels).Sum().Item();
                seen += batch.Size;
            }
        }
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen));
    }

    private static Optimizer BuildOptimizer(Module model, TrainConfig c, TransferLearning transfer)
    {
        // No weight decay on biases and normalisation parameters (1-D tensors), the usual practice; the
        // backbone may train at a lower rate than the head (discriminative learning rates).
        var groups = new List<ParamGroup>();
        foreach (var (part, factor) in new[] { (transfer.Backbone, c.BackboneLrFactor), (transfer.Head, 1.0) })
        {
            var decay = part.Where(p => p.Rank > 1).ToList();
            var noDecay = part.Where(p => p.Rank <= 1).ToList();
            if (decay.Count > 0) groups.Add(new ParamGroup(decay, c.Lr * factor) { WeightDecay = c.WeightDecay });
            if (noDecay.Count > 0) groups.Add(new ParamGroup(noDecay, c.Lr * factor));
        }
        return c.Optimizer switch
        {
            "sgd" => new Sgd(groups, c.Momentum, 0, c.Nesterov),
            "adam" => new Adam(groups),
            _ => Adam.AdamW(groups),
        };
    }

    private static LrScheduler BuildScheduler(Optimizer o, TrainConfig c, int stepsPerEpoch, int totalSteps)
    {
        int warmup = (int)Math.Round(c.WarmupEpochs * stepsPerEpoch);
        return c.Schedule switch
        {
            "cosine" when warmup > 0 => SequentialLr.WarmupCosine(o, warmup, totalSteps),
            "cosine" => new CosineAnnealingLr(o, totalSteps),
            "step" => new StepLr(o, Math.Max(1, totalSteps / 3)),
            _ => new LinearLr(o, 1, 1, 1),
        };
    }

    private static void AppendLine(string path, string line)
    {
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = System.Text.Encoding.UTF8.GetBytes(line + "\n");
        f.Write(bytes);
        f.Flush(flushToDisk: true);
    }

    private static IEnumerable<EpochMetrics> ReadHistory(string path, int upToEpoch)
    {
        if (!File.Exists(path)) return [];
        return File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<EpochMetrics>(l, TrainConfig.Json)!).Where(m => m.Epoch <= upToEpoch).ToList();
    }
}

/// <summary>
/// Progress within an epoch: on a terminal, one line rewritten in place (a bar, step, images/s, ETA, running loss);
/// when the output is redirected or captured, a plain line every 15 seconds, so logs stay line-oriented.
/// </summary>
internal sealed class ProgressLine(TextWriter log, int total, int plainIntervalMs = 15000)
{
    private readonly bool _interactive = ReferenceEquals(log, Console.Out) && !Console.IsOutputRedirected;
    private readonly Stopwatch _since = Stopwatch.StartNew();
    private readonly Stopwatch _start = Stopwatch.StartNew();
    private bool _drawn;

    public static string Eta(double seconds) => seconds < 3600
        ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"m\:ss", System.Globalization.CultureInfo.InvariantCulture)
        : TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"h\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture);

    public void Update(int step, string prefix, string stats)
    {
        if (_since.ElapsedMilliseconds < (_interactive ? 200 : plainIntervalMs)) return;
        _since.Restart();
        double elapsed = _start.Elapsed.TotalSeconds, eta = step > 0 ? elapsed / step * (total - step) : 0;
        string where = $"{prefix} [{step}/{total}] ETA {Eta(eta)}";
        if (!_interactive)
        {
            log.WriteLine($"{where} {stats}");
            return;
        }
        int width = Math.Max(40, Math.Min(160, Console.WindowWidth) - 1);
        int barWidth = Math.Clamp(width - where.Length - stats.Length - 4, 10, 40);
        int filled = total > 0 ? (int)((long)barWidth * step / total) : 0;
        string line = $"{prefix} |{new string('#', filled)}{new string('.', barWidth - filled)}| {step}/{total} ETA {Eta(eta)} {stats}";
        log.Write("\r" + (line.Length > width ? line[..width] : line.PadRight(width)));
        _drawn = true;
    }

    public void Done()
    {
        if (_drawn) log.Write("\r" + new string(' ', Math.Max(0, Math.Min(160, Console.WindowWidth) - 1)) + "\r");
    }
}
