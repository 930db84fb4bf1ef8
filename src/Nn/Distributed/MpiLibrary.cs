// Finds and loads Open MPI's libmpi.so.40, and binds the handful of MPI calls the collectives use with our own
// [LibraryImport] declarations. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of
// global objects in libmpi (ompi_mpi_comm_world, ...), read with NativeLibrary.GetExport (docs/decisions.md).
using System.Runtime.InteropServices;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Distributed;

/// <summary>Open MPI's libmpi could not be found or loaded; the message names the file and every folder looked in.</summary>
public sealed class MpiLibraryNotFoundException(string message) : DllNotFoundException(message);

/// <summary>An MPI call returned an error; the message is MPI's own error string.</summary>
public sealed class MpiException(string message) : InvalidOperationException(message);

public static partial class MpiLibrary
{
    /// <summary>Open MPI's ABI from 3.0 through 5.x; MPICH (libmpi.so.12) has integer handles and is not supported.</summary>
    public const string FileName = "libmpi.so.40";

    /// <summary>CUDANN_MPI_PATH names the file directly, overriding the search.</summary>
    public static readonly string OverrideVariable = EnvironmentVariables.LibraryPath("mpi");

    private static readonly Lazy<(nint Handle, string? Path, string? Error)> Loaded = new(LoadUncached);

