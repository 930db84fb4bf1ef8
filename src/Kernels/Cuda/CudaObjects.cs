// Thin owning wrappers over driver objects: primary context, stream, device buffer, module, kernel.
// Each frees its handle in Dispose (no finalizers: GPU memory must not wait for the GC), and every call
// goes through CudaDriver.Check so a failure names the call and the driver's error.
using System.Runtime.InteropServices;
using System.Text;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>A retained primary context of one device. Dispose releases the retain.</summary>
public sealed class CudaContext : IDisposable
{
    public CudaDevice Device { get; }
    public nint Handle { get; private set; }

    public CudaContext(int ordinal = 0)
    {
        CudaDriver.Initialize();
        int count = CudaDriver.DeviceCount;
        if (ordinal < 0 || ordinal >= count)
            throw new ArgumentOutOfRangeException(nameof(ordinal), ordinal, $"CUDA device {ordinal} does not exist: the driver reports {count} device(s)");
        Device = new CudaDevice(ordinal);
        CudaDriver.Check(CudaDriverNative.cuDevicePrimaryCtxRetain(out nint ctx, Device.Handle), "cuDevicePrimaryCtxRetain");
        Handle = ctx;
        MakeCurrent();
    }

    /// <summary>Binds the context to the calling thread (driver calls use the thread's current context).</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(Handle == 0, this);
        CudaDriver.Check(CudaDriverNative.cuCtxSetCurrent(Handle), "cuCtxSetCurrent");
    }

    public void Synchronize() => CudaDriver.Check(CudaDriverNative.cuCtxSynchronize(), "cuCtxSynchronize");

    public (long Free, long Total) MemoryInfo()
    {
        CudaDriver.Check(CudaDriverNative.cuMemGetInfo_v2(out nuint free, out nuint total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    public void Dispose()
    {
        if (Handle == 0) return;
        Handle = 0;
        CudaDriver.Check(CudaDriverNative.cuDevicePrimaryCtxRelease_v2(Device.Handle), "cuDevicePrimaryCtxRelease");
    }
}

/// <summary>A CUDA stream; <see cref="Null"/> is the legacy default stream.</summary>
public sealed class CudaStream : IDisposable
{
    /// <summary>CU_STREAM_NON_BLOCKING: no implicit synchronisation with the NULL stream.</summary>
    public const uint NonBlocking = 1;

    public static readonly CudaStream Null = new(0);

    public nint Handle { get; private set; }

    private CudaStream(nint handle) => Handle = handle;

    public static CudaStream Create(bool nonBlocking = true)
    {
        CudaDriver.Check(CudaDriverNative.cuStreamCreate(out nint s, nonBlocking ? NonBlocking : 0), "cuStreamCreate");
        return new CudaStream(s);
    }

    public void Synchronize() => CudaDriver.Check(CudaDriverNative.cuStreamSynchronize(Handle), "cuStreamSynchronize");

    public void Dispose()
    {
        if (Handle == 0) return;
        var h = Handle;
        Handle = 0;
        CudaDriver.Check(CudaDriverNative.cuStreamDestroy_v2(h), "cuStreamDestroy");
    }
}

/// <summary>Device memory of a fixed byte size (cuMemAlloc: 256-byte aligned).</summary>
public sealed unsafe class CudaBuffer : IDisposable
{
    public ulong Pointer { get; private set; }
    public long Bytes { get; }

    public CudaBuffer(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        CudaDriver.Check(CudaDriverNative.cuMemAlloc_v2(out ulong p, (nuint)bytes), $"cuMemAlloc({bytes} bytes)");
        Pointer = p;
        Bytes = bytes;
    }

    public static CudaBuffer From<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var b = new CudaBuffer(Math.Max(1, (long)data.Length * sizeof(T)));
        b.CopyFrom(data);
        return b;
    }

    private void CheckSize(long bytes, string what)
    {
        ObjectDisposedException.ThrowIf(Pointer == 0, this);
        if (bytes > Bytes) throw new ArgumentException($"{what} of {bytes} bytes does not fit a device buffer of {Bytes} bytes");
    }

    public void CopyFrom<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        long bytes = (long)source.Length * sizeof(T);
        CheckSize(bytes, "host-to-device copy");
        if (bytes == 0) return;
        fixed (T* p = source) CudaDriver.Check(CudaDriverNative.cuMemcpyHtoD_v2(Pointer, p, (nuint)bytes), "cuMemcpyHtoD");
    }

    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        long bytes = (long)destination.Length * sizeof(T);
        CheckSize(bytes, "device-to-host copy");
        if (bytes == 0) return;
        fixed (T* p = destination) CudaDriver.Check(CudaDriverNative.cuMemcpyDtoH_v2(p, Pointer, (nuint)bytes), "cuMemcpyDtoH");
    }

    public T[] ToArray<T>() where T : unmanaged
    {
        var a = new T[Bytes / sizeof(T)];
        CopyTo<T>(a);
        return a;
    }

    public void CopyFromDevice(CudaBuffer source, long bytes)
    {
        CheckSize(bytes, "device-to-device copy");
        if (bytes > source.Bytes) throw new ArgumentException($"device-to-device copy of {bytes} bytes reads past a source of {source.Bytes} bytes");
        CudaDriver.Check(CudaDriverNative.cuMemcpyDtoD_v2(Pointer, source.Pointer, (nuint)bytes), "cuMemcpyDtoD");
    }

    public void Clear()
    {
        ObjectDisposedException.ThrowIf(Pointer == 0, this);
        CudaDriver.Check(CudaDriverNative.cuMemsetD8_v2(Pointer, 0, (nuint)Bytes), "cuMemsetD8");
    }

    public void Dispose()
    {
        if (Pointer == 0) return;
        var p = Pointer;
        Pointer = 0;
        CudaDriver.Check(CudaDriverNative.cuMemFree_v2(p), "cuMemFree");
    }
}

