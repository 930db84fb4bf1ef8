// The cudann command: argument dispatch. Each command lives in its own file.
using Cuda.Nn;

namespace Cuda.Nn.Cli;

public static class CliMain
{
    public static string Version => typeof(CliMain).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private const string Usage = """
        usage: cudann <command> [options]

        commands:
          train [options]      trains a model on --data PATH (default Fashion-MNIST) and evaluates it on its test split;
                               PATH: a class-per-folder photo tree (train/ with test/ or val/, or flat CLASS/ folders split
                               by --val), a label list (.csv/.json), an IDX or a CIFAR folder; the split goes to split.json
                               defaults: resnet20, 5 epochs, batch 128, SGD lr 0.1 Nesterov, cosine, output in runs/<time>
                               data: --size PX --channels 1|3 --mean M1,M2,M3 --std S1,S2,S3 (default: from the data)
                                 --val FRACTION --balance none|oversample|undersample|weights --skip-bad true
                               --recipe finetune: AdamW lr 1e-4 wd 1e-4, 5 warmup epochs + cosine, backbone LR x0.1,
                                 gradual unfreezing, early stopping (flags override it)
                               options: --config FILE.json --model --data --epochs --batch-size --optimizer sgd|adam|adamw
                                 --lr --momentum --nesterov true|false --weight-decay --schedule cosine|step|constant
                                 --warmup EPOCHS --label-smoothing --mixup ALPHA --cutmix ALPHA --random-erasing P --amp true|false --seed --threads --workers --out DIR
                                 --train-limit N --test-limit N (0 = all) --patience N --min-delta --augment --grad-clip
                               runs: --resume RUN[/checkpoint.safetensors] continues a run exactly as stored (only --epochs,
                                 --threads, --workers, --checkpoint-every may change); --checkpoint-every STEPS also
                                 checkpoints inside epochs; --overwrite true replaces a previous run in --out (else refused)
                                 transfer learning: --init WEIGHTS (.safetensors, or PyTorch .pth/.pt) --freeze-backbone true --unfreeze-every N
                                   --backbone-lr-factor 0.1
                               data parallel: mpirun -n N cudann train ... (--batch-size is the global batch, N must divide it;
                                 rank 0 writes the run; threads per rank default to cores / local ranks; docs/distributed.md)
                                 --dist-timeout SECONDS (default 300): a rank waiting that long for the others stops the job
                                 --nproc N: starts N local ranks itself (mpirun -n N --oversubscribe --bind-to none cudann ...)
                                 --sync-bn true: batch-norm statistics over all ranks' batches (default: each rank's own)
                       distillation: --teacher FILE --temperature T --distill-alpha A (see distill)
          gpu-check [--dry-run true] [--steps 200] [--batch 128] [--out FILE.json]
                               every op family on the GPU (ILGPU CUDA) against the CPU, forward and gradients, then ResNet-20
                               SGD steps on both with the loss curves compared, images/s and peak device memory; without a
                               GPU it says so (--dry-run runs the same checks on ILGPU's CPU accelerator);
                               --data PATH (default Fashion-MNIST) feeds the training steps, --threads N the CPU side
          dist-check [--bucket-elements 4096] [--sizes N1,N2,...] [--seed N]
                               run on every rank (mpirun -n 2 cudann dist-check): all-reduce sum/average of F32/F64/F16/BF16
                               buffers, broadcast, barrier and all-gather against this rank's own computation
          quantize --checkpoint FILE [--calibration 512] [--out DIR]
                               static int8 (per-channel weights, calibrated per-tensor activations, BN folded; VPDPBUSD
                               kernels); reports float vs int8 accuracy and speed; writes a QDQ model.int8.onnx;
                               --data PATH (default Fashion-MNIST), --test-limit N (0 = all), --threads N
          prune --checkpoint FILE [--amount 0.5] [--structured true] [--global true|false] [--finetune-epochs 1] [--out DIR]
                               magnitude pruning (zeros, masks kept while fine-tuning) or structured L1 channel pruning
                               (fewer channels: smaller and faster); reports accuracy, size and speed before and after;
                               fine-tuning: --lr 0.01 --batch-size 128 --seed 0; --data PATH (default Fashion-MNIST)
                               --train-limit N --test-limit N (0 = all) --threads N
          distill --teacher FILE [train options] [--temperature T] [--distill-alpha A]
                               trains the student (--model) with alpha * T^2 KL(teacher_T || student_T) + (1 - alpha) CE;
                               defaults T 4, alpha 0.5; the teacher file names its model (checkpoint or best.safetensors)
          eval --checkpoint FILE [--data PATH] [--val F --seed N] [--out DIR]
                               evaluates on PATH's test split (default: the data, --val and --seed the run trained with),
                               prepared as in training (size, mean/std, classes stored in the file): accuracy, top-5, per-class precision/recall/F1,
                               ROC-AUC, confusion matrix; writes eval.json, confusion_matrix.png, per_class.png;
                               --batch-size 256 --threads N --skip-bad true; for files without a preprocessing record:
                               --model NAME --channels C --size S (default 28)
          kfold --folds K [train options]
                               stratified K-fold cross-validation on the train split: each fold trained from
                               scratch, per-fold accuracy and mean +/- std in kfold.json; rerun to resume
          dataset PATH [--gray] [--skip-bad] [--val F] [--seed N] [--coarse]
                               resolves PATH as train does (same classes, same split) and prints its layout, per-split
                               class counts, image sizes, mean/std, skipped files, imbalance and loss weights
          images --out TREE [--data PATH] [--size 64] [--train-limit N] [--test-limit N] [--gray true] [--jpeg-every 2]
                               writes a data set (default Fashion-MNIST) as a class-per-folder PNG/JPEG tree
          kappa FILE.csv       annotation agreement from "item,annotator1,annotator2,..." rows: pairwise Cohen's
                               kappa, Fleiss' kappa and a per-class disagreement table
          audit DIR [--json] [--threshold N] [--max-pairs N] [--out FILE]
                               class counts and imbalance, corrupt files, exact duplicates and near-duplicates
                               (pHash) between DIR/train and DIR/test (or within DIR) of class-per-folder images
          export --checkpoint FILE --out MODEL.onnx [--model NAME] [--classes N] [--channels C] [--size S]
                               writes the model as ONNX (opset 17, dynamic batch axis, eval mode); class count,
                               channels and image size come from the weights unless given
          predict --model FILE INPUT [--top K] [--json] [--limit N] [--arch NAME]
                               FILE: an .onnx file (run by our own interpreter) or a checkpoint; INPUT: an image, a
                               folder of images, or a data set with a test split (IDX, CIFAR, train/+test/ tree: first --limit images);
                               prints the top-K classes with probabilities, or JSON with --json;
                               --batch-size 64 --threads N; --classes N --channels C --size S for files that do not say
          models               lists the models the registry can build
          summary --model NAME [--classes N] [--channels C] [--size S] [--batch B]
                               prints each layer's output shape, parameters and MACs
          info                 devices, SIMD width, GEMM kernel and thread count in use
          demo [--steps N] [--threads N] [--seed N]
                               fits a small MLP on generated data and prints the loss falling
          --version            prints the version
          --help               prints this help
        """;

