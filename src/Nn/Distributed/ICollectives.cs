// The few collective operations data-parallel training needs, behind one interface so the trainer does not know
// whether it runs alone, over MPI or (later) over NCCL. Buffers are host memory; every rank must call the same
// operations in the same order with the same counts, as in MPI.
using System.Runtime.InteropServices;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Distributed;

public enum AllReduceOp
{
    Sum,
    /// <summary>The sum divided by the world size (how data-parallel gradients are combined).</summary>
    Average,
}

public interface ICollectives : IDisposable
{
    /// <summary>This process's index in [0, WorldSize).</summary>
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>What carries the data ("single process", "Open MPI v4.1.4 ..."), for logs.</summary>
    string Description { get; }

    /// <summary>Reduces <paramref name="count"/> elements of <paramref name="dtype"/> (F32, F64, F16 or BF16) at
    /// <paramref name="buffer"/> across all ranks, in place: afterwards every rank holds the same result.</summary>
    void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op);

    /// <summary>Copies <paramref name="bytes"/> bytes at <paramref name="buffer"/> from rank <paramref name="root"/> to every rank.</summary>
    void Broadcast(nint buffer, long bytes, int root);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Every rank's <paramref name="values"/> (the same length on all ranks), concatenated in rank order.</summary>
    double[] AllGather(ReadOnlySpan<double> values);
}

/// <summary>Span and tensor forms of the collectives (the interface stays pointer-based so GPU memory can use it too).</summary>
public static unsafe class CollectivesExtensions
{
    public static void AllReduce(this ICollectives c, Span<float> buffer, AllReduceOp op = AllReduceOp.Sum)
    {
        fixed (float* p = buffer) c.AllReduce(DType.F32, (nint)p, buffer.Length, op);
    }

    public static void AllReduce(this ICollectives c, Span<double> buffer, AllReduceOp op = AllReduceOp.Sum)
    {
        fixed (double* p = buffer) c.AllReduce(DType.F64, (nint)p, buffer.Length, op);
    }

    public static void AllReduce(this ICollectives c, Span<Half> buffer, AllReduceOp op = AllReduceOp.Sum)
    {
        fixed (Half* p = buffer) c.AllReduce(DType.F16, (nint)p, buffer.Length, op);
    }

    /// <summary>bfloat16 values as their bit patterns (.NET has no bfloat16 type; CpuCopy.FloatToBf16 makes them).</summary>
    public static void AllReduceBf16(this ICollectives c, Span<ushort> buffer, AllReduceOp op = AllReduceOp.Sum)
    {
        fixed (ushort* p = buffer) c.AllReduce(DType.BF16, (nint)p, buffer.Length, op);
    }

    /// <summary>All-reduces a contiguous CPU tensor in place.</summary>
    public static void AllReduce(this ICollectives c, Tensor t, AllReduceOp op = AllReduceOp.Sum)
    {
        if (t.Storage is not CpuStorage cpu) throw new NotSupportedException($"all-reduce of a {t.Device} tensor: only CPU tensors are supported by {c.Description}");
        if (!t.Layout.IsContiguous) throw new ArgumentException("all-reduce needs a contiguous tensor (call Contiguous() first)", nameof(t));
        c.AllReduce(t.DType, (nint)(cpu.Pointer + (long)t.Layout.Offset * t.DType.SizeOf()), t.Numel, op);
    }

    /// <summary>Broadcasts a contiguous CPU tensor's elements from <paramref name="root"/>, in place.</summary>
    public static void Broadcast(this ICollectives c, Tensor t, int root)
    {
        if (t.Storage is not CpuStorage cpu) throw new NotSupportedException($"broadcast of a {t.Device} tensor: only CPU tensors are supported by {c.Description}");
        if (!t.Layout.IsContiguous) throw new ArgumentException("broadcast needs a contiguous tensor (call Contiguous() first)", nameof(t));
        c.Broadcast((nint)(cpu.Pointer + (long)t.Layout.Offset * t.DType.SizeOf()), (long)t.Numel * t.DType.SizeOf(), root);
    }

    public static void Broadcast<T>(this ICollectives c, Span<T> buffer, int root) where T : unmanaged
    {
        fixed (T* p = buffer) c.Broadcast((nint)p, (long)buffer.Length * sizeof(T), root);
    }

    public static double[] AllGather(this ICollectives c, double value) => c.AllGather([value]);

    /// <summary>Checks a rank argument against the world, naming the operation.</summary>
    internal static void CheckRoot(ICollectives c, int root, string operation)
    {
        if (root < 0 || root >= c.WorldSize) throw new ArgumentOutOfRangeException(nameof(root), $"{operation}: root rank {root} is outside [0, {c.WorldSize})");
    }

    internal static void CheckReducible(DType dtype)
    {
        if (dtype is not (DType.F32 or DType.F64 or DType.F16 or DType.BF16))
            throw new NotSupportedException($"all-reduce of {dtype}: only F32, F64, F16 and BF16 buffers are supported");
    }
}

/// <summary>One process, no communication: every collective is the identity (an average over one rank is the value).</summary>
public sealed class SingleProcessCollectives : ICollectives
{
    public int Rank => 0;
    public int WorldSize => 1;
    public string Description => "single process";

    public void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op)
    {
        CollectivesExtensions.CheckReducible(dtype);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
    }

    public void Broadcast(nint buffer, long bytes, int root) => CollectivesExtensions.CheckRoot(this, root, "broadcast");

    public void Barrier() { }

    public double[] AllGather(ReadOnlySpan<double> values) => values.ToArray();

    public void Dispose() { }
}

/// <summary>How F16/BF16 buffers are all-reduced where the transport has no reduction for them (MPI): widened to
/// F32 one bucket at a time, reduced, and rounded once back (so the result is the F32 sum rounded to the type).</summary>
internal static unsafe class WideningReduce
{
    public static void Run(DType dtype, nint buffer, long count, long bucketElements, Action<nint, long> allReduceF32InPlace)
    {
        int size = dtype.SizeOf();
        int bucket = (int)Math.Min(bucketElements, count);
        if (bucket == 0) return;
        var scratch = (float*)NativeMemory.AlignedAlloc((nuint)bucket * sizeof(float), 64);
        try
        {
            for (long start = 0; start < count; start += bucket)
            {
                int n = (int)Math.Min(bucket, count - start);
                byte* p = (byte*)buffer + start * size;
                CpuCopy.Convert(dtype, p, DType.F32, (byte*)scratch, n);
                allReduceF32InPlace((nint)scratch, n);
                CpuCopy.Convert(DType.F32, (byte*)scratch, dtype, p, n);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(scratch);
        }
    }
}
