// Who this process is in a multi-process job, read from the launcher's environment: Open MPI's mpirun
// (OMPI_COMM_WORLD_*) or torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT).
using System.Globalization;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Distributed;

public enum Launcher
{
    /// <summary>No launcher variables: one process.</summary>
    None,
    /// <summary>Open MPI's mpirun / mpiexec.</summary>
    OpenMpi,
    /// <summary>torchrun or any launcher that sets torch.distributed's env:// variables.</summary>
    Torchrun,
}

public sealed record DistributedEnvironment(Launcher Launcher, int Rank, int WorldSize, int LocalRank, int LocalWorldSize)
{
    /// <summary>torchrun's rendezvous address and port (null under mpirun, which has its own).</summary>
    public string? MasterAddr { get; init; }
    public int? MasterPort { get; init; }

    public static readonly DistributedEnvironment Single = new(Launcher.None, 0, 1, 0, 1);

    public bool IsDistributed => Launcher != Launcher.None;

    /// <summary>This process's environment.</summary>
    public static DistributedEnvironment Current() => FromVariables(EnvironmentVariables.Read);

    /// <summary>Reads the launcher's variables through <paramref name="getEnv"/>. Open MPI's win when both sets are
    /// present (a torchrun inside mpirun would be a user error; a stray RANK in a shell should not break mpirun), but
    /// a RANK that contradicts OMPI_COMM_WORLD_RANK is refused, naming both.</summary>
    public static DistributedEnvironment FromVariables(Func<string, string?> getEnv)
    {
        if (getEnv(EnvironmentVariables.OmpiRank) is not null || getEnv(EnvironmentVariables.OmpiSize) is not null)
        {
            int size = Required(getEnv, EnvironmentVariables.OmpiSize, 1);
            int rank = Required(getEnv, EnvironmentVariables.OmpiRank, 0, size - 1);
            int localSize = Optional(getEnv, EnvironmentVariables.OmpiLocalSize, 1, size) ?? size;
            int localRank = Optional(getEnv, EnvironmentVariables.OmpiLocalRank, 0, localSize - 1) ?? rank % localSize;
            if (Optional(getEnv, EnvironmentVariables.TorchRank, 0) is { } torchRank && torchRank != rank)
                throw new ArgumentException($"{EnvironmentVariables.TorchRank}={torchRank} contradicts mpirun's {EnvironmentVariables.OmpiRank}={rank}: unset {EnvironmentVariables.TorchRank} (it belongs to torchrun) when launching with mpirun");
            return new(Launcher.OpenMpi, rank, size, localRank, localSize);
        }
        if (getEnv(EnvironmentVariables.TorchWorldSize) is not null || getEnv(EnvironmentVariables.TorchRank) is not null)
        {
            int size = Required(getEnv, EnvironmentVariables.TorchWorldSize, 1);
            int rank = Required(getEnv, EnvironmentVariables.TorchRank, 0, size - 1);
            // Without LOCAL_WORLD_SIZE all ranks are assumed local: threads per rank then err on the low side.
            int localSize = Optional(getEnv, EnvironmentVariables.TorchLocalWorldSize, 1, size) ?? size;
            int localRank = Optional(getEnv, EnvironmentVariables.TorchLocalRank, 0, localSize - 1) ?? rank % localSize;
            string? addr = getEnv(EnvironmentVariables.MasterAddr);
            int? port = Optional(getEnv, EnvironmentVariables.MasterPort, 1, 65535);
            if (size > 1 && (string.IsNullOrWhiteSpace(addr) || port is null))
                throw new ArgumentException($"{EnvironmentVariables.TorchWorldSize}={size} needs {EnvironmentVariables.MasterAddr} and {EnvironmentVariables.MasterPort} (the rendezvous address of rank 0), as torchrun sets them");
            return new(Launcher.Torchrun, rank, size, localRank, localSize) { MasterAddr = addr, MasterPort = port };
        }
        return Single;
    }

