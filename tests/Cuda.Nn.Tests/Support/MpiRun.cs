// Starts cudann on N local ranks through Open MPI's mpirun, as a user would; tests skip when mpirun is missing.
using System.Diagnostics;

namespace Cuda.Nn.Tests;

internal static class MpiRun
{
    /// <summary>mpirun on PATH, or null.</summary>
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => System.IO.Path.Join(d, "mpirun")).FirstOrDefault(File.Exists);

    public static void SkipUnlessAvailable()
    {
        if (Path is null) Assert.Skip("mpirun is not on PATH: install Open MPI (apt-get install openmpi-bin libopenmpi-dev; .ci/run does)");
    }

    /// <summary>mpirun -n ranks cudann args... on this machine. --oversubscribe: more ranks than cores is fine here;
    /// --bind-to none: ranks share the cores as the tests' other processes do; root is allowed (CI runs as root).</summary>
    public static (int Code, string Out, string Err) Run(int ranks, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none", "--allow-run-as-root" })
            psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(System.IO.Path.Combine(AppContext.BaseDirectory, "cudann.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            throw new TimeoutException($"mpirun -n {ranks} cudann {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:F0} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
