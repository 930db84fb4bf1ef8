// NVRTC (libnvrtc.so.11.2 and later): create a program with in-memory headers, compile, read the log, PTX and
// cubin. The declarations are generated from nvrtc.h into Generated/Nvrtc.g.cs (tools/BindingGen).
// Blittable signatures; strings cross as UTF-8 byte pointers we marshal ourselves.
using System.Runtime.InteropServices;
using System.Text;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>A header handed to NVRTC in memory: the name as written in #include "...", and its text.</summary>
public readonly record struct NvrtcHeader(string IncludeName, string Source);

/// <summary>Safe NVRTC calls. Every method throws <see cref="CudaLibraryNotFoundException"/> when libnvrtc is absent.</summary>
public static unsafe class Nvrtc
{
    public const int CompilationError = 6;

    public static bool IsAvailable => NativeLibraryResolver.TryLoad(CudaLibrary.Nvrtc, out _);

    /// <summary>NVRTC's (major, minor) version, e.g. (11, 8) for Debian's libnvrtc11.2.</summary>
    public static (int Major, int Minor) Version
    {
        get
        {
            NativeLibraryResolver.Load(CudaLibrary.Nvrtc);
            Check(NvrtcNative.nvrtcVersion(out int major, out int minor), "nvrtcVersion");
            return (major, minor);
        }
    }

    /// <summary>The SM numbers this NVRTC can target (e.g. 35 ... 90).</summary>
    public static int[] SupportedArchs()
    {
        NativeLibraryResolver.Load(CudaLibrary.Nvrtc);
        Check(NvrtcNative.nvrtcGetNumSupportedArchs(out int n), "nvrtcGetNumSupportedArchs");
        var archs = new int[n];
        fixed (int* p = archs) Check(NvrtcNative.nvrtcGetSupportedArchs(p), "nvrtcGetSupportedArchs");
        return archs;
    }

    /// <summary>NVRTC's text for a status code.</summary>
    public static string ErrorString(int status) => Marshal.PtrToStringUTF8((nint)NvrtcNative.nvrtcGetErrorString(status)) ?? $"status {status}";

    internal static void Check(int status, string call)
    {
        if (status != 0) throw new CudaException("NVRTC", call, status, ErrorString(status));
    }

    /// <summary>Compiles CUDA C to PTX (and to a cubin when an sm_XY architecture is given).</summary>
    /// <returns>The PTX text (null for an sm_ target), the cubin (null for a compute_ target) and the compiler log.</returns>
    public static (string? Ptx, byte[]? Cubin, string Log) Compile(string source, string sourceName, IReadOnlyList<NvrtcHeader> headers, IReadOnlyList<string> options)
    {
        NativeLibraryResolver.Load(CudaLibrary.Nvrtc);
        var pinned = new List<nint>();
        byte* Utf8(string s)
        {
            nint p = Marshal.StringToCoTaskMemUTF8(s);
            pinned.Add(p);
            return (byte*)p;
        }
        nint program = 0;
        try
        {
            var headerPtrs = stackalloc byte*[Math.Max(1, headers.Count)];
            var namePtrs = stackalloc byte*[Math.Max(1, headers.Count)];
            for (int i = 0; i < headers.Count; i++)
            {
                headerPtrs[i] = Utf8(headers[i].Source);
                namePtrs[i] = Utf8(headers[i].IncludeName);
            }
            Check(NvrtcNative.nvrtcCreateProgram(out program, Utf8(source), Utf8(sourceName), headers.Count,
                headers.Count > 0 ? headerPtrs : null, headers.Count > 0 ? namePtrs : null), "nvrtcCreateProgram");
            var optionPtrs = stackalloc byte*[Math.Max(1, options.Count)];
            for (int i = 0; i < options.Count; i++) optionPtrs[i] = Utf8(options[i]);
            int status = NvrtcNative.nvrtcCompileProgram(program, options.Count, optionPtrs);
            string log = ReadLog(program);
            if (status == CompilationError) throw new NvrtcCompileException(sourceName, string.Join(' ', options), log);
            Check(status, "nvrtcCompileProgram");
            bool cubinTarget = options.Any(o => o.StartsWith("--gpu-architecture=sm_", StringComparison.Ordinal) || o.StartsWith("-arch=sm_", StringComparison.Ordinal));
            if (cubinTarget)
            {
                Check(NvrtcNative.nvrtcGetCUBINSize(program, out nuint cubinSize), "nvrtcGetCUBINSize");
                var cubin = new byte[(int)cubinSize];
                fixed (byte* c = cubin) Check(NvrtcNative.nvrtcGetCUBIN(program, c), "nvrtcGetCUBIN");
                return (null, cubin, log);
            }
            Check(NvrtcNative.nvrtcGetPTXSize(program, out nuint size), "nvrtcGetPTXSize");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx) Check(NvrtcNative.nvrtcGetPTX(program, p), "nvrtcGetPTX");
            // The size counts the terminating NUL.
            return (Encoding.UTF8.GetString(ptx, 0, Math.Max(0, (int)size - 1)), null, log);
        }
        finally
        {
            if (program != 0) NvrtcNative.nvrtcDestroyProgram(ref program);
            foreach (var p in pinned) Marshal.FreeCoTaskMem(p);
        }
    }

    private static string ReadLog(nint program)
    {
        Check(NvrtcNative.nvrtcGetProgramLogSize(program, out nuint size), "nvrtcGetProgramLogSize");
        if (size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) Check(NvrtcNative.nvrtcGetProgramLog(program, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(log, 0, (int)size - 1).TrimEnd();
    }
}
