// Collectives over MPI_COMM_WORLD of Open MPI, for ranks started by mpirun. One instance per process: MPI can be
// initialised once, and Dispose finalises it.
using System.Runtime.InteropServices;
using System.Text;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Distributed;

public sealed unsafe class MpiCollectives : ICollectives
{
    /// <summary>F16/BF16 all-reduces widen this many elements at a time to F32 (25 MB of F32, DDP's bucket size).</summary>
    public const long DefaultWideningBucketElements = 25L * 1024 * 1024 / sizeof(float);

    // MPI counts are ints: longer buffers go in pieces of this many elements.
    private const int MaxCount = 1 << 30;

    private static readonly object Gate = new();
    private static MpiCollectives? _current;
    private static bool _finalized;

    /// <summary>How long one collective may wait for the other ranks before this rank gives up (issue 22: 5 minutes).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    private readonly nint _world, _float, _double, _byte, _sum;
    private bool _disposed;
    // The collective in progress (name, start timestamp; 0 when none), read by the watchdog thread.
    private string _operation = "";
    private long _operationStart;
    private readonly Thread? _watchdog;
    private readonly ManualResetEventSlim _stop = new();

    public int Rank { get; }
    public int WorldSize { get; }
    public string Description { get; }
    /// <summary>Elements per F32 bucket when widening F16/BF16 (smaller in tests, to cross bucket edges cheaply).</summary>
    public long WideningBucketElements { get; }
    /// <summary>A collective that has waited this long ends the process with an error (Timeout.InfiniteTimeSpan: never).</summary>
    public TimeSpan Timeout { get; }

    private MpiCollectives(long wideningBucketElements, TimeSpan timeout)
    {
        WideningBucketElements = wideningBucketElements;
        Timeout = timeout;
        _world = MpiLibrary.Global("ompi_mpi_comm_world");
        _float = MpiLibrary.Global("ompi_mpi_float");
        _double = MpiLibrary.Global("ompi_mpi_double");
        _byte = MpiLibrary.Global("ompi_mpi_byte");
        _sum = MpiLibrary.Global("ompi_mpi_op_sum");
        nint errorsReturn = MpiLibrary.Global("ompi_mpi_errors_return");
        int flag, provided;
        Check(MpiNative.Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
            Check(MpiNative.InitThread(null, 0, MpiNative.ThreadSerialized, &provided), "MPI_Init_thread");
        // Errors come back as codes we turn into exceptions, instead of MPI aborting the process without a word.
        Check(MpiNative.CommSetErrhandler(_world, errorsReturn), "MPI_Comm_set_errhandler");
        int rank, size;
        Check(MpiNative.CommRank(_world, &rank), "MPI_Comm_rank");
        Check(MpiNative.CommSize(_world, &size), "MPI_Comm_size");
        Rank = rank;
        WorldSize = size;
        Description = $"{LibraryVersion()} ({MpiLibrary.LoadedPath}), {size} rank(s)";
        if (timeout != System.Threading.Timeout.InfiniteTimeSpan && size > 1)
        {
            _watchdog = new Thread(Watch) { IsBackground = true, Name = "cudann-mpi-watchdog" };
            _watchdog.Start();
        }
    }

    /// <summary>MPI waits forever for a rank that hangs (or died without its launcher noticing). This thread makes
    /// that an error naming this rank and the call it waited in; leaving the process makes mpirun stop the job.
    /// It exits rather than calling MPI_Abort: the main thread is inside MPI, and we asked for MPI_THREAD_SERIALIZED.</summary>
    private void Watch()
    {
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(Timeout.TotalMilliseconds / 10, 50, 1000));
        while (!_stop.Wait(poll))
        {
            long start = Volatile.Read(ref _operationStart);
            if (start == 0) continue;
            var waited = System.Diagnostics.Stopwatch.GetElapsedTime(start);
            if (waited < Timeout) continue;
            Console.Error.WriteLine($"cudann: rank {Rank} of {WorldSize}: no answer from the other ranks for {waited.TotalSeconds:F0} s in {Volatile.Read(ref _operation)} " +
                $"(timeout {Timeout.TotalSeconds:F0} s): another rank has died or hangs; stopping this rank so that mpirun ends the job");
            Console.Error.Flush();
            Environment.Exit(3);
        }
    }

