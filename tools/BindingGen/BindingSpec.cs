// A per-library description: which header, which functions/enums/structs to emit, into which C# class and
// file, loaded from a small JSON file (tools/BindingGen/specs/*.json). Errors name the spec file and the key.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cuda.Nn.BindingGen;

public sealed class BindingSpec
{
    /// <summary>The header to parse, found in the first include folder that has it (e.g. "cuda.h").</summary>
    public string Header { get; set; } = "";

    /// <summary>
    /// Include folder sets, in order: "cuda" (CUDA 11.8 toolkit headers), "cuda-runtime" (the CUDA runtime headers other
    /// libraries include), "cudnn" (cuDNN 9), or "repo:PATH" (a folder of this repository, e.g. a shim header).
    /// <see cref="HeaderLocator"/> resolves them.
    /// </summary>
    public List<string> Includes { get; set; } = [];

    /// <summary>Macros recorded in the head comment: "NAME" from the parsed header, or "other.h:NAME".</summary>
    public List<string> VersionMacros { get; set; } = [];

    /// <summary>Extra preprocessor definitions ("NAME" or "NAME=VALUE").</summary>
    public List<string> Defines { get; set; } = [];

    public string Namespace { get; set; } = "";
    /// <summary>The static partial class that receives the declarations; a hand-written part may add to it.</summary>
    public string Class { get; set; } = "";
    /// <summary>A C# constant expression naming the import, e.g. NativeLibraryResolver.DriverImport ...</summary>
    public string? LibraryConstant { get; set; }
    /// <summary>... or a plain library name, emitted as a string literal.</summary>
    public string? LibraryName { get; set; }
    /// <summary>A C# expression the class's static constructor runs before any import is bound (e.g. installing a resolver).</summary>
    public string? Initializer { get; set; }
    /// <summary>"internal" (default) or "public", for the class, enums and structs.</summary>
    public string Visibility { get; set; } = "internal";
    /// <summary>Output file, relative to the repository root.</summary>
    public string Output { get; set; } = "";

    /// <summary>
    /// Emit every function, enum and struct whose C name starts with this and that is declared in the header itself
    /// (not in what it includes), besides the explicit lists: how a library's own shim header is bound whole.
    /// </summary>
    public string? Prefix { get; set; }

    /// <summary>
    /// "name" or "name out:param ref:param param=type": out/ref turn a T* parameter into out T / ref T; param=type
    /// replaces a pointer parameter by another 8-byte blittable type (ulong for a device pointer, nint*).
    /// </summary>
    public List<string> Functions { get; set; } = [];
    /// <summary>Enum names (the tag or the typedef).</summary>
    public List<string> Enums { get; set; } = [];
    /// <summary>Struct names (the tag or the typedef).</summary>
    public List<string> Structs { get; set; } = [];

    /// <summary>Where the spec was read from (for messages and relative paths).</summary>
    [JsonIgnore] public string SourcePath { get; set; } = "";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static BindingSpec Load(string path)
    {
        if (!File.Exists(path)) throw new BindingGenException($"{path}: spec file not found");
        BindingSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<BindingSpec>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new BindingGenException($"{path}: {e.Message}");
        }
        if (spec is null) throw new BindingGenException($"{path}: empty spec");
        spec.SourcePath = Path.GetFullPath(path);
        spec.Validate();
        return spec;
    }

    private void Validate()
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new BindingGenException($"{SourcePath}: {what}");
        }
        Require(Header.Length > 0, "\"header\" is required");
        Require(Includes.Count > 0, "\"includes\" needs at least one include folder set (cuda, cuda-runtime, cudnn or repo:PATH)");
        Require(Namespace.Length > 0 && Class.Length > 0, "\"namespace\" and \"class\" are required");
        Require((LibraryConstant is null) != (LibraryName is null), "give exactly one of \"libraryConstant\" and \"libraryName\"");
        Require(Visibility is "internal" or "public", $"\"visibility\" must be internal or public, not {Visibility}");
        Require(Output.EndsWith(".g.cs", StringComparison.Ordinal), $"\"output\" must be a .g.cs file, not '{Output}'");
        Require(Functions.Count + Enums.Count + Structs.Count > 0 || Prefix is not null, "nothing to emit: list functions, enums or structs, or give a prefix");
        foreach (var f in Functions) ParseFunction(f);
    }

    /// <summary>One "functions" entry: the C name and its parameter adjustments.</summary>
    public sealed record FunctionEntry(string Name, IReadOnlyDictionary<string, string> ByRef, IReadOnlyDictionary<string, string> TypeOverrides);

    public FunctionEntry ParseFunction(string entry)
    {
        var parts = entry.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new BindingGenException($"{SourcePath}: empty entry in \"functions\"");
        var byRef = new Dictionary<string, string>();
        var types = new Dictionary<string, string>();
        foreach (var part in parts.Skip(1))
        {
            if (part.StartsWith("out:", StringComparison.Ordinal)) byRef[part[4..]] = "out";
            else if (part.StartsWith("ref:", StringComparison.Ordinal)) byRef[part[4..]] = "ref";
            else if (part.IndexOf('=') is > 0 and var eq) types[part[..eq]] = part[(eq + 1)..];
            else throw new BindingGenException($"{SourcePath}: \"{entry}\": '{part}' is not out:PARAM, ref:PARAM or PARAM=TYPE");
        }
        return new FunctionEntry(parts[0], byRef, types);
    }

    /// <summary>SHA-256 of the spec's settings (not its comments or layout): what the head comment records.</summary>
    public string ContentHash() =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(this, Json)));

    /// <summary>The repository root: the nearest folder above the spec holding Cuda.Nn.sln.</summary>
    public string RepositoryRoot()
    {
        for (var dir = Path.GetDirectoryName(SourcePath); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "Cuda.Nn.sln"))) return dir;
        throw new BindingGenException($"{SourcePath}: no Cuda.Nn.sln above the spec file, so \"output\" and repo: includes cannot be resolved");
    }

    /// <summary>The spec's path relative to the repository root, with forward slashes (for the head comment).</summary>
    public string RelativeSourcePath() => Path.GetRelativePath(RepositoryRoot(), SourcePath).Replace('\\', '/');
}

/// <summary>A generator error: one line naming the spec, header or declaration at fault.</summary>
public sealed class BindingGenException(string message) : Exception(message);
