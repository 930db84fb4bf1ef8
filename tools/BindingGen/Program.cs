// bindgen: regenerates (or, with --check, compares) the C# bindings that specs describe.
//   dotnet run --project tools/BindingGen -c Release -- [--check] [--include SET=DIR]... SPEC.json...
// Without SPEC arguments it takes every tools/BindingGen/specs/*.json whose headers are present.
namespace Cuda.Nn.BindingGen;

public static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            return Run(args, Console.Out);
        }
        catch (BindingGenException e)
        {
            Console.Error.WriteLine($"bindgen: {e.Message}");
            return 1;
        }
    }

    private static int Run(string[] args, TextWriter output)
    {
        bool check = false;
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        var specs = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--check": check = true; break;
                case "--include" when i + 1 < args.Length:
                    var kv = args[++i].Split('=', 2);
                    if (kv.Length != 2) throw new BindingGenException($"--include {args[i]}: expected SET=DIR, e.g. cuda=/path/to/include");
                    overrides[kv[0]] = kv[1];
                    break;
                case "--help" or "-h":
                    output.WriteLine("usage: bindgen [--check] [--include SET=DIR]... [SPEC.json...]");
                    return 0;
                default:
                    if (args[i].StartsWith('-')) throw new BindingGenException($"unknown option {args[i]} (see --help)");
                    specs.Add(args[i]);
                    break;
            }
        }
        if (LibClangLoader.UnavailableReason() is { } noClang) throw new BindingGenException(noClang);
        bool explicitSpecs = specs.Count > 0;
        if (!explicitSpecs) specs.AddRange(Directory.GetFiles(Path.Combine(FindRepositoryRoot(), "tools", "BindingGen", "specs"), "*.json").Order(StringComparer.Ordinal));

        int failures = 0;
        foreach (var path in specs)
        {
            var spec = BindingSpec.Load(path);
            var (dirs, missing) = ResolveIncludes(spec, overrides);
            if (missing is not null)
            {
                if (explicitSpecs) throw new BindingGenException($"{spec.SourcePath}: {missing}");
                output.WriteLine($"skipped {spec.RelativeSourcePath()}: {missing}");
                continue;
            }
            var generated = BindingGenerator.Generate(spec, dirs);
            string target = Path.Combine(spec.RepositoryRoot(), spec.Output);
            string summary = $"{generated.Functions.Count} functions, {generated.Enums.Count} enums, {generated.StructSizes.Count} structs";
            if (check)
            {
                bool same = File.Exists(target) && File.ReadAllText(target) == generated.Text;
                output.WriteLine($"{(same ? "up to date" : "DIFFERS")}: {spec.Output} ({summary})");
                if (!same) failures++;
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.WriteAllText(target, generated.Text);
                output.WriteLine($"wrote {spec.Output} ({summary})");
            }
        }
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The include folders of a spec's sets, in order, or why one is missing.</summary>
    public static (List<string> Dirs, string? Missing) ResolveIncludes(BindingSpec spec, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var dirs = new List<string>();
        foreach (var set in spec.Includes)
        {
            if (overrides is not null && overrides.TryGetValue(set, out var dir)) { dirs.Add(dir); continue; }
            var (found, missing) = HeaderLocator.Resolve(set, spec.RepositoryRoot());
            if (found is null) return ([], missing);
            dirs.Add(found);
        }
        return (dirs, null);
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = Directory.GetCurrentDirectory(); dir is not null; dir = Path.GetDirectoryName(dir))
            if (File.Exists(Path.Combine(dir, "Cuda.Nn.sln"))) return dir;
        throw new BindingGenException("run bindgen inside the repository (no Cuda.Nn.sln above the current folder), or name the spec files");
    }
}
