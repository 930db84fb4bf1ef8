using Cuda.Nn.Metrics;

namespace Cuda.Nn.Tests;

public class MetricsTests
{
    // The worked example from scikit-learn's precision_recall_fscore_support documentation.
    private static readonly long[] Truth = [0, 1, 2, 0, 1, 2];
    private static readonly long[] Pred = [0, 2, 1, 0, 0, 1];

    [Fact]
    public void ReportMatchesScikitLearnWorkedExample()
    {
        var r = ClassificationMetrics.Report(Truth, Pred, 3);
        Assert.Equal(2.0 / 6, r.Accuracy, 12);
        Assert.Equal(2.0 / 9, r.MacroPrecision, 12);   // sklearn: 0.222...
        Assert.Equal(1.0 / 3, r.MacroRecall, 12);
        Assert.Equal(4.0 / 15, r.MacroF1, 12);         // sklearn: 0.2666...
        Assert.Equal(1.0 / 3, r.MicroF1, 12);
        Assert.Equal(4.0 / 15, r.WeightedF1, 12);
        Assert.Equal(2, r.Confusion[0, 0]);
        Assert.Equal(1, r.Confusion[1, 0]);
        Assert.Equal(1, r.Confusion[1, 2]);
        Assert.Equal(2, r.Confusion[2, 1]);
        var norm = ClassificationMetrics.Normalize(r.Confusion);
        Assert.Equal(0.5, norm[1, 0]);
    }

    [Fact]
    public void EmptyClassesContributeZeroInsteadOfNaN()
    {
        var r = ClassificationMetrics.Report([0L, 0, 1], [0L, 0, 0], 3);
        Assert.Equal(0, r.PerClass[2].Support);
        Assert.Equal(0, r.PerClass[2].Precision);
        Assert.Equal(0, r.PerClass[1].Recall);
        Assert.Equal((2.0 / 3 + 0 + 0) / 3, r.MacroPrecision, 12);
    }

    [Fact]
    public void TopKCountsTiesByIndex()
    {
        float[] scores = [0.1f, 0.5f, 0.4f, /* row 2 */ 0.3f, 0.3f, 0.3f];
        Assert.Equal(0.0, ClassificationMetrics.TopKAccuracy(scores, 3, [2L, 2], 1));
        Assert.Equal(0.5, ClassificationMetrics.TopKAccuracy(scores, 3, [2L, 2], 2)); // row 2: classes 0 and 1 win the tie
        Assert.Equal(1.0, ClassificationMetrics.TopKAccuracy(scores, 3, [2L, 2], 3));
    }

    [Fact]
    public void AveragePrecisionAndAucMatchScikitLearnExamples()
    {
        float[] s = [0.1f, 0.4f, 0.35f, 0.8f];
        bool[] y = [false, false, true, true];
        Assert.Equal(0.8333333333333333, ClassificationMetrics.AveragePrecision(s, y), 12); // average_precision_score docs
        Assert.Equal(0.75, ClassificationMetrics.RocAuc(s, y), 12);                          // roc_auc_score docs
        Assert.Equal(0.5, ClassificationMetrics.AveragePrecision([0.5f, 0.5f], [true, false]), 12); // one tied threshold
        Assert.True(double.IsNaN(ClassificationMetrics.AveragePrecision([0.5f], [false])));
    }

    [Fact]
    public void MeanAveragePrecisionSkipsLabelsWithoutPositives()
    {
        float[] scores = [0.9f, 0.1f, 0.2f, 0.8f, 0.3f, 0.7f];
        bool[] targets = [true, false, false, false, true, false];
        var (per, mean) = ClassificationMetrics.MeanAveragePrecision(scores, targets, 2);
        Assert.Equal(1.0, per[0], 12);
        Assert.True(double.IsNaN(per[1]));
        Assert.Equal(1.0, mean, 12);
    }
}
