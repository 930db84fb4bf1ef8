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
        using var p = Process.Start(StartInfo(ranks, null, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(true);
            throw new TimeoutException($"mpirun -n {ranks} cudann {string.Join(' ', args)} did not finish in {timeout.TotalSeconds:F0} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A job whose ranks can be found (fault tests): every rank's environment holds a marker.</summary>
    public sealed class Job : IDisposable
    {
        private readonly Process _p;
        private readonly System.Text.StringBuilder _out = new(), _err = new();
        public string Marker { get; } = Guid.NewGuid().ToString("N");

        public Job(int ranks, params string[] args)
        {
            _p = new Process { StartInfo = StartInfo(ranks, new Dictionary<string, string> { ["CUDANN_TEST_JOB"] = Marker }, args) };
            _p.OutputDataReceived += (_, e) => { lock (_out) _out.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { lock (_err) _err.AppendLine(e.Data); };
            _p.Start();
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Out { get { lock (_out) return _out.ToString(); } }
        public string Err { get { lock (_err) return _err.ToString(); } }

        /// <summary>Waits until stdout holds <paramref name="text"/>; false if the job ended or the time ran out first.</summary>
        public bool WaitForOutput(string text, TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < timeout && !_p.HasExited)
            {
                if (Out.Contains(text, StringComparison.Ordinal)) return true;
                Thread.Sleep(100);
            }
            return Out.Contains(text, StringComparison.Ordinal);
        }

        /// <summary>The pid of the job's rank <paramref name="rank"/>, from the processes' environments.</summary>
        public int? RankPid(int rank)
        {
            foreach (var dir in Directory.GetDirectories("/proc"))
            {
                if (!int.TryParse(System.IO.Path.GetFileName(dir), out int pid)) continue;
                string[] vars;
                try { vars = File.ReadAllText(System.IO.Path.Join(dir, "environ")).Split('\0'); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
                if (vars.Contains($"CUDANN_TEST_JOB={Marker}") && vars.Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            return null;
        }

        /// <summary>Waits for mpirun to end; returns its exit code and how long it took, or null on timeout.</summary>
        public (int Code, TimeSpan Took)? WaitForExit(TimeSpan timeout)
        {
            var sw = Stopwatch.StartNew();
            if (!_p.WaitForExit(timeout)) return null;
            _p.WaitForExit(); // the output readers finish
            return (_p.ExitCode, sw.Elapsed);
        }

        public void Dispose()
        {
            if (!_p.HasExited) _p.Kill(true);
            _p.Dispose();
        }
    }

    private static ProcessStartInfo StartInfo(int ranks, IReadOnlyDictionary<string, string>? env, string[] args)
    {
        var psi = new ProcessStartInfo(Path!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        foreach (var a in new[] { "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none", "--allow-run-as-root" })
            psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(System.IO.Path.Combine(AppContext.BaseDirectory, "cudann.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }
}
