// The training loop: data, model, optimizer, schedule, mixed precision, evaluation, early stopping,
// metrics.jsonl, report.json and exact-resume checkpoints.
using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Amp;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Distributed;
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
    /// <summary>SHA-256 of the final weights (TensorFile.Sha256): equal hashes, equal bits.</summary>
    public string? WeightsSha256 { get; init; }
    /// <summary>Set when the run stopped because the loss diverged (the epochs before it are in History).</summary>
    public string? Diverged { get; init; }
}

public sealed class Trainer
{
    /// <summary>Fashion-MNIST's train-split statistics (what the resolver measures on it), for code that has no data to measure.</summary>
    public static readonly float[] FashionMnistMean = [0.2860f];
    public static readonly float[] FashionMnistStd = [0.3530f];

    private readonly TrainConfig _config;
    private readonly Func<TrainConfig, int, int, Module> _modelFactory;
    private TextWriter _log;
    private Tensor? _lossWeights;
    private Tensor[] _buffers = [];

    /// <summary>Runs after every optimizer step (pruning masks use it to keep pruned weights at zero).</summary>
    public Action<Module>? AfterStep { get; init; }

    /// <param name="config">What to train, on which data, for how long.</param>
    /// <param name="modelFactory">Builds the model from (config, input channels, classes).</param>
    /// <param name="log">Where progress lines go (stdout when null).</param>
    public Trainer(TrainConfig config, Func<TrainConfig, int, int, Module> modelFactory, TextWriter? log = null)
    {
        config.Validate();
        _config = config;
        _modelFactory = modelFactory;
        _log = log ?? Console.Out;
    }

    /// <summary>Trains the registry model config.Model names (ModelRegistry.Create, seeded from config.Seed), as
    /// `cudann train` does.</summary>
    /// <param name="config">What to train, on which data, for how long.</param>
    /// <param name="log">Where progress lines go (stdout when null).</param>
    public Trainer(TrainConfig config, TextWriter? log = null) : this(config, RegistryModel, log) { }

    /// <summary>The model factory of `cudann train`: config.Model from the registry, its weights drawn from config.Seed.</summary>
    public static Module RegistryModel(TrainConfig config, int channels, int classes) =>
        Models.ModelRegistry.Create(config.Model, new Models.ModelOptions(classes, channels, config.ImageSize, new Generator(config.Seed)));

    public string OutDir { get; private set; } = "";

    /// <summary>The ranks training together (data parallel, docs/distributed.md): each takes its shard of every batch
    /// of BatchSize, gradients are averaged after backward, and rank 0 alone writes the run folder and logs.</summary>
    public ICollectives Collectives { get; init; } = new SingleProcessCollectives();

    /// <summary>Runs after every checkpoint write with (path, epochs finished, step within the next epoch); tests
    /// use it to keep every checkpoint a run wrote.</summary>
    public Action<string, int, int>? AfterCheckpoint { get; init; }

    /// <summary>The stored configuration of the run a checkpoint (or run folder) belongs to, set to resume it into
    /// its own folder: what `cudann train --resume` starts from before applying the flags given.</summary>
    public static TrainConfig ResumeConfig(string checkpointOrRunFolder)
    {
        string path = ResumePath(checkpointOrRunFolder);
        var stored = Checkpoint.ReadConfig(path) ?? throw new InvalidDataException($"--resume {checkpointOrRunFolder}: the checkpoint does not record its run's configuration (written by an older cudann): give the run's options again, as in its config.json");
        return stored with { Resume = path, Out = Path.GetDirectoryName(Path.GetFullPath(path)) };
    }

    /// <summary>A checkpoint file, or a run folder's checkpoint.safetensors.</summary>
    public static string ResumePath(string checkpointOrRunFolder)
    {
        if (Directory.Exists(checkpointOrRunFolder))
        {
            var inside = Path.Combine(checkpointOrRunFolder, RunFolder.CheckpointFile);
            return File.Exists(inside) ? inside : throw new FileNotFoundException($"--resume {checkpointOrRunFolder}: the folder has no {RunFolder.CheckpointFile}");
        }
        return File.Exists(checkpointOrRunFolder) ? checkpointOrRunFolder : throw new FileNotFoundException($"--resume {checkpointOrRunFolder}: no such checkpoint file or run folder");
    }

