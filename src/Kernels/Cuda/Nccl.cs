// NCCL's entry points that need no GPU, bound with our own [LibraryImport]: enough to find and identify the library.
// The collectives over GPU buffers (ncclCommInitRank, ncclAllReduce) come with a GPU to test them on (docs/distributed.md).
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.CudaNative;

internal static partial class NcclNative
{
    static NcclNative() => NativeLibraryResolver.Install();

    [LibraryImport(NativeLibraryResolver.NcclImport, EntryPoint = "ncclGetVersion")]
    public static partial int GetVersion(out int version);

    [LibraryImport(NativeLibraryResolver.NcclImport, EntryPoint = "ncclGetErrorString")]
    public static partial nint GetErrorString(int result);
}

public static class Nccl
{
    /// <summary>NCCL's version ("2.21.5"). Throws CudaLibraryNotFoundException, naming libnccl.so.2 and every folder
    /// looked in, when the library is absent; works without a GPU.</summary>
    public static string Version()
    {
        NativeLibraryResolver.Load(CudaLibrary.Nccl);
        int result = NcclNative.GetVersion(out int code);
        if (result != 0) throw new InvalidOperationException($"ncclGetVersion failed: {Marshal.PtrToStringUTF8(NcclNative.GetErrorString(result))}");
        // NCCL_VERSION_CODE: major * 10000 + minor * 100 + patch since 2.9, major * 1000 + minor * 100 + patch before.
        return code >= 20900 ? $"{code / 10000}.{code / 100 % 100}.{code % 100}" : $"{code / 1000}.{code / 100 % 10}.{code % 100}";
    }
}
