// Data-parallel gradient averaging after backward: the parameters' gradients, last parameter first (the order
// backward produces them, so overlapping with backward later keeps this order), are packed into buckets of about
// 25 MB, each bucket averaged across ranks with one all-reduce and unpacked.
using System.Runtime.InteropServices;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Distributed;

public sealed unsafe class GradientAllReduce : IDisposable
{
    /// <summary>PyTorch DDP's default bucket_cap_mb.</summary>
    public const long DefaultBucketBytes = 25L * 1024 * 1024;

    private readonly ICollectives _c;
    private readonly Tensor[] _parameters;
    private readonly long _bucketBytes;
    private byte* _buffer;
    private long _capacity;

    /// <summary>Buckets of the last Run, as (first parameter, parameter count, bytes); for tests and logs.</summary>
    public List<(int First, int Count, long Bytes)> LastBuckets { get; } = [];

    public GradientAllReduce(ICollectives collectives, IEnumerable<Tensor> parameters, long bucketBytes = DefaultBucketBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 8);
        _c = collectives;
        _parameters = [.. parameters];
        _bucketBytes = bucketBytes;
    }

    /// <summary>Averages every parameter's gradient across the ranks, in place. <paramref name="extra"/> values (the
    /// step's loss) ride in the last bucket as F64 and come back averaged, so a non-finite loss on any rank is seen by
    /// all in the same step. Parameters without a gradient are skipped; every rank must have the same ones.</summary>
    public void Run(Span<double> extra = default)
    {
        LastBuckets.Clear();
        int i = _parameters.Length - 1;
        bool extraSent = extra.IsEmpty;
        while (i >= 0 || !extraSent)
        {
            // One bucket: consecutive (in reverse) gradients of one dtype, up to the byte cap (a larger tensor goes alone).
            int last = i;
            long bytes = 0;
            DType? dtype = null;
            for (; i >= 0; i--)
            {
                var g = _parameters[i].Grad;
                if (g is null) continue;
                long size = (long)g.Numel * g.DType.SizeOf();
                if (dtype is { } d && (d != g.DType || bytes + size > _bucketBytes)) break;
                dtype ??= g.DType;
                bytes += size;
            }
            bool withExtra = i < 0 && !extraSent;
            if (dtype is null && !withExtra) break;
            long extraBytes = withExtra ? (long)extra.Length * sizeof(double) : 0;
            Ensure(bytes + extraBytes);
            Pack(i + 1, last, dtype, pack: true);
            if (dtype is { } dt) _c.AllReduce(dt, (nint)_buffer, bytes / dt.SizeOf(), AllReduceOp.Average);
            if (withExtra)
            {
                // The extras go in a second call when the bucket's dtype is not F64 (one call cannot mix types).
                var e = (double*)(_buffer + bytes);
                extra.CopyTo(new Span<double>(e, extra.Length));
                _c.AllReduce(DType.F64, (nint)e, extra.Length, AllReduceOp.Average);
                new Span<double>(e, extra.Length).CopyTo(extra);
                extraSent = true;
            }
            Pack(i + 1, last, dtype, pack: false);
            LastBuckets.Add((i + 1, last - i, bytes));
        }
    }

    private void Pack(int from, int to, DType? dtype, bool pack)
    {
        if (dtype is null) return;
        long offset = 0;
        for (int j = to; j >= from; j--)
        {
            var g = _parameters[j].Grad;
            if (g is null) continue;
            if (g.Storage is not CpuStorage cpu || !g.Layout.IsContiguous)
                throw new NotSupportedException($"gradient of parameter {j} ({g.Device}, contiguous: {g.Layout.IsContiguous}): only contiguous CPU gradients are all-reduced so far");
            long size = (long)g.Numel * g.DType.SizeOf();
            byte* p = cpu.Pointer + (long)g.Layout.Offset * g.DType.SizeOf();
            if (pack) Buffer.MemoryCopy(p, _buffer + offset, size, size);
            else Buffer.MemoryCopy(_buffer + offset, p, size, size);
            offset += size;
        }
    }

    private void Ensure(long bytes)
    {
        if (bytes <= _capacity) return;
        if (_buffer != null) NativeMemory.AlignedFree(_buffer);
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        _capacity = bytes;
    }

    public void Dispose()
    {
        if (_buffer != null) NativeMemory.AlignedFree(_buffer);
        _buffer = null;
        _capacity = 0;
    }
}
