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

    /// <summary>The model and num_classes of a model file's "architecture" metadata, torchvision.models.NAME(num_classes=K).</summary>
    public static (string Name, int NumClasses) Architecture(SafeTensorsFile f)
    {
        var a = f.Metadata["architecture"];
        var m = System.Text.RegularExpressions.Regex.Match(a, @"^torchvision\.models\.(\w+)\(num_classes=(\d+)\)$");
        Assert.True(m.Success, $"architecture '{a}' is not torchvision.models.NAME(num_classes=K)");
        return (m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>A case's role as a new tensor (caller disposes), with the file's dtype and shape.</summary>
    public static Tensor Load(SafeTensorsFile f, string name)
    {
        var e = f[name];
        return TensorFile.ToTensor(f, name, e.DType, e.Shape);
    }

    public static void AssertClose(Tensor actual, Tensor expected, double atol, double rtol, string what) =>
        TensorAssert.AssertClose(actual, expected, atol, rtol, what);

    public static void AssertRelNorm(Tensor actual, Tensor expected, double tol, string what) =>
        TensorAssert.AssertRelNorm(actual, expected, tol, what);
}
