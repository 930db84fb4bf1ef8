// Line charts (training curves) and heatmaps (confusion matrices) as PNG.
using System.Globalization;

namespace Cuda.Nn.Plot;

public static class Charts
{
    private static readonly (byte, byte, byte)[] Palette = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)];
    private static readonly (byte, byte, byte) Ink = (40, 40, 40), Grid = (225, 225, 225);

    /// <summary>One panel with several named series over x = 1..n.</summary>
    public static void DrawLines(Canvas c, int x0, int y0, int w, int h, string title, IReadOnlyList<(string Name, double[] Values)> series)
    {
        var all = series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        double lo = all.Length == 0 ? 0 : all.Min(), hi = all.Length == 0 ? 1 : all.Max();
        if (hi - lo < 1e-12) { hi += 0.5; lo -= 0.5; }
        double pad = (hi - lo) * 0.05;
        lo -= pad; hi += pad;
        int n = series.Max(s => s.Values.Length);
        int left = x0 + 60, right = x0 + w - 10, top = y0 + 24, bottom = y0 + h - 30;
        c.Text(x0 + (w - Canvas.TextWidth(title, 2)) / 2, y0 + 2, title, Ink, 2);
        for (int i = 0; i <= 4; i++)
        {
            int y = bottom - (bottom - top) * i / 4;
            c.Line(left, y, right, y, Grid);
            c.Text(x0 + 2, y - 3, (lo + (hi - lo) * i / 4).ToString("G3", CultureInfo.InvariantCulture), Ink);
        }
        c.Line(left, top, left, bottom, Ink);
        c.Line(left, bottom, right, bottom, Ink);
        for (int e = 1; e <= n; e++)
        {
            int x = n == 1 ? (left + right) / 2 : left + (right - left) * (e - 1) / (n - 1);
            c.Text(x - 3, bottom + 6, e.ToString(CultureInfo.InvariantCulture), Ink);
        }
        for (int s = 0; s < series.Count; s++)
        {
            var (name, v) = series[s];
            var col = Palette[s % Palette.Length];
            int Px(int i) => v.Length == 1 ? (left + right) / 2 : left + (right - left) * i / Math.Max(1, n - 1);
            int Py(double val) => bottom - (int)((val - lo) / (hi - lo) * (bottom - top));
            for (int i = 0; i < v.Length; i++)
            {
                if (!double.IsFinite(v[i])) continue;
                c.FillRect(Px(i) - 2, Py(v[i]) - 2, 5, 5, col);
                if (i > 0 && double.IsFinite(v[i - 1])) c.Line(Px(i - 1), Py(v[i - 1]), Px(i), Py(v[i]), col, 2);
            }
            c.FillRect(right - 120, top + 4 + 12 * s, 10, 7, col);
            c.Text(right - 106, top + 4 + 12 * s, name, Ink);
        }
        c.Text(left + (right - left) / 2 - 15, bottom + 18, "EPOCH", Ink);
    }

    /// <summary>Horizontal bars (0-100 scale) with labels and values.</summary>
    public static void DrawBars(Canvas c, string title, IReadOnlyList<(string Label, double Value)> bars)
    {
        c.Text(10, 8, title, Ink, 2);
        int labelW = Math.Min(16, bars.Count == 0 ? 0 : bars.Max(b => b.Label.Length)) * 6 + 16;
        int maxW = c.Width - labelW - 70;
        for (int i = 0; i < bars.Count; i++)
        {
            var (label, v) = bars[i];
            int y = 40 + 22 * i;
            c.Text(6, y + 4, label.Length > 16 ? label[..16] : label, Ink);
            int w = (int)(Math.Clamp(v, 0, 100) / 100 * maxW);
            c.FillRect(labelW, y, w, 15, Palette[0]);
            c.Text(labelW + w + 6, y + 4, v.ToString("F1", CultureInfo.InvariantCulture), Ink);
        }
    }

    /// <summary>Row-normalised confusion matrix heatmap with counts and class names.</summary>
    public static Canvas ConfusionHeatmap(long[,] counts, IReadOnlyList<string> classNames, string title = "CONFUSION MATRIX")
    {
        int k = counts.GetLength(0);
        int cell = Math.Clamp(640 / Math.Max(1, k), 24, 64);
        int label = (Math.Min(16, classNames.Count == 0 ? 4 : classNames.Max(n => n.Length)) + 3) * 6 + 10;
        var c = new Canvas(Math.Max(420, label + k * cell + 20), 60 + k * cell + 30);
        c.Text(10, 8, title, Ink, 2);
        int gx = label, gy = 60;
        for (int i = 0; i < k; i++)
        {
            long row = 0;
            for (int j = 0; j < k; j++) row += counts[i, j];
            for (int j = 0; j < k; j++)
            {
                double f = row == 0 ? 0 : (double)counts[i, j] / row;
                byte shade = (byte)(255 - 200 * f);
                var bg = ((byte)(shade / 2 + 20), (byte)(shade * 0.8 + 30), (byte)255);
                c.FillRect(gx + j * cell, gy + i * cell, cell - 1, cell - 1, bg);
                var txt = counts[i, j].ToString(CultureInfo.InvariantCulture);
                c.Text(gx + j * cell + (cell - Canvas.TextWidth(txt)) / 2, gy + i * cell + cell / 2 - 3, txt, f > 0.5 ? ((byte)255, (byte)255, (byte)255) : Ink);
            }
            var name = $"{i} {Short(classNames, i)}";
            c.Text(4, gy + i * cell + cell / 2 - 3, name, Ink);
            var idx = i.ToString(CultureInfo.InvariantCulture);
            c.Text(gx + i * cell + (cell - Canvas.TextWidth(idx)) / 2, gy - 12, idx, Ink);
        }
        c.Text(4, gy + k * cell + 10, "ROWS: TRUE CLASS  COLUMNS: PREDICTED", Ink);
        return c;
    }

    private static string Short(IReadOnlyList<string> names, int i)
    {
        var n = i < names.Count ? names[i] : i.ToString(CultureInfo.InvariantCulture);
        return n.Length > 16 ? n[..16] : n;
    }
}
