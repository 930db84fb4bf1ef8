// ILGPU device storage: a byte buffer from a size-bucketed cache, so device memory is reused at once on the
// last Release instead of waiting for the GC or paying a cuMemAlloc/cuMemFree pair per tensor.
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

public sealed class IlgpuStorage : Storage
{
    private readonly IlgpuBackend _backend;
    private MemoryBuffer1D<byte, Stride1D.Dense>? _buffer;

    public override Device Device => _backend.Device;

    internal IlgpuStorage(IlgpuBackend backend, DType dtype, int length) : base(dtype, length)
    {
        _backend = backend;
        _buffer = backend.Pool.Rent(Math.Max(1, ByteLength));
    }

    internal IlgpuBackend Backend => _backend;

    /// <summary>The storage's bytes (exactly ByteLength of them; the pooled block may be larger).</summary>
    internal ArrayView<byte> Bytes
    {
        get
        {
            var b = _buffer ?? throw new ObjectDisposedException(nameof(IlgpuStorage), "ILGPU storage used after it was freed");
            return b.View.SubView(0, Math.Max(1, ByteLength)).AsContiguous();
        }
    }

    protected override void Free()
    {
        var b = _buffer;
        _buffer = null;
        if (b != null) _backend.Pool.Return(b);
    }
}

/// <summary>
/// Power-of-two buckets of device byte buffers. Kernels run in stream order on one stream, so a block returned
/// while a kernel that reads it is still queued can be handed out again: the next writer is queued after it.
/// </summary>
public sealed class IlgpuMemoryPool(Accelerator accelerator, Lock gate) : IDisposable
{
    private const int MinBucketLog2 = 8;
    private readonly Dictionary<int, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> _buckets = [];
    // The backend's lock: allocating and freeing device memory must not race a launch on the same accelerator.
    private readonly Lock _gate = gate;
    private long _pooledBytes, _liveBytes;

    /// <summary>Bytes kept cached after release; beyond it blocks go back to the device.</summary>
    public long MaxPooledBytes { get; set; } = 2L << 30;
    public long LiveBytes => Interlocked.Read(ref _liveBytes);
    /// <summary>The most bytes handed out at once since creation or the last ResetPeak.</summary>
    public long PeakLiveBytes => Interlocked.Read(ref _peakBytes);
    public void ResetPeak() => Interlocked.Exchange(ref _peakBytes, LiveBytes);
    private long _peakBytes;
    public long PooledBytes => Interlocked.Read(ref _pooledBytes);

    private static int BucketOf(long bytes) => Math.Max(MinBucketLog2, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(bytes - 1)));

    internal MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        int bucket = BucketOf(bytes);
        long capacity = 1L << bucket;
        long live = Interlocked.Add(ref _liveBytes, capacity);
        for (long peak = Interlocked.Read(ref _peakBytes); live > peak; peak = Interlocked.Read(ref _peakBytes))
            if (Interlocked.CompareExchange(ref _peakBytes, live, peak) == peak) break;
        lock (_gate)
        {
            if (_buckets.TryGetValue(bucket, out var s) && s.TryPop(out var b))
            {
                _pooledBytes -= capacity;
                return b;
            }
            return accelerator.Allocate1D<byte>(capacity);
        }
    }

    internal void Return(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        long capacity = buffer.Length;
        Interlocked.Add(ref _liveBytes, -capacity);
        lock (_gate)
        {
            if (_pooledBytes + capacity <= MaxPooledBytes)
            {
                if (!_buckets.TryGetValue(BucketOf(capacity), out var s)) _buckets[BucketOf(capacity)] = s = new();
                s.Push(buffer);
                _pooledBytes += capacity;
                return;
            }
            buffer.Dispose();
        }
    }

    /// <summary>Frees every cached block.</summary>
    public void Trim()
    {
        lock (_gate)
        {
            foreach (var s in _buckets.Values)
                while (s.TryPop(out var b)) b.Dispose();
            _pooledBytes = 0;
        }
    }

    public void Dispose() => Trim();
}