    /// <summary>Runs one command. Every failure ends in one line on stderr, "cudann COMMAND: what, naming the file
    /// or option", with exit code 2 for a usage error and 1 for anything else; no exception reaches the runtime
    /// (EnvironmentVariables.Trace = 1 adds the exception's stack trace, for developers).</summary>
    public static int Run(string[] args)
    {
        string prefix = args.Length > 0 && !args[0].StartsWith('-') ? $"cudann {args[0]}" : "cudann";
        try { return Dispatch(args); }
        catch (UsageException e) { return Fail(prefix, e.Message + " (cudann --help lists commands and options)", e, 2); }
        catch (Exception e) when (e is IOException or InvalidDataException or DllNotFoundException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
                                   or NotSupportedException or System.Text.Json.JsonException or FormatException)
        {
            return Fail(prefix, e.Message, e, 1);
        }
        catch (OutOfMemoryException e) { return Fail(prefix, "out of memory: try a smaller --batch-size or --size", e, 1); }
        catch (Exception e) { return Fail(prefix, $"internal error ({e.GetType().Name}: {e.Message}); please report it with the command line", e, 1); }
    }

    private static int Fail(string prefix, string message, Exception e, int code)
    {
        // One line: a message that spans lines (a list of keys, a nested cause) is joined.
        Console.Error.WriteLine($"{prefix}: {string.Join("; ", message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))}");
        if (Kernels.EnvironmentVariables.Read(Kernels.EnvironmentVariables.Trace) == "1") Console.Error.WriteLine(e);
        return code;
    }

    /// <summary>`cudann COMMAND --help`: the command's own part of the usage text (its first line starts at column 2
    /// with the command's name; continuation lines are indented further), or null for an unknown command.</summary>
    public static string? CommandHelp(string command)
    {
        var lines = Usage.Split('\n');
        int start = Array.FindIndex(lines, l => l.StartsWith("  " + command + " ", StringComparison.Ordinal) || l == "  " + command);
        if (start < 0 || command.StartsWith('-')) return null;
        int end = start + 1;
        while (end < lines.Length && lines[end].StartsWith("   ", StringComparison.Ordinal)) end++;
        return "usage: cudann " + string.Join('\n', lines[start..end]).TrimStart() + "\n\n(cudann --help lists every command)";
    }