    /// <summary>Folders searched, in order: LD_LIBRARY_PATH, OPAL_PREFIX/lib and MPI_HOME/lib (a relocated or
    /// custom Open MPI), Debian/Ubuntu's, Fedora's and /usr/local's and /opt's library folders. <paramref name="root"/>
    /// prefixes the fixed folders (tests).</summary>
    public static IReadOnlyList<string> SearchDirectories(Func<string, string?> getEnv, string root = "/")
    {
        var dirs = new List<string>();
        void Add(string? d)
        {
            if (!string.IsNullOrWhiteSpace(d) && !dirs.Contains(d)) dirs.Add(d);
        }
        foreach (var d in (getEnv("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)) Add(d);
        foreach (var v in new[] { "OPAL_PREFIX", "MPI_HOME" })
            if (getEnv(v) is { Length: > 0 } prefix) Add(Path.Join(prefix, "lib"));
        foreach (var d in new[] { "usr/lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu/openmpi/lib", "usr/lib/aarch64-linux-gnu",
                     "usr/lib64/openmpi/lib", "usr/lib64", "usr/local/lib", "opt/openmpi/lib" })
            Add(Path.Join(root, d));
        return dirs;
    }

    /// <summary>The first folder holding libmpi.so.40, without loading it.</summary>
    public static string? Locate(IReadOnlyList<string> directories) =>
        directories.Select(d => Path.Join(d, FileName)).FirstOrDefault(File.Exists);

    /// <summary>The message for a libmpi that is not there (tests build the expected one the same way).</summary>
    public static string NotFoundMessage(IReadOnlyList<string> directories, IReadOnlyList<string> loadErrors)
    {
        var existing = directories.Where(Directory.Exists).ToList();
        var msg = $"Open MPI's {FileName} was not found: looked in {existing.Count} existing folder(s) [{string.Join(", ", existing)}]" +
            $" (LD_LIBRARY_PATH, OPAL_PREFIX/lib, MPI_HOME/lib, then the system library folders; {directories.Count - existing.Count} other candidate folder(s) do not exist here)" +
            $" and the system loader's default paths. Install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) or set {OverrideVariable} to the file";
        if (loadErrors.Count > 0) msg += ". Found but not loadable: " + string.Join("; ", loadErrors);
        return msg;
    }

    /// <summary>True when libmpi loads; <paramref name="error"/> says why not otherwise.</summary>
    public static bool TryLoad(out string? error)
    {
        error = Loaded.Value.Error;
        return Loaded.Value.Handle != 0;
    }

    /// <summary>The loaded library's path, or null.</summary>
    public static string? LoadedPath => Loaded.Value.Path;

    internal static nint Handle => Loaded.Value.Handle != 0 ? Loaded.Value.Handle : throw new MpiLibraryNotFoundException(Loaded.Value.Error!);

    /// <summary>The address of a global object in libmpi: Open MPI's MPI_COMM_WORLD is &amp;ompi_mpi_comm_world.</summary>
    internal static nint Global(string symbol) =>
        NativeLibrary.TryGetExport(Handle, symbol, out nint address) ? address
        : throw new MpiLibraryNotFoundException($"{LoadedPath} has no symbol {symbol}: it is not Open MPI 3-5 (MPICH and others are not supported)");

    private static (nint, string?, string?) LoadUncached()
    {
        if (!OperatingSystem.IsLinux()) return (0, null, $"Open MPI's {FileName}: only Linux is supported (found {RuntimeInformation.OSDescription})");
        if (EnvironmentVariables.Read(OverrideVariable) is { Length: > 0 } forced)
        {
            nint h = Open(forced, out string? why);
            return h != 0 ? (h, forced, null) : (0, null, $"{OverrideVariable}={forced} could not be loaded: {why}");
        }
        var dirs = SearchDirectories(Environment.GetEnvironmentVariable);
        var errors = new List<string>();
        foreach (var path in dirs.Select(d => Path.Join(d, FileName)).Where(File.Exists))
        {
            nint h = Open(path, out string? why);
            if (h != 0) return (h, path, null);
            errors.Add($"{path}: {why}");
        }
        nint byName = Open(FileName, out _);
        return byName != 0 ? (byName, FileName, null) : (0, null, NotFoundMessage(dirs, errors));
    }

    // RTLD_GLOBAL, not the runtime's RTLD_LOCAL: Open MPI loads its transports as plugins (mca_*.so) that resolve
    // symbols of libmpi and libopen-pal through the global namespace, and fail to load otherwise.
    private const int RtldNow = 2, RtldGlobal = 0x100;

    private static nint Open(string path, out string? error)
    {
        // The first call of an import binds it, which runs dlsym and clears dlerror's state: bind (and clear) first.
        Dl.Error();
        nint h = Dl.Open(path, RtldNow | RtldGlobal);
        error = h != 0 ? null : Marshal.PtrToStringUTF8(Dl.Error()) ?? (Path.IsPathRooted(path) && !File.Exists(path) ? "no such file" : "dlopen failed");
        return h;
    }

    private static partial class Dl
    {
        [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
        public static partial nint Open(string path, int flags);

        [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
        public static partial nint Error();
    }
}

/// <summary>The MPI C calls used, as declared in Open MPI's mpi.h (handles are pointers there).</summary>
internal static unsafe partial class MpiNative
{
    private const string Import = "cudann-mpi";

    static MpiNative() =>
        NativeLibrary.SetDllImportResolver(typeof(MpiNative).Assembly, (name, _, _) => name == Import ? MpiLibrary.Handle : 0);

    public const int Success = 0, ThreadSerialized = 2, MaxErrorString = 256, MaxLibraryVersionString = 256;
    public static readonly nint InPlace = 1;

    [LibraryImport(Import, EntryPoint = "MPI_Initialized")] public static partial int Initialized(int* flag);
    [LibraryImport(Import, EntryPoint = "MPI_Finalized")] public static partial int Finalized(int* flag);
    [LibraryImport(Import, EntryPoint = "MPI_Init_thread")] public static partial int InitThread(int* argc, nint argv, int required, int* provided);
    [LibraryImport(Import, EntryPoint = "MPI_Finalize")] public static partial int Finalize();
    [LibraryImport(Import, EntryPoint = "MPI_Comm_rank")] public static partial int CommRank(nint comm, int* rank);
    [LibraryImport(Import, EntryPoint = "MPI_Comm_size")] public static partial int CommSize(nint comm, int* size);
    [LibraryImport(Import, EntryPoint = "MPI_Comm_set_errhandler")] public static partial int CommSetErrhandler(nint comm, nint errhandler);
    [LibraryImport(Import, EntryPoint = "MPI_Allreduce")] public static partial int Allreduce(nint send, nint recv, int count, nint datatype, nint op, nint comm);
    [LibraryImport(Import, EntryPoint = "MPI_Bcast")] public static partial int Bcast(nint buffer, int count, nint datatype, int root, nint comm);
    [LibraryImport(Import, EntryPoint = "MPI_Barrier")] public static partial int Barrier(nint comm);
    [LibraryImport(Import, EntryPoint = "MPI_Allgather")] public static partial int Allgather(nint send, int sendCount, nint sendType, nint recv, int recvCount, nint recvType, nint comm);
    [LibraryImport(Import, EntryPoint = "MPI_Error_string")] public static partial int ErrorString(int code, byte* text, int* length);
    [LibraryImport(Import, EntryPoint = "MPI_Get_library_version")] public static partial int GetLibraryVersion(byte* text, int* length);
    [LibraryImport(Import, EntryPoint = "MPI_Abort")] public static partial int Abort(nint comm, int code);
}