    /// <summary>Trains on the data path's train split and evaluates on its test split.</summary>
    public TrainReport Run(CancellationToken cancel = default) => Run(null, cancel);

    /// <summary>Trains and evaluates on the given data (K-fold cross-validation passes the fold here), else on the config's data path.</summary>
    public TrainReport Run(DataSource? source, CancellationToken cancel = default)
    {
        using var threadScope = CpuKernelOptions.UseThreads(_config.Threads);
        if (!Models.ModelRegistry.List().Any(m => m.Name == _config.Model))
            throw new ArgumentException($"unknown model '{_config.Model}' (cudann models lists them: {string.Join(", ", Models.ModelRegistry.List().Select(m => m.Name))})");
        string? resumePath = _config.Resume is { } r ? ResumePath(r) : null;
        TrainConfig? stored = resumePath is null ? null : Checkpoint.ReadConfig(resumePath);
        if (_config.Init is { } i && !File.Exists(i)) throw new FileNotFoundException($"--init {i}: no such weights file");
        // Data and options are checked before anything is written.
        var comm = Collectives;
        int world = comm.WorldSize;
        bool root = comm.Rank == 0;
        if (!root) _log = TextWriter.Null;
        var data = TrainData.Prepare(_config, source, comm.Rank, world);
        var c = data.Config;
        // Compared after the data fills in what the options left open (size, mean/std, transforms), as stored.
        if (stored is not null) CheckResume(c, stored, resumePath!);
        string splitJson = data.Source.ToRecord().ToJson(), splitHash = RunFolder.Sha256(splitJson);
        var resumeInfo = resumePath is null ? null : Checkpoint.ReadInfo(resumePath);
        if (resumeInfo is not null)
        {
            if (resumeInfo.SplitSha256 is { } h && h != splitHash)
                throw new InvalidDataException($"--resume {resumePath}: the data at {c.Data} no longer gives the run's split (its files, limits or split changed since the run's split.json); restore the data or start a new run with another --out");
            if (resumeInfo.WorldSize != world)
                throw new ArgumentException($"--resume {resumePath}: the run was trained on {resumeInfo.WorldSize} rank(s) and this is {world}: resume it with as many (mpirun -n {resumeInfo.WorldSize}), since the data shards and the batch per rank depend on it");
            if (c.Epochs < resumeInfo.Epoch) throw new ArgumentException($"--epochs {c.Epochs}: the run being resumed has already finished {resumeInfo.Epoch} epochs");
        }
        string resumeDir = resumePath is null ? "" : Path.GetDirectoryName(Path.GetFullPath(resumePath))!;
        OutDir = c.Out ?? (resumePath is not null ? resumeDir : Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)));
        bool sameFolder = resumePath is not null && Path.GetFullPath(OutDir).TrimEnd('/') == resumeDir.TrimEnd('/');
        // Rank 0 alone owns and writes the run folder; the others read from it (best weights, a resume).
        using var run = root ? RunFolder.Open(OutDir, resuming: sameFolder, overwrite: c.Overwrite) : null;
        if (run is not null)
        {
            AtomicFile.WriteAllText(run.PathOf(RunFolder.ConfigFile), c.ToJson());
            AtomicFile.WriteAllText(run.PathOf(RunFolder.SplitFile), splitJson);
        }
        var train = data.Source;
        var trainLoader = data.TrainLoader;
        var testLoader = data.TestLoader;
        int classes = train.ClassNames.Length, channels = train.Channels;
        var preprocessing = data.Preprocessing;
        var weightsMeta = new Dictionary<string, string> { ["model"] = c.Model, ["config"] = c.ToJson(), [Preprocessing.MetadataKey] = preprocessing.ToJson() };
        // Class weights for the loss (--balance weights): one tensor for the run, not one per batch.
        using var lossWeights = data.LossWeights is { } lw ? DisposeScope.Detach(Tensor.FromArray(lw, lw.Length)) : null;
        _lossWeights = lossWeights;
        int trainSamples = data.Report.TrainSamples;
        _log.WriteLine($"data: {train.Path} ({train.Layout}), {classes} classes, {trainSamples} train / {data.Report.TestSamples} {train.TestSplit} images; input {preprocessing}" +
            (train.Skipped.Count > 0 ? $"; {train.Skipped.Count} skipped (listed in report.json)" : "") + (c.Balance != "none" ? $"; balance {c.Balance}" : ""));

        Generator.ManualSeed(c.Seed);
        using var model = _modelFactory(c, channels, classes);
        using var teacher = c.Teacher is null ? null : Checkpoint.CreateFromFile(c.Teacher, new Models.ModelOptions(classes, channels, preprocessing.ImageSize));
        if (teacher is not null)
        {
            teacher.Eval();
            _log.WriteLine($"distilling from {c.Teacher} at temperature {c.DistillTemperature}, alpha {c.DistillAlpha}");
        }
        if (c.Init is { } init && resumePath is null)
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
        var state = new CheckpointState(0, double.NegativeInfinity, 0) { SplitSha256 = splitHash, History = history, WorldSize = world };
        if (resumePath is not null)
        {
            var loaded = Checkpoint.Load(resumePath, model, optimizer, scheduler, scaler);
            history.AddRange(loaded.History ?? RunFolder.ReadMetrics(Path.Combine(resumeDir, RunFolder.MetricsFile), loaded.Epoch));
            state = loaded with { SplitSha256 = splitHash, History = history };
            // Mid-epoch sums are the ranks' totals (reduced before saving): rank 0 carries them on, the others restart at 0.
            if (!root) state = state with { Progress = state.Progress with { LossSum = 0, Correct = 0, Seen = 0 } };
            if (run is not null) RepairAfterCrash(run, resumeDir, state, model, weightsMeta);
            _log.WriteLine($"resumed from {resumePath} after epoch {state.Epoch}{(state.Step > 0 ? $", step {state.Step}/{stepsPerEpoch}" : "")}");
        }
        // Every rank starts from rank 0's weights and buffers (they agree already when built from the same seed).
        if (world > 1)
            foreach (var t in model.StateDict().Values) comm.Broadcast(t, 0);
        using var gradients = world > 1 ? new GradientAllReduce(comm, model.Parameters()) : null;
        _buffers = world > 1 && !c.SyncBn ? [.. model.NamedBuffers().Select(b => b.Value)] : [];
        if (world > 1 && c.SyncBn)
            foreach (var (_, bn) in model.NamedModules()) if (bn is BatchNorm2d b) b.SyncWith = comm;
        _log.WriteLine($"training {c.Model} ({model.ParameterCount():N0} parameters) on {trainSamples} images for {c.Epochs} epochs, batch {c.BatchSize}, {c.Optimizer} lr {c.Lr}, {c.Threads} threads" +
            (c.Amp ? ", AMP" : "") + (world > 1 ? $"; {world} ranks ({comm.Description}), batch {c.BatchSize / world} per rank" : ""));
        var total = Stopwatch.StartNew();
        double trainSeconds = history.Sum(h => h.TrainSeconds);
        var checkpointPath = Path.Combine(OutDir, RunFolder.CheckpointFile);
        void Commit(CheckpointState s)
        {
            if (!root) return;
            Checkpoint.Save(checkpointPath, model, optimizer, scheduler, scaler, s, c, preprocessing);
            AfterCheckpoint?.Invoke(checkpointPath, s.Epoch, s.Step);
        }
        // A run resumed into another --out gets its checkpoint there at once, so the new folder is a whole run that
        // can itself be resumed (even when nothing is left to train).
        if (resumePath is not null && !sameFolder) Commit(state);
        bool stopped = c.Patience > 0 && state.Epoch > 0 && state.SinceBest >= c.Patience; // an early-stopped run resumed
        TrainReport Report(double finalAcc, string? diverged) => new(finalAcc, state.BestEpoch, state.BestAccuracy, history.Count, trainSeconds, trainSamples * history.Count / Math.Max(1e-9, trainSeconds), stopped, history, c)
        {
            Data = data.Report,
            WeightsSha256 = TensorFile.Sha256(model.StateDict()),
            Diverged = diverged,
        };
        try
        {
        for (int epoch = state.Epoch; epoch < c.Epochs && !stopped; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            if (transfer.ApplyEpoch(epoch) is { } change) _log.WriteLine(change);
            var start = epoch == state.Epoch ? state : state with { Step = 0, Progress = EpochProgress.Empty };
            var before = state;
            var done = TrainEpoch(model, teacher, optimizer, scheduler, scaler, trainLoader, epoch, start.Step, start.Progress, gradients, history,
                c.CheckpointEvery, (step, progress) => Commit(before with { Epoch = epoch, Step = step, Progress = SumOverRanks(progress) }), cancel);
            done = SumOverRanks(done);
            if (world > 1) CheckRanksAgree(model);
            trainSeconds += done.Seconds - start.Progress.Seconds;
            var (testLoss, testAcc) = EvaluateOverRanks(model, testLoader, cancel);
            double loss = done.LossSum / Math.Max(1, done.Seen), acc = (double)done.Correct / Math.Max(1, done.Seen);
            var m = new EpochMetrics(epoch + 1, loss, acc, testLoss, testAcc, optimizer.Groups[0].Lr, done.Seconds, trainSamples / done.Seconds, done.SkippedSteps);
            history.Add(m);
            bool improved = testAcc > state.BestAccuracy + c.MinDelta;
            state = state with
            {
                Epoch = epoch + 1, Step = 0, Progress = EpochProgress.Empty,
                BestAccuracy = improved ? testAcc : state.BestAccuracy, BestEpoch = improved ? epoch + 1 : state.BestEpoch, SinceBest = improved ? 0 : state.SinceBest + 1,
            };
            // The checkpoint commits the epoch; best weights and metrics follow and are rebuilt from it after a crash.
            Commit(state);
            if (improved && run is not null) Checkpoint.SaveModel(run.PathOf(RunFolder.BestFile), model, BestMetadata(weightsMeta, epoch + 1));
            run?.WriteMetrics(history);
            _log.WriteLine($"epoch {epoch + 1}/{c.Epochs}: train loss {loss:F4} acc {acc * 100:F2}% | test loss {testLoss:F4} acc {testAcc * 100:F2}% | {done.Seconds:F1} s, {m.ImagesPerSecond:F0} img/s");
            stopped = c.Patience > 0 && state.SinceBest >= c.Patience;
        }
        }
        catch (TrainingDivergedException e)
        {
            // What the finished epochs measured stays on disk; the weights in the report are the diverged ones.
            if (run is not null) AtomicFile.WriteAllText(run.PathOf(RunFolder.ReportFile), JsonText.Serialize(Report(double.NaN, e.Message), TrainConfig.Json));
            throw;
        }
        if (stopped)
        {
            _log.WriteLine($"early stopping: no test-accuracy gain of {c.MinDelta} for {c.Patience} epochs; restoring the best weights (epoch {state.BestEpoch})");
            comm.Barrier(); // rank 0 has written best.safetensors
            Checkpoint.LoadModel(Path.Combine(OutDir, RunFolder.BestFile), model);
        }
        var final = history.Count > 0 ? history[^1] : null;
        double finalAcc = stopped ? state.BestAccuracy : final?.TestAccuracy ?? double.NaN;
        var report = Report(finalAcc, null);
        if (run is not null)
        {
            AtomicFile.WriteAllText(run.PathOf(RunFolder.ReportFile), JsonText.Serialize(report, TrainConfig.Json));
            Curves.Write(run.PathOf(RunFolder.CurvesFile), history);
        }
        _log.WriteLine($"done in {total.Elapsed.TotalSeconds:F0} s: test accuracy {finalAcc * 100:F2}% (best {state.BestAccuracy * 100:F2}% at epoch {state.BestEpoch}); outputs in {OutDir}");
        return report;
    }

    /// <summary>The ranks' loss, correct and seen counts added up (each rank counted its own shard).</summary>
    private EpochProgress SumOverRanks(EpochProgress p)
    {
        if (Collectives.WorldSize == 1) return p;
        Span<double> sums = [p.LossSum, p.Correct, p.Seen];
        Collectives.AllReduce(sums, AllReduceOp.Sum);
        return p with { LossSum = sums[0], Correct = (long)sums[1], Seen = (long)sums[2] };
    }

    /// <summary>Data-parallel ranks must hold the same weights after every step; a difference (a non-deterministic
    /// reduction, a rank that skipped a step) is an error naming the rank rather than a silently wrong model.</summary>
    private void CheckRanksAgree(Module model)
    {
        var hash = Convert.FromHexString(TensorFile.Sha256(model.StateDict()));
        double key = BitConverter.ToUInt64(hash) >> 12; // 52 bits: exact in a double
        var all = Collectives.AllGather(key);
        for (int r = 1; r < all.Length; r++)
            if (all[r] != all[0]) throw new InvalidOperationException($"rank {r}'s weights differ from rank 0's after the epoch: the ranks no longer train one model");
    }

    private static Dictionary<string, string> BestMetadata(Dictionary<string, string> weightsMeta, int epoch) =>
        new(weightsMeta) { ["epoch"] = epoch.ToString(System.Globalization.CultureInfo.InvariantCulture) };

    /// <summary>Refuses a resume whose configuration differs from the run's, naming each option, except the fields
    /// that may change (TrainConfig.ResumeMayChange); says what changing those does.</summary>
    private void CheckResume(TrainConfig effective, TrainConfig stored, string resumePath)
    {
        var changes = effective.ResumeChanges(stored);
        if (changes.Count > 0)
            throw new ArgumentException($"--resume {resumePath}: a resumed run keeps its configuration, and this one differs: " +
                string.Join("; ", changes.Select(ch => $"{TrainConfig.OptionOf(ch.Key)} was {ch.Stored}, now {ch.Given}")) +
                $". Drop {(changes.Count == 1 ? "that option" : "those options")} (only {string.Join(", ", TrainConfig.ResumeMayChange.Take(4).Select(TrainConfig.OptionOf))} and --checkpoint-every may change), or start a new run with another --out");
        if (effective.Epochs != stored.Epochs && effective.Schedule != "constant")
            _log.WriteLine($"note: --epochs {stored.Epochs} -> {effective.Epochs} stretches the {effective.Schedule} schedule over the new length from here on; the result matches neither length run uninterrupted");
        if (effective.Threads != stored.Threads)
            _log.WriteLine($"note: --threads {stored.Threads} -> {effective.Threads}: results are bit-identical only for the same thread count, so this run will not reproduce the uninterrupted one exactly");
    }

    /// <summary>After a crash the checkpoint is the truth: metrics.jsonl gets exactly its epochs, and best.safetensors
    /// is rewritten when the checkpoint's epoch is the best one and the file on disk is from another epoch (the crash
    /// came between the two writes). Resuming into a new folder carries the best weights over.</summary>
    private static void RepairAfterCrash(RunFolder run, string resumeDir, CheckpointState state, Module model, Dictionary<string, string> weightsMeta)
    {
        run.WriteMetrics(state.History ?? []);
        var best = run.PathOf(RunFolder.BestFile);
        var oldBest = Path.Combine(resumeDir, RunFolder.BestFile);
        if (state.Step == 0 && state.Epoch > 0 && state.BestEpoch == state.Epoch)
        {
            if (!File.Exists(best) || BestEpochOf(best) != state.BestEpoch) Checkpoint.SaveModel(best, model, BestMetadata(weightsMeta, state.BestEpoch));
        }
        else if (!File.Exists(best) && File.Exists(oldBest))
            AtomicFile.Write(best, s => s.Write(File.ReadAllBytes(oldBest)));
    }

    private static int BestEpochOf(string path)
    {
        try
        {
            using var f = SafeTensorsFile.Open(path);
            return f.Metadata.TryGetValue("epoch", out var e) && int.TryParse(e, out int n) ? n : -1;
        }
        catch (InvalidDataException) { return -1; }
    }

    private EpochProgress TrainEpoch(Module model, Module? teacher, Optimizer optimizer, LrScheduler scheduler, GradScaler scaler, DataLoader loader, int epoch,
        int firstStep, EpochProgress start, GradientAllReduce? gradients, List<EpochMetrics> history, int checkpointEvery, Action<int, EpochProgress> checkpoint, CancellationToken cancel)
    {
        model.Train();
        var sw = Stopwatch.StartNew();
        double lossSum = start.LossSum;
        long correct = start.Correct, seen = start.Seen;
        int skippedBefore = scaler.SkippedSteps - start.SkippedSteps, step = firstStep, steps = loader.BatchCount;
        var progress = new ProgressLine(_log, steps);
        EpochProgress Now() => new(lossSum, correct, seen, start.Seconds + sw.Elapsed.TotalSeconds, scaler.SkippedSteps - skippedBefore);
        foreach (var batch in loader.Epoch(epoch, cancel, firstStep))
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
                double lossValue = loss.Item();
                // Without loss scaling a non-finite loss poisons every weight at this step: stop with what is saved.
                if (!double.IsFinite(lossValue) && !_config.Amp && gradients is null)
                    throw new TrainingDivergedException(epoch + 1, step + 1, lossValue, _config.Lr, history.Count);
                scaler.ScaleLoss(loss).Backward();
                if (gradients is not null)
                {
                    // Averaged gradients; the loss rides along so that every rank sees a non-finite one in the same
                    // step and all stop (or, with AMP, the inf in the gradients makes all skip it).
                    Span<double> meanLoss = [lossValue];
                    gradients.Run(meanLoss);
                    if (!double.IsFinite(meanLoss[0]) && !_config.Amp)
                        throw new TrainingDivergedException(epoch + 1, step + 1, meanLoss[0], _config.Lr, history.Count);
                }
                if (_config.GradClip > 0)
                {
                    scaler.Unscale(optimizer);
                    Optimizer.ClipGradNorm(model.Parameters(), _config.GradClip);
                }
                scaler.Step(optimizer);
                // Batch-norm statistics are per rank during the step; rank 0's become everyone's (DDP's broadcast_buffers).
                foreach (var b in _buffers) Collectives.Broadcast(b, 0);
                AfterStep?.Invoke(model);
                scaler.Update();
                optimizer.ZeroGrad();
                scheduler.Step();
                lossSum += lossValue * batch.Size;
                using (AutogradMode.NoGrad()) correct += (long)logits.ArgMax(1).Eq(batch.Labels).Sum().Item();
                seen += batch.Size;
            }
            step++;
            FaultInjection.Hit("step");
            if (checkpointEvery > 0 && step % checkpointEvery == 0 && step < steps) checkpoint(step, Now());
            progress.Update(step, $"epoch {epoch + 1}", $"loss {lossSum / seen:F4} acc {100.0 * correct / seen:F2}% lr {optimizer.Groups[0].Lr:G4} {seen / sw.Elapsed.TotalSeconds:F0} img/s");
        }
        progress.Done();
        return Now();
    }

    /// <summary>Mean loss and accuracy of the model in eval mode, without gradients.</summary>
    public static (double Loss, double Accuracy) Evaluate(Module model, DataLoader loader, CancellationToken cancel = default)
    {
        var (lossSum, correct, seen) = EvaluateSums(model, loader, cancel);
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen));
    }

    /// <summary>Evaluate over every rank's shard of the test split: the sums added across ranks, then the means.</summary>
    private (double Loss, double Accuracy) EvaluateOverRanks(Module model, DataLoader loader, CancellationToken cancel)
    {
        var (lossSum, correct, seen) = EvaluateSums(model, loader, cancel);
        if (Collectives.WorldSize > 1)
        {
            Span<double> sums = [lossSum, correct, seen];
            Collectives.AllReduce(sums, AllReduceOp.Sum);
            (lossSum, correct, seen) = (sums[0], (long)sums[1], (long)sums[2]);
        }
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen));
    }

    private static (double LossSum, long Correct, long Seen) EvaluateSums(Module model, DataLoader loader, CancellationToken cancel)
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
                FaultInjection.Hit("eval");
                lossSum += F.CrossEntropy(logits, batch.Labels).Item() * batch.Size;
                correct += (long)logits.ArgMax(1).Eq(batch.Labels).Sum().Item();
                seen += batch.Size;
            }
        }
        return (lossSum, correct, seen);
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
}

/// <summary>The loss became NaN or infinite: the run stops; its last checkpoint and report.json are kept.</summary>
public sealed class TrainingDivergedException(int epoch, int step, double loss, double lr, int epochsSaved)
    : InvalidOperationException($"the loss diverged ({loss}) at epoch {epoch}, step {step}: lower --lr (now {lr}) or add --grad-clip 1; " +
        (epochsSaved > 0 ? $"the checkpoint and report of the {epochsSaved} finished epochs are kept" : "no epoch had finished"))
{
    public int Epoch { get; } = epoch;
    public int Step { get; } = step;
}