    private static int Dispatch(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        if (rest.Any(a => a is "--help" or "-h"))
        {
            Console.WriteLine(CommandHelp(args[0]) ?? throw new UsageException($"unknown command '{args[0]}'"));
            return 0;
        }
        switch (args[0])
        {
            case "--version":
                Console.WriteLine($"cudann {Version}");
                return 0;
            case "train":
                return TrainCommand.Run(Options.Parse(rest, TrainCommand.OptionNames));
            case "eval":
                return EvalCommand.Run(Options.Parse(rest, EvalCommand.OptionNames));
            case "gpu-check":
                return GpuCheckCommand.Run(Options.Parse(rest, GpuCheckCommand.OptionNames));
            case "dist-check":
                return DistCheckCommand.Run(Options.Parse(rest, DistCheckCommand.OptionNames));
            case "quantize":
                return QuantizeCommand.Run(Options.Parse(rest, QuantizeCommand.OptionNames));
            case "prune":
                return PruneCommand.Run(Options.Parse(rest, PruneCommand.OptionNames));
            case "distill":
                return TrainCommand.Run(Options.Parse(rest, TrainCommand.OptionNames), distill: true);
            case "kfold":
                return TrainCommand.Run(Options.Parse(rest, [.. TrainCommand.OptionNames, "folds"]), kfold: true);
            case "export":
                return OnnxCommands.Export(Options.Parse(rest, OnnxCommands.ExportOptions));
            case "predict":
                return OnnxCommands.Predict(rest);
            case "dataset":
                return DataCommands.Dataset(rest);
            case "kappa":
                return DataCommands.Kappa(rest);
            case "images":
                return DataCommands.Images(rest);
            case "audit":
                return DataCommands.Audit(rest);
            case "models":
                foreach (var (name, description) in Models.ModelRegistry.List()) Console.WriteLine($"{name,-12} {description}");
                return 0;
            case "summary":
                {
                    var so = Options.Parse(rest, ["model", "classes", "channels", "size", "batch"]);
                    var name = so.String("model") ?? throw new UsageException("summary needs --model NAME (see cudann models)");
                    int size = so.Int("size", 224, 1), channels = so.Int("channels", 3, 1);
                    using var model = Models.ModelRegistry.Create(name, new Models.ModelOptions(so.Int("classes", 1000, 1), channels, size));
                    Console.Write(Models.ModelSummary.Of(model, [so.Int("batch", 1, 1), channels, size, size]));
                    return 0;
                }
            case "info":
                return InfoCommand.Run(Options.Parse(rest, []));
            case "demo":
                return DemoCommand.Run(Options.Parse(rest, ["steps", "threads", "seed"]));
            default:
                throw new UsageException($"unknown command '{args[0]}'");
        }
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>--name value options, checked against the names a command accepts.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values = new();
    private string[] _args = [];

    public static Options Parse(string[] args, string[] allowed)
    {
        var o = new Options { _args = args };
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
            var name = a[2..];
            string value;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else
            {
                if (i + 1 >= args.Length) throw new UsageException($"option --{name} needs a value");
                value = args[++i];
            }
            if (Array.IndexOf(allowed, name) < 0) throw new UsageException($"unknown option --{name} (accepted: {string.Join(", ", allowed.Select(x => "--" + x))})");
            o._values[name] = value;
        }
        return o;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>The command line as given, without option <paramref name="name"/> (as "--name value" or "--name=value").</summary>
    public string[] ArgsWithout(string name)
    {
        var kept = new List<string>();
        for (int i = 0; i < _args.Length; i++)
        {
            if (_args[i] == "--" + name) { i++; continue; }
            if (_args[i].StartsWith("--" + name + "=", StringComparison.Ordinal)) continue;
            kept.Add(_args[i]);
        }
        return [.. kept];
    }

    public string? String(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public double Double(string name, double fallback)
    {
        if (!_values.TryGetValue(name, out var v)) return fallback;
        if (!double.TryParse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double r) || !double.IsFinite(r))
            throw new UsageException($"--{name} expects a number, got '{v}'");
        return r;
    }

    public bool Bool(string name, bool fallback)
    {
        if (!_values.TryGetValue(name, out var v)) return fallback;
        return v.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" or "on" => true,
            "false" or "0" or "no" or "off" => false,
            _ => throw new UsageException($"--{name} expects true or false, got '{v}'"),
        };
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!_values.TryGetValue(name, out var v)) return fallback;
        if (!int.TryParse(v, out int r) || r < min || r > max) throw new UsageException($"--{name} expects an integer in [{min}, {max}], got '{v}'");
        return r;
    }
}