/// <summary>A loaded PTX or cubin image; the JIT's error log is part of a load failure's message.</summary>
public sealed unsafe class CudaModule : IDisposable
{
    // CUjit_option values (INTEROP.md).
    private const int JitErrorLogBuffer = 5, JitErrorLogBufferSizeBytes = 6;

    public nint Handle { get; private set; }

    private CudaModule(nint handle) => Handle = handle;

    /// <summary>Loads PTX text (NUL-terminated for the driver) into the current context.</summary>
    public static CudaModule LoadPtx(string ptx)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(ptx) + 1];
        Encoding.UTF8.GetBytes(ptx, bytes);
        return LoadImage(bytes);
    }

    /// <summary>Loads a PTX (NUL-terminated) or cubin image into the current context.</summary>
    public static CudaModule LoadImage(ReadOnlySpan<byte> image)
    {
        const int logSize = 8192;
        var log = stackalloc byte[logSize];
        var options = stackalloc int[2] { JitErrorLogBuffer, JitErrorLogBufferSizeBytes };
        var values = stackalloc nint[2] { (nint)log, logSize };
        int status;
        nint module;
        fixed (byte* p = image) status = CudaDriverNative.cuModuleLoadDataEx(out module, p, 2, options, values);
        if (status != 0)
        {
            var text = Marshal.PtrToStringUTF8((nint)log)?.Trim();
            throw new CudaException("CUDA driver", "cuModuleLoadDataEx", status, CudaDriver.ErrorName(status), string.IsNullOrEmpty(text) ? null : text);
        }
        return new CudaModule(module);
    }

    public CudaFunction GetFunction(string name)
    {
        ObjectDisposedException.ThrowIf(Handle == 0, this);
        var utf8 = Encoding.UTF8.GetBytes(name + "\0");
        int status;
        nint f;
        fixed (byte* p = utf8) status = CudaDriverNative.cuModuleGetFunction(out f, Handle, p);
        if (status != 0)
            throw new CudaException("CUDA driver", $"cuModuleGetFunction(\"{name}\")", status, CudaDriver.ErrorName(status), "is the kernel declared extern \"C\" __global__ in the loaded source?");
        return new CudaFunction(f, name);
    }

    public void Dispose()
    {
        if (Handle == 0) return;
        var h = Handle;
        Handle = 0;
        CudaDriver.Check(CudaDriverNative.cuModuleUnload(h), "cuModuleUnload");
    }
}

