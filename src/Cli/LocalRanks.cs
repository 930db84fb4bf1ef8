// cudann train --nproc N: starts this same command on N local ranks through Open MPI's mpirun, for users who do not
// want to write the mpirun line themselves. The ranks then find each other as under any mpirun (docs/distributed.md).
using System.Diagnostics;

namespace Cuda.Nn.Cli;

public static class LocalRanks
{
    /// <summary>mpirun's arguments for N ranks on this machine, then the command line that starts cudann again.</summary>
    public static List<string> MpirunArguments(int ranks, bool root, IReadOnlyList<string> cudann)
    {
        // --oversubscribe: N may exceed the cores mpirun counts; --bind-to none: the ranks share the cores, and each
        // takes cores / N threads by default.
        var args = new List<string> { "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none" };
        if (root) args.Add("--allow-run-as-root");
        args.AddRange(cudann);
        return args;
    }

    /// <summary>How this process was started: the apphost, or dotnet and the cudann.dll it ran.</summary>
    public static List<string> SelfCommand()
    {
        var process = Environment.ProcessPath ?? throw new InvalidOperationException("--nproc: cannot tell how this cudann was started (no process path)");
        var name = Path.GetFileNameWithoutExtension(process);
        if (name != "dotnet") return [process];
        var dll = typeof(LocalRanks).Assembly.Location;
        return string.IsNullOrEmpty(dll) ? throw new InvalidOperationException("--nproc: cannot find cudann.dll (single-file build): run mpirun -n N cudann ... yourself") : [process, dll];
    }

    public static int Run(int ranks, string command, string[] args)
    {
        var mpirun = (Kernels.EnvironmentVariables.Read("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Join(d, "mpirun")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"--nproc {ranks} starts the ranks with Open MPI's mpirun, which is not on PATH: install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)");
        var psi = new ProcessStartInfo(mpirun) { UseShellExecute = false };
        foreach (var a in MpirunArguments(ranks, Environment.UserName == "root", [.. SelfCommand(), command, .. args])) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"--nproc {ranks}: {mpirun} did not start");
        p.WaitForExit();
        // mpirun has printed the ranks' errors; its code is the job's (0, or the failing rank's).
        return p.ExitCode;
    }
}
