// cudann train: the main job. Defaults train resnet20 on Debian's Fashion-MNIST and evaluate on its test set.
using System.Globalization;
using Cuda.Nn.Distributed;
using Cuda.Nn.Models;
using Cuda.Nn.Training;

namespace Cuda.Nn.Cli;

public static class TrainCommand
{
    public static readonly string[] OptionNames =
    [
        "config", "model", "data", "epochs", "batch-size", "optimizer", "lr", "momentum", "nesterov", "weight-decay", "schedule",
        "warmup", "label-smoothing", "mixup", "cutmix", "random-erasing", "teacher", "temperature", "distill-alpha", "amp", "seed", "threads", "workers", "out", "resume", "train-limit", "test-limit",
        "patience", "min-delta", "augment", "grad-clip", "init", "freeze-backbone", "unfreeze-every", "backbone-lr-factor",
        "size", "channels", "mean", "std", "val", "balance", "skip-bad", "recipe", "checkpoint-every", "overwrite",
        "dist-timeout", "nproc", "sync-bn",
    ];

    public static int Run(Options o, bool kfold = false, bool distill = false)
    {
        // --resume continues the run as its checkpoint stored it; flags are applied over that and the trainer
        // refuses any that would change the run (except --epochs, --threads, --workers, --checkpoint-every).
        if (o.Has("resume") && o.Has("config")) throw new UsageException("--config with --resume: a resumed run keeps the configuration stored in its checkpoint; give only the options to change");
        var c = o.String("resume") is { } resumeFrom ? Trainer.ResumeConfig(resumeFrom)
            : o.Has("config") ? TrainConfig.FromJsonFile(o.String("config")!) : new TrainConfig();
        // A recipe sets its values over the config file's; flags override both.
        if ((o.String("recipe") ?? (o.Has("resume") ? null : c.Recipe)) is { } recipe)
        {
            if (!TrainConfig.Recipes.Contains(recipe)) throw new UsageException($"--recipe expects one of {string.Join(", ", TrainConfig.Recipes)}, got '{recipe}'");
            c = c.WithRecipe(recipe);
        }
        // Under mpirun each rank is one process of a data-parallel run (docs/distributed.md).
        var env = DistributedEnvironment.Current();
        if (o.Has("nproc"))
        {
            int n = o.Int("nproc", 1, 1, 1024);
            if (env.IsDistributed) throw new UsageException($"--nproc {n} inside a launched job ({env}): give the rank count to the launcher only");
            if (kfold) throw new UsageException("--nproc: kfold does not run data-parallel yet");
            if (n > 1) return LocalRanks.Run(n, distill ? "distill" : "train", o.ArgsWithout("nproc"));
        }
        if (env.WorldSize > 1 && kfold) throw new UsageException($"kfold does not run data-parallel yet ({env}): run it as one process");
        // Ranks on one machine share its cores unless --threads (or a config's own count) says otherwise.
        int threads = env.IsDistributed && !o.Has("resume") && c.Threads == Environment.ProcessorCount ? env.DefaultThreads() : c.Threads;
        c = c with
        {
            ImageSize = o.Int("size", c.ImageSize, 1, 4096),
            Channels = o.Int("channels", c.Channels, 1, 3),
            Mean = o.Has("mean") ? Floats(o, "mean") : c.Mean,
            Std = o.Has("std") ? Floats(o, "std") : c.Std,
            Val = o.Double("val", c.Val),
            Balance = o.String("balance") ?? c.Balance,
            SkipBad = o.Bool("skip-bad", c.SkipBad),
            Model = o.String("model") ?? c.Model,
            Data = o.String("data") ?? c.Data,
            Epochs = o.Int("epochs", c.Epochs, 1),
            BatchSize = o.Int("batch-size", c.BatchSize, 1),
            Optimizer = o.String("optimizer") ?? c.Optimizer,
            Lr = o.Double("lr", c.Lr),
            Momentum = o.Double("momentum", c.Momentum),
            Nesterov = o.Bool("nesterov", c.Nesterov),
            WeightDecay = o.Double("weight-decay", c.WeightDecay),
            Schedule = o.String("schedule") ?? c.Schedule,
            WarmupEpochs = o.Double("warmup", c.WarmupEpochs),
            LabelSmoothing = o.Double("label-smoothing", c.LabelSmoothing),
            MixupAlpha = o.Double("mixup", c.MixupAlpha),
            CutmixAlpha = o.Double("cutmix", c.CutmixAlpha),
            RandomErasing = o.Double("random-erasing", c.RandomErasing),
            Amp = o.Bool("amp", c.Amp),
            Seed = (ulong)o.Int("seed", (int)c.Seed, 0),
            Threads = o.Int("threads", threads, 1, 1024),
            Workers = o.Int("workers", c.Workers, 0, 64),
            Out = o.String("out") ?? c.Out,
            Resume = o.String("resume") ?? c.Resume,
            CheckpointEvery = o.Int("checkpoint-every", c.CheckpointEvery, 0),
            Overwrite = o.Bool("overwrite", c.Overwrite),
            TrainLimit = o.Int("train-limit", c.TrainLimit, 0),
            TestLimit = o.Int("test-limit", c.TestLimit, 0),
            Patience = o.Int("patience", c.Patience, 0),
            MinDelta = o.Double("min-delta", c.MinDelta),
            Augment = o.Bool("augment", c.Augment),
            GradClip = o.Double("grad-clip", c.GradClip),
            SyncBn = o.Bool("sync-bn", c.SyncBn),
            Init = o.String("init") ?? c.Init,
            FreezeBackbone = o.Bool("freeze-backbone", c.FreezeBackbone),
            UnfreezeEvery = o.Int("unfreeze-every", c.UnfreezeEvery, 0),
            BackboneLrFactor = o.Double("backbone-lr-factor", c.BackboneLrFactor),
            Teacher = o.String("teacher") ?? c.Teacher,
            DistillTemperature = o.Double("temperature", c.DistillTemperature),
            DistillAlpha = o.Double("distill-alpha", c.DistillAlpha),
        };
        if (distill && c.Teacher is null) throw new UsageException("distill needs --teacher FILE (a checkpoint or best.safetensors from cudann train)");
        if (kfold)
        {
            KFold.Run(c, o.Int("folds", 5, 2, 100), Trainer.RegistryModel);
            return 0;
        }
        // Not part of the run's configuration: it changes nothing the run computes, only how long a rank waits.
        double timeout = o.Double("dist-timeout", MpiCollectives.DefaultTimeout.TotalSeconds);
        if (timeout <= 0) throw new UsageException($"--dist-timeout expects a positive number of seconds, got {o.String("dist-timeout")}");
        using var collectives = env.CreateCollectives(timeout: TimeSpan.FromSeconds(timeout));
        try
        {
            new Trainer(c) { Collectives = collectives }.Run();
        }
        catch (Exception e) when (collectives is MpiCollectives { WorldSize: > 1 } mpi)
        {
            // The other ranks may be waiting in a collective, where MPI_Finalize would wait for them forever: say what
            // failed here and end the whole job (mpirun then stops every rank).
            Console.Error.WriteLine($"cudann {(distill ? "distill" : "train")}: rank {mpi.Rank} of {mpi.WorldSize}: {string.Join("; ", e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))}");
            Console.Error.Flush();
            mpi.Abort(1);
            throw;
        }
        return 0;
    }

    /// <summary>A comma-separated list of numbers ("0.485,0.456,0.406").</summary>
    internal static float[] Floats(Options o, string name)
    {
        var text = o.String(name)!;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var r = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !float.IsFinite(r[i]))
                throw new UsageException($"--{name} expects comma-separated numbers, got '{text}'");
        return r;
    }
}
