// Access to the PyTorch reference fixtures in ../shared/oracle (next to the repository root): locating
// them, enumerating a file's cases (metadata keys c0, c1, ... in order), parsing a case's parameters and
// loading a case's role as a tensor of the stored dtype and shape. Fixture data is never copied here.
using System.Text.Json;

namespace Cuda.Nn.Tests.Support;

public sealed class OracleFixture : IDisposable
{
    /// <summary>The case id used by theories when the fixtures are absent (the test then skips visibly).</summary>
    public const string Missing = "(oracle fixtures not found)";

    private static readonly Lazy<string?> Dir = new(Locate);
    private readonly Cuda.Nn.IO.SafeTensorsFile _file;

    public string FileName { get; }
    public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;
    /// <summary>Case ids c0, c1, ... present in the metadata, in order.</summary>
    public IReadOnlyList<string> Cases { get; }

    private OracleFixture(string fileName, Cuda.Nn.IO.SafeTensorsFile file)
    {
        FileName = fileName;
        _file = file;
        var cases = new List<string>();
        for (int i = 0; Metadata.ContainsKey($"c{i}"); i++) cases.Add($"c{i}");
        Cases = cases;
    }

    /// <summary>The oracle folder: walk up from the test binary to the folder holding Cuda.Nn.sln, then ../shared/oracle.</summary>
    public static string? Directory => Dir.Value;

    /// <summary>Where the fixtures are expected (for skip messages).</summary>
    public static string ExpectedDirectory
    {
        get
        {
            var root = RepoRoot();
            return root is null ? "../shared/oracle next to the folder containing Cuda.Nn.sln (no such folder above " + AppContext.BaseDirectory + ")"
                                : Path.GetFullPath(Path.Combine(root, "..", "shared", "oracle"));
        }
    }

    private static string SkipMessage(string fileName) => $"oracle fixtures not found at {ExpectedDirectory} (looking for {fileName})";

    internal static string? RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Cuda.Nn.sln"))) return d.FullName;
        return null;
    }

    private static string? Locate()
    {
        var root = RepoRoot();
        if (root is null) return null;
        var dir = Path.GetFullPath(Path.Combine(root, "..", "shared", "oracle"));
        return System.IO.Directory.Exists(dir) ? dir : null;
    }

    /// <summary>Opens a fixture file, or skips the calling test (visibly) when the fixtures are absent.</summary>
    public static OracleFixture Open(string fileName)
    {
        var path = Directory is { } d ? Path.Combine(d, fileName) : null;
        if (path is null || !File.Exists(path))
            Assert.Skip(SkipMessage(fileName));
        return new OracleFixture(fileName, Cuda.Nn.IO.SafeTensorsFile.Open(path!));
    }

    /// <summary>Theory data: the case ids of a file, or the single <see cref="Missing"/> marker when it is absent.</summary>
    public static TheoryData<string> CaseIds(string fileName)
    {
        var data = new TheoryData<string>();
        var path = Directory is { } d ? Path.Combine(d, fileName) : null;
        if (path is null || !File.Exists(path)) { data.Add(Missing); return data; }
        using var f = new OracleFixture(fileName, Cuda.Nn.IO.SafeTensorsFile.Open(path));
        foreach (var c in f.Cases) data.Add(c);
        if (f.Cases.Count == 0) data.Add(Missing);
        return data;
    }

    /// <summary>Opens the file for one theory case (skipping when the fixtures are absent).</summary>
    public static OracleFixture OpenCase(string fileName, string caseId)
    {
        if (caseId == Missing) Assert.Skip(SkipMessage(fileName));
        var f = Open(fileName);
        Assert.True(f.Metadata.ContainsKey(caseId), $"{fileName}: no metadata for case {caseId}");
        return f;
    }

    /// <summary>The case's parameters (its metadata JSON string, parsed).</summary>
    public JsonElement Params(string caseId)
    {
        if (!Metadata.TryGetValue(caseId, out var json)) throw new KeyNotFoundException($"{FileName}: no metadata for case {caseId}");
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    /// <summary>The case's parameters, tracking which keys the test reads (see <see cref="CaseParams"/>).</summary>
    public CaseParams Case(string caseId) => new(Params(caseId), Describe(caseId));

    /// <summary>"file case (op)" for messages.</summary>
    public string Describe(string caseId)
    {
        var p = Params(caseId);
        string op = p.TryGetProperty("op", out var o) ? o.GetString() ?? "?" : "?";
        return $"{FileName} {caseId} ({op})";
    }

    public bool Has(string caseId, string role) => _file.Contains($"{caseId}.{role}");

    /// <summary>Roles stored for a case (the names after "case.").</summary>
    public IEnumerable<string> Roles(string caseId) => _file.Entries.Select(e => e.Name).Where(n => n.StartsWith(caseId + ".", StringComparison.Ordinal)).Select(n => n[(caseId.Length + 1)..]);

    /// <summary>The case stores exactly these roles: none the test would leave unchecked, none it expects missing.</summary>
    public void AssertRoles(string caseId, params IEnumerable<string> expected)
    {
        var want = expected.ToHashSet(StringComparer.Ordinal);
        var have = Roles(caseId).ToHashSet(StringComparer.Ordinal);
        var extra = have.Except(want).Order(StringComparer.Ordinal).ToList();
        var missing = want.Except(have).Order(StringComparer.Ordinal).ToList();
        Assert.True(extra.Count == 0 && missing.Count == 0,
            $"{FileName} {caseId}: roles the test does not check [{string.Join(", ", extra)}], roles it expects but the file lacks [{string.Join(", ", missing)}]");
    }

    /// <summary>Every case prefix that tensor names use (to check that metadata lists them all).</summary>
    public IEnumerable<string> TensorCases() => _file.Entries.Select(e => e.Name).Select(n => n.Split('.')[0]).Distinct();

    /// <summary>Loads case.role as a CPU tensor of the stored dtype (F32, F16, I64, ...) and shape.</summary>
    public Tensor Load(string caseId, string role)
    {
        var name = $"{caseId}.{role}";
        if (!_file.Contains(name)) throw new KeyNotFoundException($"{FileName}: no tensor {name} (roles of {caseId}: {string.Join(", ", Roles(caseId))})");
        var e = _file[name];
        return Cuda.Nn.IO.TensorFile.ToTensor(_file, name, e.DType, e.Shape);
    }

    public void Dispose() => _file.Dispose();
}
