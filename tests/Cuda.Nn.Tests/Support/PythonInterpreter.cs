// python3 for tests that run a script (fixture generators, kernel generators); a test skips, saying why, without one.
namespace Cuda.Nn.Tests;

internal static class PythonInterpreter
{
    private static readonly Lazy<(string? Exe, string Reason)> Found = new(Find);

    private static (string?, string) Find()
    {
        // CUDANN_PYTHON picks another interpreter (or, pointing nowhere, shows the skip).
        if (Environment.GetEnvironmentVariable("CUDANN_PYTHON") is { Length: > 0 } chosen)
            return File.Exists(chosen) ? (chosen, "") : (null, $"CUDANN_PYTHON={chosen} does not exist");
        if (File.Exists("/usr/bin/python3")) return ("/usr/bin/python3", "");
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            if (File.Exists(Path.Combine(dir, "python3"))) return (Path.Combine(dir, "python3"), "");
        return (null, "python3 not found (/usr/bin/python3 or PATH)");
    }

    /// <summary>The interpreter's path, or a skip of the calling test that says what cannot be done without it.</summary>
    public static string RequireOrSkip(string without)
    {
        var (exe, why) = Found.Value;
        if (exe is null) Assert.Skip($"{why}: {without}");
        return exe!;
    }
}