    /// <summary>CPU threads for this rank when none are asked for: the cores it may use shared by the ranks on this
    /// machine, unless the launcher already bound it to fewer CPUs than the machine has (mpirun binds each of 2 ranks
    /// to one core by default), in which case the binding is its share.</summary>
    public int DefaultThreads() => ThreadsFor(Environment.ProcessorCount, AffinityCount(), OnlineCpus());

    /// <param name="processorCount">.NET's count: affinity and cgroup quota applied.</param>
    /// <param name="affinityCount">CPUs in this process's affinity mask (null: unknown).</param>
    /// <param name="onlineCpus">CPUs the machine has online (null: unknown).</param>
    public int ThreadsFor(int processorCount, int? affinityCount, int? onlineCpus)
    {
        bool bound = affinityCount is { } a && onlineCpus is { } o && a < o;
        return bound ? Math.Max(1, processorCount) : Math.Max(1, processorCount / Math.Max(1, LocalWorldSize));
    }

    private static int? AffinityCount()
    {
        try
        {
            return OperatingSystem.IsLinux() ? System.Numerics.BitOperations.PopCount((ulong)System.Diagnostics.Process.GetCurrentProcess().ProcessorAffinity) : null;
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>/sys/devices/system/cpu/online: ranges like "0-3,8-11".</summary>
    internal static int? OnlineCpus(string path = "/sys/devices/system/cpu/online")
    {
        try
        {
            int count = 0;
            foreach (var part in File.ReadAllText(path).Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var ends = part.Split('-');
                int lo = int.Parse(ends[0], CultureInfo.InvariantCulture), hi = ends.Length > 1 ? int.Parse(ends[1], CultureInfo.InvariantCulture) : lo;
                count += hi - lo + 1;
            }
            return count > 0 ? count : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>The collectives for this environment: none to talk to for one process, Open MPI under mpirun.</summary>
    /// <param name="wideningBucketElements">F16/BF16 buffers are reduced in F32 buckets of this many elements.</param>
    /// <param name="timeout">How long a collective may wait for the other ranks (default MpiCollectives.DefaultTimeout).</param>
    public ICollectives CreateCollectives(long wideningBucketElements = MpiCollectives.DefaultWideningBucketElements, TimeSpan? timeout = null)
    {
        switch (Launcher)
        {
            case Launcher.None:
                return new SingleProcessCollectives();
            case Launcher.OpenMpi:
                var mpi = MpiCollectives.Initialize(wideningBucketElements, timeout);
                if (mpi.Rank != Rank || mpi.WorldSize != WorldSize)
                {
                    mpi.Dispose();
                    throw new InvalidOperationException($"MPI says rank {mpi.Rank} of {mpi.WorldSize}, the environment {EnvironmentVariables.OmpiRank}={Rank} of {EnvironmentVariables.OmpiSize}={WorldSize}: was this process started by another MPI's mpirun?");
                }
                return mpi;
            default:
                if (WorldSize == 1) return new SingleProcessCollectives();
                // torchrun's env:// rendezvous is a TCP store that only NCCL (or gloo) would use; neither is here yet.
                throw new NotSupportedException($"torchrun's environment ({EnvironmentVariables.TorchRank}={Rank}, {EnvironmentVariables.TorchWorldSize}={WorldSize}) is read, but its TCP rendezvous and the NCCL backend are not implemented yet: launch with mpirun -n {WorldSize} instead (docs/distributed.md)");
        }
    }

    public override string ToString() => Launcher == Launcher.None ? "single process"
        : $"rank {Rank} of {WorldSize} ({Launcher}, local rank {LocalRank} of {LocalWorldSize})";

    private static int Required(Func<string, string?> getEnv, string name, int min, int max = int.MaxValue) =>
        Optional(getEnv, name, min, max) ?? throw new ArgumentException($"{name} is not set, but the launcher set the others of its variables");

    private static int? Optional(Func<string, string?> getEnv, string name, int min, int max = int.MaxValue)
    {
        var text = getEnv(name);
        if (text is null) return null;
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new ArgumentException($"{name}={text}: expected an integer in [{min}, {max}]");
        return v;
    }
}
