// CUDA driver API wrappers (libcuda.so.1); the [LibraryImport] declarations are generated from cuda.h into
// Generated/CudaDriver.g.cs (tools/BindingGen). Names with _v2 are the exported symbols the headers map the
// plain names onto; device pointers (CUdeviceptr) are 64-bit integers. Contexts: the primary context only,
// the one cuBLAS, cuDNN and the runtime API use, so our kernels and theirs share memory and streams.
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>The device attributes we read (values of CUdevice_attribute).</summary>
public enum CudaDeviceAttribute
{
    MaxThreadsPerBlock = 1,
    MaxBlockDimX = 2,
    MaxGridDimX = 5,
    MaxSharedMemoryPerBlock = 8,
    WarpSize = 10,
    MultiprocessorCount = 16,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary>Process-wide driver state: availability, one cuInit, device enumeration, error translation.</summary>
public static unsafe class CudaDriver
{
    private static readonly Lazy<int> InitStatus = new(() =>
    {
        NativeLibraryResolver.Load(CudaLibrary.Driver);
        return CudaDriverNative.cuInit(0);
    });

    /// <summary>True when libcuda.so.1 loads (a driver is installed); says nothing yet about devices.</summary>
    public static bool IsAvailable => NativeLibraryResolver.TryLoad(CudaLibrary.Driver, out _);

    /// <summary>Loads the driver and calls cuInit once; throws with the driver's reason on failure.</summary>
    public static void Initialize() => Check(InitStatus.Value, "cuInit");

    /// <summary>Driver API version, e.g. 13000 for CUDA 13.0 (needs no cuInit and no device).</summary>
    public static int Version
    {
        get
        {
            NativeLibraryResolver.Load(CudaLibrary.Driver);
            Check(CudaDriverNative.cuDriverGetVersion(out int v), "cuDriverGetVersion");
            return v;
        }
    }

    public static int DeviceCount
    {
        get
        {
            Initialize();
            Check(CudaDriverNative.cuDeviceGetCount(out int n), "cuDeviceGetCount");
            return n;
        }
    }

    /// <summary>Why no device can be used, or null when device 0 is usable (for tests and diagnostics).</summary>
    public static string? UnavailableReason()
    {
        if (!NativeLibraryResolver.TryLoad(CudaLibrary.Driver, out var error)) return error;
        if (InitStatus.Value != 0) return $"cuInit failed: {ErrorName(InitStatus.Value)} ({InitStatus.Value})";
        try
        {
            return DeviceCount == 0 ? "the CUDA driver reports no device" : null;
        }
        catch (CudaException e)
        {
            return e.Message;
        }
    }

    public static string ErrorName(int status)
    {
        if (CudaDriverNative.cuGetErrorName(status, out byte* name) != 0 || name is null) return $"CUDA error {status}";
        return Marshal.PtrToStringUTF8((nint)name) ?? $"CUDA error {status}";
    }

    internal static void Check(int status, string call)
    {
        if (status == 0) return;
        string? text = CudaDriverNative.cuGetErrorString(status, out byte* s) == 0 && s is not null ? Marshal.PtrToStringUTF8((nint)s) : null;
        throw new CudaException("CUDA driver", call, status, ErrorName(status), text);
    }
}

/// <summary>CUDA device N: identity and attributes.</summary>
public readonly unsafe record struct CudaDevice(int Ordinal)
{
    /// <summary>The driver's CUdevice for this ordinal (what cuDevicePrimaryCtx* take).</summary>
    internal int Handle
    {
        get
        {
            CudaDriver.Initialize();
            CudaDriver.Check(CudaDriverNative.cuDeviceGet(out int d, Ordinal), "cuDeviceGet");
            return d;
        }
    }

    public string Name
    {
        get
        {
            var buf = stackalloc byte[256];
            CudaDriver.Check(CudaDriverNative.cuDeviceGetName(buf, 256, Handle), "cuDeviceGetName");
            return Marshal.PtrToStringUTF8((nint)buf) ?? "";
        }
    }

    public int Attribute(CudaDeviceAttribute attribute)
    {
        CudaDriver.Check(CudaDriverNative.cuDeviceGetAttribute(out int v, (int)attribute, Handle), "cuDeviceGetAttribute");
        return v;
    }

    public (int Major, int Minor) ComputeCapability =>
        (Attribute(CudaDeviceAttribute.ComputeCapabilityMajor), Attribute(CudaDeviceAttribute.ComputeCapabilityMinor));

    public long TotalMemory
    {
        get
        {
            CudaDriver.Check(CudaDriverNative.cuDeviceTotalMem_v2(out nuint bytes, Handle), "cuDeviceTotalMem");
            return (long)bytes;
        }
    }
}
