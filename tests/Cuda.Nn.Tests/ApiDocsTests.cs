// docs/api is generated from the XML comments (tools/ApiDocs): it must be what the comments give now, and every
// comment on a public type's member must reach the page (a documentation ID built wrongly would drop it silently).
using Cuda.Nn.ApiDocs;

namespace Cuda.Nn.Tests;

public class ApiDocsTests
{
    [Fact]
    public void TheApiReferenceIsWhatTheXmlCommentsGive()
    {
        var root = Support.OracleFixture.RepoRoot() ?? throw new DirectoryNotFoundException("no folder holding Cuda.Nn.sln above the test binary");
        foreach (var (assembly, page) in ApiPages.All(AppContext.BaseDirectory))
        {
            string name = assembly.GetName().Name!, path = Path.Combine(root, "docs", "api", name + ".md");
            Assert.True(File.Exists(path), $"{path} is missing: run dotnet run --project tools/ApiDocs -c Release -- --write");
            Assert.True(File.ReadAllText(path) == page.Text, $"{path} differs from the XML comments: run dotnet run --project tools/ApiDocs -c Release -- --write");
            Assert.Contains("### class Tensor", ApiPages.All(AppContext.BaseDirectory).First().Page.Text);
            var unmatched = ApiReference.Unmatched(assembly, Path.Combine(AppContext.BaseDirectory, name + ".xml"));
            Assert.True(unmatched.Count == 0, $"{name}: XML comments whose documentation ID matches no member: {string.Join(", ", unmatched.Take(10))}");
        }
    }
}
