// Reference-counted element buffers. Views share one Storage; the last release returns the memory
// to its device's pool, so memory never waits for the GC.
namespace Cuda.Nn.Kernels;

public abstract class Storage
{
    private int _refCount = 1;

    public DType DType { get; }
    /// <summary>Capacity in elements.</summary>
    public int Length { get; }
    public long ByteLength => (long)Length * DType.SizeOf();
    public abstract Device Device { get; }

    protected Storage(DType dtype, int length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        DType = dtype;
        Length = length;
    }

    /// <summary>Takes one more reference (a new view or a tensor saved for backward).</summary>
    public void AddRef()
    {
        if (Interlocked.Increment(ref _refCount) <= 1)
            throw new ObjectDisposedException(GetType().Name, "storage used after its last reference was released");
    }

    /// <summary>Drops a reference; the last one frees the memory.</summary>
    public void Release()
    {
        int n = Interlocked.Decrement(ref _refCount);
        if (n == 0) Free();
        else if (n < 0) throw new ObjectDisposedException(GetType().Name, "storage released more times than referenced");
    }

    protected abstract void Free();
}
