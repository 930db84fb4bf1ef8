// CPU storage: 64-byte aligned native memory taken from CpuMemoryPool.
namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe class CpuStorage : Storage
{
    private byte* _ptr;
    private readonly long _capacityBytes;
    private readonly bool _external;

    public override Device Device => Device.Cpu;

    /// <summary>Allocates uninitialised storage for <paramref name="length"/> elements.</summary>
    public CpuStorage(DType dtype, int length, bool zero = false) : base(dtype, length)
    {
        long bytes = Math.Max(1, (long)length * dtype.SizeOf());
        _ptr = CpuMemoryPool.Rent(bytes, out _capacityBytes);
        if (zero) Clear(bytes);
    }

    private CpuStorage(byte* external, DType dtype, int length) : base(dtype, length)
    {
        _ptr = external;
        _external = true;
    }

    /// <summary>Wraps memory the caller owns and keeps alive (pinned arrays, memory-mapped files); never freed here.</summary>
    public static CpuStorage Wrap(byte* pointer, DType dtype, int length) => new(pointer, dtype, length);

    /// <summary>Zeroes the first bytes in span-sized pieces (a span addresses at most 2^31-1 bytes).</summary>
    private void Clear(long bytes)
    {
        for (long o = 0; o < bytes; o += int.MaxValue)
            new Span<byte>(_ptr + o, (int)Math.Min(int.MaxValue, bytes - o)).Clear();
    }

    public byte* Pointer
    {
        get
        {
            if (_ptr == null) throw new ObjectDisposedException(nameof(CpuStorage), "CPU storage used after it was freed");
            return _ptr;
        }
    }

    public T* Ptr<T>() where T : unmanaged => (T*)Pointer;

    /// <summary>All elements as a span of T (T must match the dtype's size).</summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (sizeof(T) != DType.SizeOf()) throw new InvalidOperationException($"span of {typeof(T).Name} over {DType} storage");
        return new Span<T>(Pointer, Length);
    }

    public Span<byte> AsBytes() => new(Pointer, checked((int)ByteLength));

    protected override void Free()
    {
        var p = _ptr;
        _ptr = null;
        if (p != null && !_external) CpuMemoryPool.Return(p, _capacityBytes);
    }
}

/// <summary>
/// Size-bucketed pool of 64-byte aligned native blocks. Buckets are powers of two, so a training loop that
/// allocates the same shapes every step reuses the same blocks instead of touching fresh pages.
/// </summary>
public static unsafe class CpuMemoryPool
{
    private const int MinBucketLog2 = 6; // 64 bytes
    private const int MaxBucketLog2 = 40;
    private static readonly Stack<nint>[] Buckets = CreateBuckets();
    private static readonly Lock Gate = new();
    private static long _liveBytes, _pooledBytes, _peakLiveBytes;

    public static long LiveBytes => Interlocked.Read(ref _liveBytes);
    public static long PooledBytes => Interlocked.Read(ref _pooledBytes);
    public static long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    private static Stack<nint>[] CreateBuckets()
    {
        var b = new Stack<nint>[MaxBucketLog2 + 1];
        for (int i = 0; i < b.Length; i++) b[i] = new Stack<nint>();
        return b;
    }

    private static int BucketOf(long bytes)
    {
        int log2 = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1));
        return Math.Max(MinBucketLog2, log2);
    }

    public static byte* Rent(long bytes, out long capacity)
    {
        int bucket = BucketOf(bytes);
        if (bucket > MaxBucketLog2) throw new OutOfMemoryException($"CPU allocation of {bytes} bytes is beyond the pool's limit");
        capacity = 1L << bucket;
        byte* p = null;
        lock (Gate)
        {
            if (Buckets[bucket].TryPop(out nint q))
            {
                p = (byte*)q;
                _pooledBytes -= capacity;
            }
        }
        if (p == null)
        {
            p = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)capacity, 64);
            if (p == null) throw new OutOfMemoryException($"could not allocate {capacity} bytes of CPU memory");
        }
        long live = Interlocked.Add(ref _liveBytes, capacity);
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakLiveBytes)) && Interlocked.CompareExchange(ref _peakLiveBytes, live, peak) != peak) { }
        return p;
    }

    public static void Return(byte* p, long capacity)
    {
        Interlocked.Add(ref _liveBytes, -capacity);
        int bucket = BucketOf(capacity);
        lock (Gate)
        {
            if (_pooledBytes + capacity <= CpuKernelOptions.Current.PoolMaxBytes)
            {
                Buckets[bucket].Push((nint)p);
                _pooledBytes += capacity;
                return;
            }
        }
        System.Runtime.InteropServices.NativeMemory.AlignedFree(p);
    }

    /// <summary>Frees every pooled block back to the OS.</summary>
    public static void Trim()
    {
        lock (Gate)
        {
            foreach (var b in Buckets)
                while (b.TryPop(out var q)) System.Runtime.InteropServices.NativeMemory.AlignedFree((void*)q);
            _pooledBytes = 0;
        }
    }
}