    private void Enter(string operation)
    {
        Volatile.Write(ref _operation, operation);
        Volatile.Write(ref _operationStart, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    private void Leave() => Volatile.Write(ref _operationStart, 0);

    /// <summary>Initialises MPI (once per process) and returns the world communicator's collectives. Throws
    /// <see cref="MpiLibraryNotFoundException"/> naming where it looked when libmpi is missing.</summary>
    public static MpiCollectives Initialize(long wideningBucketElements = DefaultWideningBucketElements, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(wideningBucketElements, 1);
        var t = timeout ?? DefaultTimeout;
        if (t <= TimeSpan.Zero && t != System.Threading.Timeout.InfiniteTimeSpan) throw new ArgumentOutOfRangeException(nameof(timeout), $"the collectives' timeout must be positive, got {t.TotalSeconds} s");
        lock (Gate)
        {
            if (_current is not null) throw new InvalidOperationException("MPI is already initialised in this process: use the existing MpiCollectives");
            if (_finalized) throw new InvalidOperationException("MPI was finalised in this process and cannot be initialised again");
            return _current = new MpiCollectives(wideningBucketElements, t);
        }
    }

    public void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op)
    {
        ThrowIfDisposed();
        CollectivesExtensions.CheckReducible(dtype);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return;
        switch (dtype)
        {
            case DType.F32:
                ReduceInPlace(buffer, count, sizeof(float), _float);
                if (op == AllReduceOp.Average) DivideF32(buffer, count);
                break;
            case DType.F64:
                ReduceInPlace(buffer, count, sizeof(double), _double);
                if (op == AllReduceOp.Average)
                {
                    var s = (double*)buffer;
                    for (long i = 0; i < count; i++) s[i] /= WorldSize;
                }
                break;
            default:
                // Open MPI has no F16/BF16 reduction: sum (and divide) in F32, round once.
                WideningReduce.Run(dtype, buffer, count, WideningBucketElements, (p, n) =>
                {
                    ReduceInPlace(p, n, sizeof(float), _float);
                    if (op == AllReduceOp.Average) DivideF32(p, n);
                });
                break;
        }
    }

    private void DivideF32(nint buffer, long count)
    {
        for (long start = 0; start < count; start += MaxCount)
        {
            var s = new Span<float>((float*)buffer + start, (int)Math.Min(MaxCount, count - start));
            System.Numerics.Tensors.TensorPrimitives.Divide(s, WorldSize, s);
        }
    }

    private void ReduceInPlace(nint buffer, long count, int elementSize, nint datatype)
    {
        for (long start = 0; start < count; start += MaxCount)
        {
            int n = (int)Math.Min(MaxCount, count - start);
            Enter("MPI_Allreduce");
            try { Check(MpiNative.Allreduce(MpiNative.InPlace, buffer + (nint)(start * elementSize), n, datatype, _sum, _world), "MPI_Allreduce"); }
            finally { Leave(); }
        }
    }

    public void Broadcast(nint buffer, long bytes, int root)
    {
        ThrowIfDisposed();
        CollectivesExtensions.CheckRoot(this, root, "broadcast");
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        for (long start = 0; start < bytes; start += MaxCount)
        {
            Enter("MPI_Bcast");
            try { Check(MpiNative.Bcast(buffer + (nint)start, (int)Math.Min(MaxCount, bytes - start), _byte, root, _world), "MPI_Bcast"); }
            finally { Leave(); }
        }
    }

    public void Barrier()
    {
        ThrowIfDisposed();
        Enter("MPI_Barrier");
        try { Check(MpiNative.Barrier(_world), "MPI_Barrier"); }
        finally { Leave(); }
    }

    public double[] AllGather(ReadOnlySpan<double> values)
    {
        ThrowIfDisposed();
        var all = new double[(long)values.Length * WorldSize];
        fixed (double* send = values)
        fixed (double* recv = all)
        {
            Enter("MPI_Allgather");
            try { Check(MpiNative.Allgather((nint)send, values.Length, _double, (nint)recv, values.Length, _double, _world), "MPI_Allgather"); }
            finally { Leave(); }
        }
        return all;
    }

    /// <summary>Ends every rank's job at once (mpirun kills the others): for a rank that cannot go on.</summary>
    public void Abort(int code) => MpiNative.Abort(_world, code);

    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            // MPI_Finalize synchronises with the other ranks too: the watchdog still guards it.
            Enter("MPI_Finalize");
            int flag;
            try
            {
                if (MpiNative.Finalized(&flag) == MpiNative.Success && flag == 0) MpiNative.Finalize();
            }
            finally { Leave(); }
            _stop.Set();
            _watchdog?.Join();
            _finalized = true;
            _current = null;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static string LibraryVersion()
    {
        var text = stackalloc byte[MpiNative.MaxLibraryVersionString + 1];
        int length;
        if (MpiNative.GetLibraryVersion(text, &length) != MpiNative.Success) return "MPI";
        var s = Encoding.UTF8.GetString(text, length).Trim('\0', ' ', '\n');
        int comma = s.IndexOf(',');
        return comma > 0 ? s[..comma] : s;
    }

    private static void Check(int code, string call)
    {
        if (code == MpiNative.Success) return;
        var text = stackalloc byte[MpiNative.MaxErrorString + 1];
        int length = 0;
        string message = MpiNative.ErrorString(code, text, &length) == MpiNative.Success ? Encoding.UTF8.GetString(text, length) : $"error code {code}";
        throw new MpiException($"{call} failed: {message}");
    }
}
