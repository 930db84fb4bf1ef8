// loss and accuracy curves of a run, as one PNG.
using Cuda.Nn.Plot;

namespace Cuda.Nn.Training;

public static class Curves
{
    public static void Write(string path, IReadOnlyList<EpochMetrics> history)
    {
        if (history.Count == 0) return;
        var c = new Canvas(900, 360);
        Charts.DrawLines(c, 0, 0, 450, 360, "LOSS", [("TRAIN", history.Select(h => h.TrainLoss).ToArray()), ("TEST", history.Select(h => h.TestLoss).ToArray())]);
        Charts.DrawLines(c, 450, 0, 450, 360, "ACCURACY %", [("TRAIN", history.Select(h => h.TrainAccuracy * 100).ToArray()), ("TEST", history.Select(h => h.TestAccuracy * 100).ToArray())]);
        c.Save(path);
    }
}
