// apidocs --write | --check: writes (or compares) docs/api/Cuda.Nn.md and docs/api/Cuda.Nn.Kernels.md from the
// assemblies this tool references and their XML documentation files next to them.
namespace Cuda.Nn.ApiDocs;

// A named class rather than top-level statements: the tests reference this tool and bindgen, and two implicit
// Program classes would collide there.
internal static class ApiDocsMain
{
    private static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "--check";
        if (mode is not ("--write" or "--check"))
        {
            Console.Error.WriteLine("usage: apidocs --write | --check  [REPO_ROOT]");
            return 2;
        }
        string root = args.Length > 1 ? args[1] : FindRoot();
        int stale = 0;
        foreach (var (assembly, page) in ApiPages.All(AppContext.BaseDirectory))
        {
            string path = Path.Combine(root, "docs", "api", assembly.GetName().Name + ".md");
            string current = File.Exists(path) ? File.ReadAllText(path) : "";
            if (mode == "--write")
            {
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                if (current != page.Text) File.WriteAllText(path, page.Text);
                Console.WriteLine($"{path}: {page.Documented} of {page.Members} public types and members have a summary");
            }
            else if (current != page.Text)
            {
                Console.Error.WriteLine($"{path} is not what the XML comments give: run dotnet run --project tools/ApiDocs -c Release -- --write");
                stale++;
            }
        }
        return stale == 0 ? 0 : 1;
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Cuda.Nn.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no folder holding Cuda.Nn.sln above the tool; give the repository root");
    }
}
