// TensorRT's messages, forwarded by the shim's logger to a C# callback. The shim holds a GCHandle to this object
// as the callback's user pointer; the handle is freed after the native logger is destroyed, and everything
// made with the logger (builders, engines) is disposed before it.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cuda.Nn.Interop.TensorRT;

public sealed unsafe class Logger : TrtObject
{
    private readonly Action<LogSeverity, string>? callback;
    private GCHandle self;

    /// <summary>
    /// A logger passing messages at or above <paramref name="minSeverity"/> (Warning: errors and warnings) to
    /// <paramref name="callback"/>, on whatever thread TensorRT logs from. Null: messages are dropped, but errors
    /// still reach <see cref="TensorRtException.NativeMessage"/>.
    /// </summary>
    public Logger(Action<LogSeverity, string>? callback = null, LogSeverity minSeverity = LogSeverity.Warning) : base(null)
    {
        if (minSeverity is < LogSeverity.InternalError or > LogSeverity.Verbose) throw new ArgumentOutOfRangeException(nameof(minSeverity), minSeverity, "not a LogSeverity");
        this.callback = callback;
        self = GCHandle.Alloc(this);
        nint h;
        delegate* unmanaged[Cdecl]<void*, int, byte*, void> forward = &Forward;
        int status = TrtNative.cudann_trt_logger_create(callback is null ? 0 : (nint)forward, (void*)GCHandle.ToIntPtr(self), (int)minSeverity, &h);
        if (status != 0) self.Free();
        TrtCall.Check(status, "Logger");
        Own(h);
    }

    /// <summary>The first exception a callback threw (it cannot cross into native code); null when none did.</summary>
    public Exception? CallbackException { get; private set; }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void Forward(void* user, int severity, byte* message)
    {
        if (GCHandle.FromIntPtr((nint)user).Target is not Logger logger || logger.callback is null) return;
        try
        {
            logger.callback((LogSeverity)severity, TrtCall.Marshal(message) ?? "");
        }
        catch (Exception e)
        {
            logger.CallbackException ??= e;
        }
    }

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_logger_destroy(handle);

    private protected override void ReleaseAfterDestroy()
    {
        if (self.IsAllocated) self.Free();
    }

    /// <summary>TensorRT's version as the shim reports the linked library (the recording test double says 0.0.0).</summary>
    public static Version TensorRtVersion()
    {
        int major, minor, patch;
        TrtCall.Check(TrtNative.cudann_trt_tensorrt_version(&major, &minor, &patch), nameof(TensorRtVersion));
        return new Version(major, minor, patch);
    }
}
