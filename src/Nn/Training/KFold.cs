// Stratified K-fold cross-validation: every fold trains from scratch with the same configuration on the
// other folds and is evaluated on its own. Folds come from the seed; a fold whose report exists is
// skipped, so an interrupted run resumes fold by fold.
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.IO;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Training;

public sealed record FoldResult(int Fold, int TrainSamples, int EvalSamples, double Accuracy, int BestEpoch, double TrainSeconds);

public sealed record KFoldReport(int Folds, IReadOnlyList<FoldResult> Results, double MeanAccuracy, double StdAccuracy, TrainConfig Config);

/// <summary>What a K-fold run folder holds, so a rerun with other options is refused instead of mixing folds.</summary>
public sealed record KFoldConfig(int Folds, TrainConfig Config);

public static class KFold
{
    private static KFoldConfig SafeRead(string path)
    {
        try { return JsonText.Deserialize<KFoldConfig>(File.ReadAllText(path), TrainConfig.Json) ?? throw new InvalidDataException($"{path}: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a K-fold configuration ({e.Message})", e); }
    }

    /// <summary>Assigns each sample a fold so every class is spread evenly over the folds (shuffled within class from the seed).</summary>
    public static int[] StratifiedFolds(IReadOnlyList<long> labels, int folds, ulong seed)
    {
        if (folds < 2) throw new ArgumentException($"K-fold needs at least 2 folds, got {folds}");
        var g = new Generator(seed ^ 0x9E3779B97F4A7C15UL);
        var fold = new int[labels.Count];
        int next = 0;
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(gr => gr.Key))
        {
            var idx = group.ToArray();
            for (int i = idx.Length - 1; i > 0; i--) { int j = g.NextInt(i + 1); (idx[i], idx[j]) = (idx[j], idx[i]); }
            // continue the round-robin across classes so fold sizes differ by at most one overall
            foreach (var i in idx) fold[i] = next++ % folds;
        }
        return fold;
    }

    public static KFoldReport Run(TrainConfig config, int folds, Func<TrainConfig, int, int, Module> modelFactory, TextWriter? log = null, CancellationToken cancel = default)
    {
        log ??= Console.Out;
        var root = config.Out ?? Path.Combine("runs", "kfold-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture));
        // The folds split the data path's train split (the same one cudann train uses); its test split is not touched.
        var data = TrainData.Resolve(config with { TestLimit = 0 });
        var pool = data.TrainSplit;
        int n = pool.Length;
        var assignment = StratifiedFolds([.. pool.Select(i => data.Train.Label(i))], folds, config.Seed);
        Directory.CreateDirectory(root);
        // A rerun resumes fold by fold, so it must be the same cross-validation: same folds, same configuration.
        var kfoldConfig = Path.Combine(root, "kfold_config.json");
        var recorded = config with { Out = root, Resume = null };
        if (File.Exists(kfoldConfig))
        {
            var stored = SafeRead(kfoldConfig);
            if (stored.Folds != folds) throw new ArgumentException($"--folds {folds}: {root} holds a {stored.Folds}-fold run; give --folds {stored.Folds} to resume it, or another --out");
            var changes = recorded.ResumeChanges(stored.Config);
            if (changes.Count > 0)
                throw new ArgumentException($"{root} holds a K-fold run with another configuration: " + string.Join("; ", changes.Select(ch => $"{TrainConfig.OptionOf(ch.Key)} was {ch.Stored}, now {ch.Given}")) + "; give the same options to resume it, or another --out");
        }
        else AtomicFile.WriteAllText(kfoldConfig, JsonText.Serialize(new KFoldConfig(folds, recorded), TrainConfig.Json));
        var results = new List<FoldResult>();
        for (int f = 0; f < folds; f++)
        {
            cancel.ThrowIfCancellationRequested();
            var dir = Path.Combine(root, $"fold{f}");
            var reportPath = Path.Combine(dir, "report.json");
            TrainReport report;
            if (File.Exists(reportPath))
            {
                report = JsonText.Deserialize<TrainReport>(File.ReadAllText(reportPath), TrainConfig.Json)!;
                log.WriteLine($"fold {f + 1}/{folds}: already done ({report.TestAccuracy * 100:F2}%), skipped");
            }
            else
            {
                log.WriteLine($"fold {f + 1}/{folds}");
                var trainIdx = Enumerable.Range(0, n).Where(i => assignment[i] != f).Select(i => pool[i]).ToArray();
                var evalIdx = Enumerable.Range(0, n).Where(i => assignment[i] == f).Select(i => pool[i]).ToArray();
                var trainer = new Trainer(config with { Out = dir, Resume = File.Exists(Path.Combine(dir, "checkpoint.safetensors")) ? Path.Combine(dir, "checkpoint.safetensors") : null }, modelFactory, log);
                report = trainer.Run(TrainData.WithSplit(data, trainIdx, evalIdx, $"fold {f}"), cancel);
            }
            int evalCount = assignment.Take(n).Count(a => a == f);
            results.Add(new FoldResult(f, n - evalCount, evalCount, report.TestAccuracy, report.BestEpoch, report.TrainSeconds));
        }
        double mean = results.Average(r => r.Accuracy);
        double std = Math.Sqrt(results.Sum(r => (r.Accuracy - mean) * (r.Accuracy - mean)) / Math.Max(1, results.Count - 1));
        var k = new KFoldReport(folds, results, mean, std, config);
        AtomicFile.WriteAllText(Path.Combine(root, "kfold.json"), JsonText.Serialize(k, TrainConfig.Json));
        log.WriteLine($"{folds}-fold accuracy {mean * 100:F2}% +/- {std * 100:F2}% (sample standard deviation); report in {Path.Combine(root, "kfold.json")}");
        return k;
    }
}