/// <summary>A kernel of a loaded module (valid while the module is).</summary>
public sealed unsafe class CudaFunction(nint handle, string name)
{
    // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: needed above 48 KB of dynamic shared memory.
    private const int MaxDynamicSharedSizeBytes = 8;

    public nint Handle { get; } = handle;
    public string Name { get; } = name;

    public void SetMaxDynamicSharedMemory(int bytes) =>
        CudaDriver.Check(CudaDriverNative.cuFuncSetAttribute(Handle, MaxDynamicSharedSizeBytes, bytes), $"cuFuncSetAttribute({Name})");

    /// <summary>Launches with the packed arguments; asynchronous on <paramref name="stream"/>.</summary>
    public void Launch((uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, KernelArguments args, CudaStream? stream = null, uint sharedMemoryBytes = 0)
    {
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0 || block.X == 0 || block.Y == 0 || block.Z == 0)
            throw new ArgumentException($"kernel {Name}: empty launch grid {grid} / block {block}");
        fixed (byte* data = args.Data)
        {
            var ptrs = stackalloc void*[Math.Max(1, args.Count)];
            for (int i = 0; i < args.Count; i++) ptrs[i] = data + KernelArguments.Offset(i);
            CudaDriver.Check(CudaDriverNative.cuLaunchKernel(Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
                sharedMemoryBytes, (stream ?? CudaStream.Null).Handle, ptrs, null), $"cuLaunchKernel({Name})");
        }
    }

    /// <summary>A 1-D launch.</summary>
    public void Launch(uint grid, uint block, KernelArguments args, CudaStream? stream = null, uint sharedMemoryBytes = 0) =>
        Launch((grid, 1, 1), (block, 1, 1), args, stream, sharedMemoryBytes);
}

/// <summary>What a kernel argument is, as far as the launch ABI cares (PTX: .u64, .u32, .u64, .f32).</summary>
public enum KernelArgumentKind : byte
{
    Pointer,
    Int,
    Long,
    Float,
}

/// <summary>
/// Kernel arguments packed by value, each in an 8-byte slot (cuLaunchKernel reads each through its own
/// pointer, so slots only need the argument's natural alignment). Pointers are device addresses (ulong).
/// The kinds are kept so tests can check a launch against the parameter list in the kernel's PTX.
/// </summary>
public sealed class KernelArguments
{
    private readonly List<long> _slots = [];
    private readonly List<KernelArgumentKind> _kinds = [];

    public int Count => _slots.Count;
    public IReadOnlyList<KernelArgumentKind> Kinds => _kinds;
    internal byte[] Data => MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_slots)).ToArray();
    internal static int Offset(int index) => index * sizeof(long);

    public KernelArguments Pointer(ulong devicePointer) => Add((long)devicePointer, KernelArgumentKind.Pointer);
    public KernelArguments Pointer(CudaBuffer? buffer) => Add((long)(buffer?.Pointer ?? 0), KernelArgumentKind.Pointer);
    // A 4-byte value sits in the slot's low bytes: x86-64 and aarch64 are little-endian.
    public KernelArguments Int(int value) => Add((uint)value, KernelArgumentKind.Int);
    public KernelArguments Long(long value) => Add(value, KernelArgumentKind.Long);
    public KernelArguments Float(float value) => Add((uint)BitConverter.SingleToInt32Bits(value), KernelArgumentKind.Float);

    private KernelArguments Add(long bits, KernelArgumentKind kind)
    {
        _slots.Add(bits);
        _kinds.Add(kind);
        return this;
    }
}
