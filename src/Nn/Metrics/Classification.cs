// Classification metrics over plain arrays (predictions and scores already on the host).
// Definitions follow scikit-learn: a class with no support or no predictions contributes 0 to the
// undefined ratio (zero_division=0), and averages are over all classes.
namespace Cuda.Nn.Metrics;

public sealed record ClassReport(int Class, double Precision, double Recall, double F1, long Support);

public sealed record ClassificationReport(
    double Accuracy,
    IReadOnlyList<ClassReport> PerClass,
    double MacroPrecision, double MacroRecall, double MacroF1,
    double MicroPrecision, double MicroRecall, double MicroF1,
    double WeightedPrecision, double WeightedRecall, double WeightedF1,
    long[,] Confusion);

public static class ClassificationMetrics
{
    /// <summary>Confusion matrix: rows are true classes, columns predicted classes.</summary>
    public static long[,] ConfusionMatrix(ReadOnlySpan<long> truth, ReadOnlySpan<long> predicted, int classes)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"{truth.Length} labels but {predicted.Length} predictions");
        var m = new long[classes, classes];
        for (int i = 0; i < truth.Length; i++)
        {
            long t = truth[i], p = predicted[i];
            if (t < 0 || t >= classes || p < 0 || p >= classes) throw new ArgumentException($"sample {i}: class {t} or prediction {p} is outside [0, {classes})");
            m[t, p]++;
        }
        return m;
    }

    /// <summary>Row-normalised confusion matrix (each true class sums to 1; empty rows stay 0).</summary>
    public static double[,] Normalize(long[,] confusion)
    {
        int c = confusion.GetLength(0);
        var r = new double[c, c];
        for (int i = 0; i < c; i++)
        {
            long row = 0;
            for (int j = 0; j < c; j++) row += confusion[i, j];
            for (int j = 0; j < c; j++) r[i, j] = row == 0 ? 0 : (double)confusion[i, j] / row;
        }
        return r;
    }

    public static ClassificationReport Report(ReadOnlySpan<long> truth, ReadOnlySpan<long> predicted, int classes)
    {
        var cm = ConfusionMatrix(truth, predicted, classes);
        long total = truth.Length, correct = 0, tpAll = 0;
        var per = new List<ClassReport>();
        double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
        for (int c = 0; c < classes; c++)
        {
            long tp = cm[c, c], support = 0, predictedC = 0;
            for (int j = 0; j < classes; j++) { support += cm[c, j]; predictedC += cm[j, c]; }
            double p = predictedC == 0 ? 0 : (double)tp / predictedC;
            double r = support == 0 ? 0 : (double)tp / support;
            double f = p + r == 0 ? 0 : 2 * p * r / (p + r);
            per.Add(new ClassReport(c, p, r, f, support));
            mp += p; mr += r; mf += f;
            wp += p * support; wr += r * support; wf += f * support;
            correct += tp;
            tpAll += tp;
        }
        double acc = total == 0 ? 0 : (double)correct / total;
        // Single-label micro averages all equal accuracy: every miss is one FP and one FN.
        double micro = acc;
        double n = Math.Max(1, classes);
        double w = total == 0 ? 1 : total;
        return new ClassificationReport(acc, per, mp / n, mr / n, mf / n, micro, micro, micro, wp / w, wr / w, wf / w, cm);
    }

    /// <summary>Fraction of rows whose true class is among the k highest scores (ties broken by lower index).</summary>
    public static double TopKAccuracy(float[] scores, int classes, ReadOnlySpan<long> truth, int k)
    {
        if (scores.Length != truth.Length * classes) throw new ArgumentException($"scores have {scores.Length} values, expected {truth.Length} x {classes}");
        if (truth.Length == 0) return 0;
        long hits = 0;
        for (int i = 0; i < truth.Length; i++)
        {
            var row = scores.AsSpan(i * classes, classes);
            float target = row[(int)truth[i]];
            int better = 0;
            for (int c = 0; c < classes; c++)
                if (row[c] > target || (row[c] == target && c < truth[i])) better++;
            if (better < k) hits++;
        }
        return (double)hits / truth.Length;
    }

    /// <summary>
    /// Average precision of one binary problem, scikit-learn's average_precision_score:
    /// sum over thresholds of (R_n - R_{n-1}) P_n, thresholds at distinct scores (ties grouped). NaN when there are no positives.
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<float> scores, ReadOnlySpan<bool> positive)
    {
        int n = scores.Length;
        if (positive.Length != n) throw new ArgumentException($"{n} scores but {positive.Length} labels");
        var order = Enumerable.Range(0, n).ToArray();
        var s = scores.ToArray();
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));
        long totalPos = 0;
        foreach (var p in positive) if (p) totalPos++;
        if (totalPos == 0) return double.NaN;
        double ap = 0, prevRecall = 0;
        long tp = 0, fp = 0;
        for (int i = 0; i < n; i++)
        {
            if (positive[order[i]]) tp++; else fp++;
            if (i + 1 < n && s[order[i + 1]] == s[order[i]]) continue; // same threshold
            double recall = (double)tp / totalPos, precision = (double)tp / (tp + fp);
            ap += (recall - prevRecall) * precision;
            prevRecall = recall;
        }
        return ap;
    }

    /// <summary>Per-label AP and their mean over labels that have positives (multi-label mAP).</summary>
    public static (double[] PerLabel, double Mean) MeanAveragePrecision(float[] scores, bool[] targets, int labels)
    {
        int n = scores.Length / labels;
        if (scores.Length != n * labels || targets.Length != scores.Length) throw new ArgumentException("scores and targets must both be [N, labels]");
        var per = new double[labels];
        var col = new float[n];
        var pos = new bool[n];
        double sum = 0;
        int counted = 0;
        for (int l = 0; l < labels; l++)
        {
            for (int i = 0; i < n; i++) { col[i] = scores[i * labels + l]; pos[i] = targets[i * labels + l]; }
            per[l] = AveragePrecision(col, pos);
            if (!double.IsNaN(per[l])) { sum += per[l]; counted++; }
        }
        return (per, counted == 0 ? double.NaN : sum / counted);
    }

    /// <summary>Area under the ROC curve of one binary problem (trapezoids over distinct thresholds; ties count half). NaN if one class is absent.</summary>
    public static double RocAuc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> positive)
    {
        int n = scores.Length;
        var s = scores.ToArray();
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => s[b].CompareTo(s[a]));
        long p = 0, q = 0;
        foreach (var v in positive) if (v) p++; else q++;
        if (p == 0 || q == 0) return double.NaN;
        double auc = 0;
        long tp = 0, fp = 0, prevTp = 0, prevFp = 0;
        for (int i = 0; i < n; i++)
        {
            if (positive[order[i]]) tp++; else fp++;
            if (i + 1 < n && s[order[i + 1]] == s[order[i]]) continue;
            auc += (double)(fp - prevFp) * (tp + prevTp) / 2;
            prevTp = tp;
            prevFp = fp;
        }
        return auc / ((double)p * q);
    }

    /// <summary>One-vs-rest ROC-AUC per class and their unweighted mean (classes absent from the truth are skipped).</summary>
    public static (double[] PerClass, double Macro) RocAucOneVsRest(float[] scores, int classes, ReadOnlySpan<long> truth)
    {
        int n = truth.Length;
        var per = new double[classes];
        var col = new float[n];
        var pos = new bool[n];
        double sum = 0;
        int counted = 0;
        for (int c = 0; c < classes; c++)
        {
            for (int i = 0; i < n; i++) { col[i] = scores[i * classes + c]; pos[i] = truth[i] == c; }
            per[c] = RocAuc(col, pos);
            if (!double.IsNaN(per[c])) { sum += per[c]; counted++; }
        }
        return (per, counted == 0 ? double.NaN : sum / counted);
    }
}
