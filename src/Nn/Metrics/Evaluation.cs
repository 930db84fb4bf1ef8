// Evaluates a classifier on a data loader and writes the report: JSON for other tools, a console table,
// a confusion-matrix heatmap and per-class bars.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;
using Cuda.Nn.Plot;

namespace Cuda.Nn.Metrics;

public sealed record EvaluationResult(
    int Samples, double Accuracy, double Top5Accuracy, double Loss,
    double MacroPrecision, double MacroRecall, double MacroF1, double MicroF1, double WeightedF1, double MacroRocAuc,
    IReadOnlyList<PerClassResult> PerClass, long[][] ConfusionMatrix, string[] ClassNames);

public sealed record PerClassResult(string Name, double Precision, double Recall, double F1, long Support, double RocAuc);

public static class Evaluation
{
    public static EvaluationResult Run(Module model, DataLoader loader, string[] classNames, CancellationToken cancel = default)
    {
        model.Eval();
        int k = classNames.Length;
        var scores = new List<float>();
        var truth = new List<long>();
        double lossSum = 0;
        using (AutogradMode.NoGrad())
        {
            foreach (var batch in loader.Epoch(0, cancel))
            {
                using (batch)
                using (var scope = new DisposeScope())
                {
                    var logits = model.Forward(batch.Images);
                    if (logits.Rank != 2 || logits.ShapeRef[1] != k)
                        throw new InvalidOperationException($"the model produces logits of shape {Kernels.Layout.ShapeString(logits.ShapeRef)} but the data has {k} classes");
                    lossSum += F.CrossEntropy(logits, batch.Labels).Item() * batch.Size;
                    scores.AddRange(F.Softmax(logits, 1).ToFloatArray());
                    truth.AddRange(batch.Labels.ToArray<long>());
                }
            }
        }
        var s = scores.ToArray();
        var t = truth.ToArray();
        var pred = new long[t.Length];
        for (int i = 0; i < t.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < k; c++) if (s[i * k + c] > s[i * k + best]) best = c;
            pred[i] = best;
        }
        var r = ClassificationMetrics.Report(t, pred, k);
        var (auc, macroAuc) = ClassificationMetrics.RocAucOneVsRest(s, k, t);
        var cm = new long[k][];
        for (int i = 0; i < k; i++) { cm[i] = new long[k]; for (int j = 0; j < k; j++) cm[i][j] = r.Confusion[i, j]; }
        return new EvaluationResult(t.Length, r.Accuracy, ClassificationMetrics.TopKAccuracy(s, k, t, Math.Min(5, k)), lossSum / Math.Max(1, t.Length),
            r.MacroPrecision, r.MacroRecall, r.MacroF1, r.MicroF1, r.WeightedF1, macroAuc,
            r.PerClass.Select(p => new PerClassResult(classNames[p.Class], p.Precision, p.Recall, p.F1, p.Support, auc[p.Class])).ToList(), cm, classNames);
    }

    /// <summary>Writes eval.json, confusion_matrix.png and per_class.png into dir.</summary>
    public static void Write(EvaluationResult e, string dir)
    {
        Directory.CreateDirectory(dir);
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "eval.json"), IO.JsonText.Serialize(e, Training.TrainConfig.Json));
        var counts = new long[e.ClassNames.Length, e.ClassNames.Length];
        for (int i = 0; i < e.ClassNames.Length; i++) for (int j = 0; j < e.ClassNames.Length; j++) counts[i, j] = e.ConfusionMatrix[i][j];
        Charts.ConfusionHeatmap(counts, e.ClassNames).Save(Path.Combine(dir, "confusion_matrix.png"));
        var c = new Canvas(700, 60 + 22 * e.ClassNames.Length);
        Charts.DrawBars(c, "PER-CLASS F1 %", e.PerClass.Select(p => (p.Name, p.F1 * 100)).ToList());
        c.Save(Path.Combine(dir, "per_class.png"));
    }

    public static string Table(EvaluationResult e)
    {
        var sb = new StringBuilder();
        int w = Math.Max(8, e.ClassNames.Max(n => n.Length) + 2);
        sb.AppendLine($"{"class".PadRight(w)}{"precision",10}{"recall",10}{"f1",10}{"support",10}{"roc-auc",10}");
        foreach (var p in e.PerClass)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{p.Name.PadRight(w)}{p.Precision,10:F4}{p.Recall,10:F4}{p.F1,10:F4}{p.Support,10}{p.RocAuc,10:F4}"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{"macro".PadRight(w)}{e.MacroPrecision,10:F4}{e.MacroRecall,10:F4}{e.MacroF1,10:F4}{e.Samples,10}{e.MacroRocAuc,10:F4}"));
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"accuracy {e.Accuracy * 100:F2}%  top-5 {e.Top5Accuracy * 100:F2}%  loss {e.Loss:F4}  weighted f1 {e.WeightedF1:F4}  micro f1 {e.MicroF1:F4}  ({e.Samples} samples)"));
        sb.AppendLine("confusion matrix (rows: true, columns: predicted):");
        for (int i = 0; i < e.ClassNames.Length; i++)
            sb.AppendLine($"{i,3} " + string.Join(" ", e.ConfusionMatrix[i].Select(v => v.ToString(CultureInfo.InvariantCulture).PadLeft(6))));
        return sb.ToString();
    }
}
