// The cudann command as a user runs it: a child process of the cudann.dll built beside the tests.
using System.Diagnostics;

namespace Cuda.Nn.Tests;

internal static class CudannProcess
{
    /// <summary>Runs the cudann command built beside the tests; returns its exit code and output.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args) => RunWith(null, args);

    /// <summary>Runs cudann with extra environment variables (CUDANN_FAULT for crash tests).</summary>
    public static (int Code, string Out, string Err) RunWith(IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cudann.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); throw new TimeoutException($"cudann {string.Join(' ', args)} did not finish in 5 minutes"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string Ok(params string[] args)
    {
        var (code, o, e) = Run(args);
        Assert.True(code == 0, $"cudann {string.Join(' ', args)} exited {code}: {e}\n{o}");
        return o;
    }
}
