// What every wrapper shares: a native handle destroyed exactly once, and an ownership tree that matches
// TensorRT's lifetime rules (a logger outlives its builders and runtimes, a builder its networks and configs, an
// engine its contexts). Disposing an owner first disposes what it still owns, newest first, so no order of
// Dispose calls can destroy a TensorRT object before the ones that depend on it; a second Dispose does nothing.
using System.Text;

namespace Cuda.Nn.Interop.TensorRT;

/// <summary>A failed shim call: the function, its status and the shim's last-error text (TensorRT's own message where it gave one).</summary>
public sealed class TensorRtException(string function, TrtStatus status, string nativeMessage)
    : Exception($"{function} failed ({status}): {(nativeMessage.Length > 0 ? nativeMessage : "no message from the shim")}")
{
    public string Function { get; } = function;
    public TrtStatus Status { get; } = status;
    /// <summary>cudann_trt_last_error() right after the call.</summary>
    public string NativeMessage { get; } = nativeMessage;
}

public abstract class TrtObject : IDisposable
{
    private readonly List<TrtObject> owned = [];
    private readonly TrtObject? owner;
    private nint handle;

    private protected TrtObject(TrtObject? owner)
    {
        if (owner is not null) _ = owner.Handle; // a disposed owner cannot make anything
        this.owner = owner;
    }

    /// <summary>The native handle; throws once disposed (or when an owner disposed it).</summary>
    public nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(handle == 0, this);
            return handle;
        }
    }

    public bool IsDisposed => handle == 0;

    /// <summary>Takes the handle the shim created and joins the owner's tree (only after the creation succeeded).</summary>
    private protected void Own(nint value)
    {
        handle = value;
        if (owner is not null) lock (owner.owned) owner.owned.Add(this);
    }

    /// <summary>Calls the shim's destroy function for the handle.</summary>
    private protected abstract int Destroy(nint handle);

    /// <summary>What is destroyed after the handle (pinned weights, a runtime behind an engine).</summary>
    private protected virtual void ReleaseAfterDestroy() { }

    public void Dispose()
    {
        if (handle == 0) return;
        TrtObject[] children;
        lock (owned)
        {
            children = [.. owned];
            owned.Clear();
        }
        for (int i = children.Length - 1; i >= 0; i--) children[i].Dispose();
        nint h = handle;
        handle = 0;
        if (owner is not null) lock (owner.owned) owner.owned.Remove(this);
        try
        {
            TrtCall.Check(Destroy(h), GetType().Name + ".Dispose");
        }
        finally
        {
            ReleaseAfterDestroy();
        }
    }
}

/// <summary>Status checks and string conversion for the wrappers.</summary>
internal static unsafe class TrtCall
{
    public static void Check(int status, string function)
    {
        if (status == 0) return;
        // The shim's message is thread-local: read it on this thread, right after the call.
        string message = Marshal(TrtNative.cudann_trt_last_error()) ?? "";
        throw new TensorRtException(function, (TrtStatus)status, message);
    }

    public static string? Marshal(byte* s) => s is null ? null : System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)s);

    /// <summary>NUL-terminated UTF-8, or null for null (fixed on a null array is a null pointer).</summary>
    public static byte[]? Utf8(string? s) => s is null ? null : Encoding.UTF8.GetBytes(s + "\0");

    public static long[] Dims(ReadOnlySpan<long> dims, string what)
    {
        if (dims.Length > MaxDims) throw new ArgumentException($"{what} has {dims.Length} axes; TensorRT allows at most {MaxDims}", what);
        return dims.ToArray();
    }

    public const int MaxDims = 8;
}
