using System.Text.Json;
using Cuda.Nn.IO;

namespace Cuda.Nn.Tests.Support;

/// <summary>Finds ../shared/oracle beside the checkout and loads its cases as tensors.</summary>
public static class Oracle
{
    public static string? Directory => OracleFixture.Directory;

    /// <summary>Opens an oracle file, or skips the test visibly when the fixtures are absent.</summary>
    public static SafeTensorsFile Open(string file)
    {
        if (Directory is null) Assert.Skip("oracle fixtures not found at ../shared/oracle beside the checkout");
        return SafeTensorsFile.Open(Path.Combine(Directory!, file));
    }

    public static IEnumerable<string> Cases(SafeTensorsFile f) =>
        f.Metadata.Keys.Where(k => k.Length > 1 && k[0] == 'c' && k[1..].All(char.IsDigit)).OrderBy(k => int.Parse(k[1..], System.Globalization.CultureInfo.InvariantCulture));

    public static JsonElement Params(SafeTensorsFile f, string c) => JsonDocument.Parse(f.Metadata[c]).RootElement;

    /// <summary>A case's role as a new tensor (caller disposes), with the file's dtype and shape.</summary>
    public static Tensor Load(SafeTensorsFile f, string name)
    {
        var e = f[name];
        return TensorFile.ToTensor(f, name, e.DType, e.Shape);
    }

    /// <summary>|a - r| &lt;= atol + rtol |r| elementwise, with a message naming the worst element.</summary>
    public static void AssertClose(Tensor actual, Tensor expected, double atol, double rtol, string what)
    {
        Assert.True(actual.Shape.SequenceEqual(expected.Shape), $"{what}: shape {string.Join("x", actual.Shape)} vs expected {string.Join("x", expected.Shape)}");
        var a = actual.ToDoubleArray();
        var r = expected.ToDoubleArray();
        int worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double tol = atol + rtol * Math.Abs(r[i]);
            double err = Math.Abs(a[i] - r[i]);
            if (double.IsNaN(a[i]) != double.IsNaN(r[i])) { worst = i; worstRatio = double.PositiveInfinity; break; }
            if (!double.IsNaN(a[i]) && err / tol > worstRatio) { worstRatio = err / tol; worst = i; }
        }
        Assert.True(worstRatio <= 1, $"{what}: element {worst} is {(worst >= 0 ? a[worst] : 0)}, expected {(worst >= 0 ? r[worst] : 0)} (tolerance {atol} + {rtol}|r|, {worstRatio:F2}x over)");
    }

    /// <summary>||a - r|| / ||r|| &lt;= tol.</summary>
    public static void AssertRelNorm(Tensor actual, Tensor expected, double tol, string what)
    {
        var a = actual.ToDoubleArray();
        var r = expected.ToDoubleArray();
        Assert.Equal(r.Length, a.Length);
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++) { num += (a[i] - r[i]) * (a[i] - r[i]); den += r[i] * r[i]; }
        double rel = Math.Sqrt(num) / Math.Max(1e-30, Math.Sqrt(den));
        Assert.True(rel <= tol, $"{what}: relative norm error {rel:E3} exceeds {tol:E1}");
    }
}
