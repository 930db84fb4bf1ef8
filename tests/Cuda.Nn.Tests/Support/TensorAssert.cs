// Tensor comparisons whose failure messages say what was compared, where it is worst, and by how much.
using System.Globalization;
using System.Text;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests.Support;

public static class TensorAssert
{
    /// <summary>
    /// Elementwise |a - r| &lt;= atol + rtol |r| (NaN matches NaN, infinities must match exactly). `what` names the
    /// comparison (file, case, op, role); the message gives the worst index, both values and the tolerance.
    /// </summary>
    public static void AssertClose(Tensor actual, Tensor expected, double atol, double rtol, string what)
    {
        CheckShape(actual, expected, what);
        var a = actual.ToDoubleArray();
        var r = expected.ToDoubleArray();
        int bad = 0, worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double ratio;
            if (double.IsNaN(r[i]) || double.IsNaN(a[i])) ratio = double.IsNaN(r[i]) && double.IsNaN(a[i]) ? 0 : double.PositiveInfinity;
            else if (double.IsInfinity(r[i]) || double.IsInfinity(a[i])) ratio = a[i] == r[i] ? 0 : double.PositiveInfinity;
            else
            {
                double diff = Math.Abs(a[i] - r[i]), tol = atol + rtol * Math.Abs(r[i]);
                ratio = tol > 0 ? diff / tol : diff == 0 ? 0 : double.PositiveInfinity;
            }
            if (ratio > 1) bad++;
            if (ratio > worstRatio || worst < 0) { worstRatio = ratio; worst = i; }
        }
        if (bad == 0) return;
        var shape = expected.Shape;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{what}: {bad} of {a.Length} elements differ beyond |a - r| <= {atol:G3} + {rtol:G3}|r|. ");
        sb.Append(CultureInfo.InvariantCulture, $"Worst at {GradCheck.IndexString(shape, worst)} (flat {worst}): actual {a[worst]:R}, expected {r[worst]:R}, ");
        sb.Append(CultureInfo.InvariantCulture, $"|diff| {Math.Abs(a[worst] - r[worst]):E3}, tolerance {atol + rtol * Math.Abs(r[worst]):E3} (ratio {worstRatio:G3}).");
        int shown = 0;
        for (int i = 0; i < a.Length && shown < 5; i++)
        {
            double tol = atol + rtol * Math.Abs(r[i]);
            bool ok = double.IsNaN(r[i]) ? double.IsNaN(a[i]) : (double.IsInfinity(r[i]) || double.IsInfinity(a[i])) ? a[i] == r[i] : Math.Abs(a[i] - r[i]) <= tol;
            if (ok || i == worst) continue;
            sb.Append(CultureInfo.InvariantCulture, $"\n  also {GradCheck.IndexString(shape, i)}: actual {a[i]:R}, expected {r[i]:R}");
            shown++;
        }
        Assert.Fail(sb.ToString());
    }

    /// <summary>||a - r|| / ||r|| &lt;= tol (Euclidean norms), for large reductions whose entries may be near 0.</summary>
    public static void AssertRelNorm(Tensor actual, Tensor expected, double tol, string what)
    {
        CheckShape(actual, expected, what);
        var a = actual.ToDoubleArray();
        var r = expected.ToDoubleArray();
        double num = 0, den = 0, worstDiff = -1;
        int worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - r[i];
            num += d * d;
            den += r[i] * r[i];
            if (!(Math.Abs(d) <= worstDiff)) { worstDiff = Math.Abs(d); worst = i; }
        }
        double rel = Math.Sqrt(num) / Math.Sqrt(den);
        if (rel <= tol || (den == 0 && num == 0)) return;
        Assert.Fail(string.Create(CultureInfo.InvariantCulture,
            $"{what}: relative error ||a - r|| / ||r|| = {rel:E3} > {tol:G3}. Largest difference at {GradCheck.IndexString(expected.Shape, worst)}: actual {a[worst]:R}, expected {r[worst]:R}."));
    }

    /// <summary>Same shape and dtype and identical bytes (NaN payloads and signed zeros included).</summary>
    public static void AssertBitExact(Tensor actual, Tensor expected, string what)
    {
        CheckShape(actual, expected, what);
        Assert.True(actual.DType == expected.DType, $"{what}: dtype {actual.DType}, expected {expected.DType}");
        ulong[] a = Bits(actual), r = Bits(expected);
        var bad = new List<int>();
        for (int i = 0; i < a.Length; i++) if (a[i] != r[i]) bad.Add(i);
        if (bad.Count == 0) return;
        var src = actual.ToDoubleArray();
        var exp = expected.ToDoubleArray();
        int hex = actual.DType.SizeOf() * 2;
        var lines = bad.Take(8).Select(i => string.Create(CultureInfo.InvariantCulture,
            $"  [{i}] actual 0x{a[i].ToString("X" + hex)} ({src[i]:R}), expected 0x{r[i].ToString("X" + hex)} ({exp[i]:R})"));
        Assert.Fail($"{what}: {bad.Count} of {a.Length} elements differ bitwise:\n" + string.Join("\n", lines));
    }

    private static ulong[] Bits(Tensor t) => t.DType switch
    {
        DType.F32 => t.ToArray<float>().Select(v => (ulong)BitConverter.SingleToUInt32Bits(v)).ToArray(),
        DType.F64 => t.ToArray<double>().Select(BitConverter.DoubleToUInt64Bits).ToArray(),
        DType.F16 => t.ToArray<Half>().Select(v => (ulong)BitConverter.HalfToUInt16Bits(v)).ToArray(),
        DType.I64 => t.ToArray<long>().Select(v => (ulong)v).ToArray(),
        _ => throw new NotSupportedException($"bit comparison of {t.DType}"),
    };

    private static void CheckShape(Tensor actual, Tensor expected, string what)
    {
        if (!actual.Shape.AsSpan().SequenceEqual(expected.Shape))
            Assert.Fail($"{what}: shape [{string.Join(",", actual.Shape)}], expected [{string.Join(",", expected.Shape)}]");
    }
}
