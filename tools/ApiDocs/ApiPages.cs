using System.Reflection;

namespace Cuda.Nn.ApiDocs;

internal sealed record ApiPage(string Text, int Documented, int Members);

internal static class ApiPages
{
    /// <summary>The two library assemblies, each with its page built from the XML file in binDirectory.</summary>
    public static IEnumerable<(Assembly Assembly, ApiPage Page)> All(string binDirectory)
    {
        foreach (var assembly in new[] { typeof(Tensor).Assembly, typeof(Kernels.IBackend).Assembly })
        {
            string xml = Path.Combine(binDirectory, assembly.GetName().Name + ".xml");
            if (!File.Exists(xml)) throw new FileNotFoundException($"{xml}: the XML documentation file is missing (GenerateDocumentationFile is set in src/Directory.Build.props)", xml);
            var text = ApiReference.Page(assembly, xml, out int documented, out int members);
            yield return (assembly, new ApiPage(text, documented, members));
        }
    }
}
