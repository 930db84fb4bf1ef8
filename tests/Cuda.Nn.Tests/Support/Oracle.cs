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

    /// <summary>The case's parameters, tracking which keys the test reads (see <see cref="CaseParams"/>).</summary>
    public static CaseParams Case(SafeTensorsFile f, string c) => new(Params(f, c), $"{Path.GetFileName(f.Source)} {c}");

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

    /// <summary>The roles stored for a case (the tensor names after "case.").</summary>
    public static IEnumerable<string> Roles(SafeTensorsFile f, string c) =>
        f.Entries.Select(e => e.Name).Where(n => n.StartsWith(c + ".", StringComparison.Ordinal)).Select(n => n[(c.Length + 1)..]);

    /// <summary>The case stores exactly these roles: none the test would leave unchecked, none it expects missing.</summary>
    public static void AssertRoles(SafeTensorsFile f, string c, IEnumerable<string> expected)
    {
        var want = expected.ToHashSet(StringComparer.Ordinal);
        var have = Roles(f, c).ToHashSet(StringComparer.Ordinal);
        var extra = have.Except(want).Order().ToList();
        var missing = want.Except(have).Order().ToList();
        Assert.True(extra.Count == 0 && missing.Count == 0,
            $"{Path.GetFileName(f.Source)} {c}: roles the test does not check [{string.Join(", ", extra)}], roles it expects but the file lacks [{string.Join(", ", missing)}]");
    }

    public static void AssertClose(Tensor actual, Tensor expected, double atol, double rtol, string what) =>
        TensorAssert.AssertClose(actual, expected, atol, rtol, what);

    public static void AssertRelNorm(Tensor actual, Tensor expected, double tol, string what) =>
        TensorAssert.AssertRelNorm(actual, expected, tol, what);
}
