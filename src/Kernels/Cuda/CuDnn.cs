// cuDNN 9 bindings for convolution through the legacy API (deprecated in 9 but present): tensor, filter
// and convolution descriptors, algorithm choice (heuristic _v7 or measured Find), workspace sizes, and
// forward / backward-data / backward-filter. Thin owning wrappers follow; NCHW and OIHW like our tensors.
using System.Runtime.InteropServices;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: the three structs share this layout.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CudnnAlgoPerf
{
    public int Algo;
    public int Status;
    public float Time;
    public nuint Memory;
    public int Determinism;
    public int MathType;
    public int Reserved0, Reserved1, Reserved2;
}

internal static unsafe partial class CudnnNative
{
    static CudnnNative() => NativeLibraryResolver.Install();

    private const string Lib = NativeLibraryResolver.CudnnImport;

    [LibraryImport(Lib)] internal static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] internal static partial byte* cudnnGetErrorString(int status);
    [LibraryImport(Lib)] internal static partial int cudnnCreate(out nint handle);
    [LibraryImport(Lib)] internal static partial int cudnnDestroy(nint handle);
    [LibraryImport(Lib)] internal static partial int cudnnSetStream(nint handle, nint stream);

    [LibraryImport(Lib)] internal static partial int cudnnCreateTensorDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial int cudnnSetTensor4dDescriptor(nint desc, int format, int dataType, int n, int c, int h, int w);
    [LibraryImport(Lib)] internal static partial int cudnnDestroyTensorDescriptor(nint desc);
    [LibraryImport(Lib)] internal static partial int cudnnCreateFilterDescriptor(out nint desc);
    [LibraryImport(Lib)] internal static partial int cudnnSetFilter4dDescriptor(nint desc, int dataType, int format, int k, int c, int h, int w);
    [LibraryImport(Lib)] internal static partial int cudnnDestroyFilterDescriptor(nint desc);
    [LibraryImport(Lib)] internal static partial int cudnnCreateConvolutionDescriptor(out nint desc);
    [LibraryImport(Lib)]
    internal static partial int cudnnSetConvolution2dDescriptor(nint desc, int padH, int padW, int strideH, int strideW, int dilationH, int dilationW, int mode, int computeType);
    [LibraryImport(Lib)] internal static partial int cudnnSetConvolutionGroupCount(nint desc, int groups);
    [LibraryImport(Lib)] internal static partial int cudnnSetConvolutionMathType(nint desc, int mathType);
    [LibraryImport(Lib)] internal static partial int cudnnDestroyConvolutionDescriptor(nint desc);
    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolution2dForwardOutputDim(nint conv, nint x, nint w, out int n, out int c, out int h, out int wOut);

    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint x, nint w, nint conv, nint y, int requested, out int returned, CudnnAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint w, nint dy, nint conv, nint dx, int requested, out int returned, CudnnAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint x, nint dy, nint conv, nint dw, int requested, out int returned, CudnnAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static partial int cudnnFindConvolutionForwardAlgorithm(nint handle, nint x, nint w, nint conv, nint y, int requested, out int returned, CudnnAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static partial int cudnnFindConvolutionBackwardDataAlgorithm(nint handle, nint w, nint dy, nint conv, nint dx, int requested, out int returned, CudnnAlgoPerf* perf);
    [LibraryImport(Lib)]
    internal static partial int cudnnFindConvolutionBackwardFilterAlgorithm(nint handle, nint x, nint dy, nint conv, nint dw, int requested, out int returned, CudnnAlgoPerf* perf);

    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint x, nint w, nint conv, nint y, int algo, out nuint bytes);
    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint w, nint dy, nint conv, nint dx, int algo, out nuint bytes);
    [LibraryImport(Lib)]
    internal static partial int cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint x, nint dy, nint conv, nint dw, int algo, out nuint bytes);

    [LibraryImport(Lib)]
    internal static partial int cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint yDesc, ulong y);
    [LibraryImport(Lib)]
    internal static partial int cudnnConvolutionBackwardData(nint handle, void* alpha, nint wDesc, ulong w, nint dyDesc, ulong dy, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint dxDesc, ulong dx);
    [LibraryImport(Lib)]
    internal static partial int cudnnConvolutionBackwardFilter(nint handle, void* alpha, nint xDesc, ulong x, nint dyDesc, ulong dy, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, void* beta, nint dwDesc, ulong dw);
}

/// <summary>cudnnDataType_t values used here.</summary>
public enum CudnnDataType
{
    Float = 0,
    Double = 1,
    Half = 2,
    BFloat16 = 9,
}

/// <summary>cudnnMathType_t: whether tensor cores may be used.</summary>
public enum CudnnMathType
{
    Default = 0,
    TensorOp = 1,
    TensorOpAllowConversion = 2,
    Fma = 3,
}

/// <summary>A cuDNN handle bound to the current context, with the convolution calls.</summary>
public sealed unsafe class Cudnn : IDisposable
{
    private const int NchwFormat = 0, CrossCorrelation = 1;

    public nint Handle { get; private set; }

    public Cudnn()
    {
        NativeLibraryResolver.Load(CudaLibrary.Cudnn);
        Check(CudnnNative.cudnnCreate(out nint h), "cudnnCreate");
        Handle = h;
    }

    /// <summary>cuDNN's version number (e.g. 91000 for 9.10.0).</summary>
    public static long Version
    {
        get
        {
            NativeLibraryResolver.Load(CudaLibrary.Cudnn);
            return (long)CudnnNative.cudnnGetVersion();
        }
    }

    public void SetStream(CudaStream stream) => Check(CudnnNative.cudnnSetStream(Handle, stream.Handle), "cudnnSetStream");

    internal static void Check(int status, string call)
    {
        if (status == 0) return;
        var name = Marshal.PtrToStringUTF8((nint)CudnnNative.cudnnGetErrorString(status)) ?? "CUDNN_STATUS_UNKNOWN";
        throw new CudaException("cuDNN", call, status, name);
    }

    /// <summary>A dense NCHW tensor descriptor.</summary>
    public static nint TensorDescriptor(CudnnDataType type, int n, int c, int h, int w)
    {
        Check(CudnnNative.cudnnCreateTensorDescriptor(out nint d), "cudnnCreateTensorDescriptor");
        Check(CudnnNative.cudnnSetTensor4dDescriptor(d, NchwFormat, (int)type, n, c, h, w), $"cudnnSetTensor4dDescriptor({n}x{c}x{h}x{w})");
        return d;
    }

    /// <summary>An OIHW filter descriptor (k output channels, c input channels per group).</summary>
    public static nint FilterDescriptor(CudnnDataType type, int k, int c, int h, int w)
    {
        Check(CudnnNative.cudnnCreateFilterDescriptor(out nint d), "cudnnCreateFilterDescriptor");
        Check(CudnnNative.cudnnSetFilter4dDescriptor(d, (int)type, NchwFormat, k, c, h, w), $"cudnnSetFilter4dDescriptor({k}x{c}x{h}x{w})");
        return d;
    }

    /// <summary>A 2-D cross-correlation (what deep-learning "convolution" means), F32 accumulation by default.</summary>
    public static nint ConvolutionDescriptor(int padH, int padW, int strideH, int strideW, int dilationH, int dilationW, int groups,
        CudnnDataType computeType = CudnnDataType.Float, CudnnMathType math = CudnnMathType.TensorOpAllowConversion)
    {
        Check(CudnnNative.cudnnCreateConvolutionDescriptor(out nint d), "cudnnCreateConvolutionDescriptor");
        Check(CudnnNative.cudnnSetConvolution2dDescriptor(d, padH, padW, strideH, strideW, dilationH, dilationW, CrossCorrelation, (int)computeType),
            "cudnnSetConvolution2dDescriptor");
        if (groups != 1) Check(CudnnNative.cudnnSetConvolutionGroupCount(d, groups), "cudnnSetConvolutionGroupCount");
        Check(CudnnNative.cudnnSetConvolutionMathType(d, (int)math), "cudnnSetConvolutionMathType");
        return d;
    }

    public static void DestroyTensorDescriptor(nint d) => Check(CudnnNative.cudnnDestroyTensorDescriptor(d), "cudnnDestroyTensorDescriptor");
    public static void DestroyFilterDescriptor(nint d) => Check(CudnnNative.cudnnDestroyFilterDescriptor(d), "cudnnDestroyFilterDescriptor");
    public static void DestroyConvolutionDescriptor(nint d) => Check(CudnnNative.cudnnDestroyConvolutionDescriptor(d), "cudnnDestroyConvolutionDescriptor");

    public static (int N, int C, int H, int W) ForwardOutputShape(nint conv, nint x, nint w)
    {
        Check(CudnnNative.cudnnGetConvolution2dForwardOutputDim(conv, x, w, out int n, out int c, out int h, out int wo), "cudnnGetConvolution2dForwardOutputDim");
        return (n, c, h, wo);
    }

    /// <summary>Which convolution pass an algorithm query or workspace size is for.</summary>
    public enum Pass { Forward, BackwardData, BackwardFilter }

    /// <summary>
    /// Candidate algorithms for a pass, best first: heuristics (_v7, no GPU work) or measured (Find: runs each
    /// candidate, allocating its own scratch). Descriptors in (x, w, y) order whatever the pass.
    /// Only entries with a success status are returned.
    /// </summary>
    public CudnnAlgoPerf[] Algorithms(Pass pass, nint conv, nint x, nint w, nint y, bool measure = false)
    {
        const int requested = 16;
        var perf = stackalloc CudnnAlgoPerf[requested];
        int returned;
        int status = (pass, measure) switch
        {
            (Pass.Forward, false) => CudnnNative.cudnnGetConvolutionForwardAlgorithm_v7(Handle, x, w, conv, y, requested, out returned, perf),
            (Pass.Forward, true) => CudnnNative.cudnnFindConvolutionForwardAlgorithm(Handle, x, w, conv, y, requested, out returned, perf),
            (Pass.BackwardData, false) => CudnnNative.cudnnGetConvolutionBackwardDataAlgorithm_v7(Handle, w, y, conv, x, requested, out returned, perf),
            (Pass.BackwardData, true) => CudnnNative.cudnnFindConvolutionBackwardDataAlgorithm(Handle, w, y, conv, x, requested, out returned, perf),
            (Pass.BackwardFilter, false) => CudnnNative.cudnnGetConvolutionBackwardFilterAlgorithm_v7(Handle, x, y, conv, w, requested, out returned, perf),
            _ => CudnnNative.cudnnFindConvolutionBackwardFilterAlgorithm(Handle, x, y, conv, w, requested, out returned, perf),
        };
        Check(status, $"{(measure ? "cudnnFind" : "cudnnGet")}Convolution{pass}Algorithm");
        var result = new List<CudnnAlgoPerf>();
        for (int i = 0; i < returned; i++)
            if (perf[i].Status == 0) result.Add(perf[i]);
        return [.. result];
    }

    /// <summary>Scratch bytes an algorithm needs for a pass (descriptors in (x, w, y) order).</summary>
    public long WorkspaceSize(Pass pass, int algo, nint conv, nint x, nint w, nint y)
    {
        nuint bytes;
        int status = pass switch
        {
            Pass.Forward => CudnnNative.cudnnGetConvolutionForwardWorkspaceSize(Handle, x, w, conv, y, algo, out bytes),
            Pass.BackwardData => CudnnNative.cudnnGetConvolutionBackwardDataWorkspaceSize(Handle, w, y, conv, x, algo, out bytes),
            _ => CudnnNative.cudnnGetConvolutionBackwardFilterWorkspaceSize(Handle, x, y, conv, w, algo, out bytes),
        };
        Check(status, $"cudnnGetConvolution{pass}WorkspaceSize");
        return (long)bytes;
    }

    /// <summary>y = alpha conv(x, w) + beta y. Scalars are float (F32, F16 and BF16 data all take float scalars).</summary>
    public void ConvolutionForward(nint conv, int algo, nint xDesc, ulong x, nint wDesc, ulong w, nint yDesc, ulong y,
        ulong workspace, long workspaceBytes, float alpha = 1, float beta = 0) =>
        Check(CudnnNative.cudnnConvolutionForward(Handle, &alpha, xDesc, x, wDesc, w, conv, algo, workspace, (nuint)workspaceBytes, &beta, yDesc, y),
            "cudnnConvolutionForward");

    /// <summary>dx = alpha conv_transpose(dy, w) + beta dx.</summary>
    public void ConvolutionBackwardData(nint conv, int algo, nint wDesc, ulong w, nint dyDesc, ulong dy, nint dxDesc, ulong dx,
        ulong workspace, long workspaceBytes, float alpha = 1, float beta = 0) =>
        Check(CudnnNative.cudnnConvolutionBackwardData(Handle, &alpha, wDesc, w, dyDesc, dy, conv, algo, workspace, (nuint)workspaceBytes, &beta, dxDesc, dx),
            "cudnnConvolutionBackwardData");

    /// <summary>dw = alpha corr(x, dy) + beta dw (beta 1 accumulates, as gradient accumulation needs).</summary>
    public void ConvolutionBackwardFilter(nint conv, int algo, nint xDesc, ulong x, nint dyDesc, ulong dy, nint dwDesc, ulong dw,
        ulong workspace, long workspaceBytes, float alpha = 1, float beta = 0) =>
        Check(CudnnNative.cudnnConvolutionBackwardFilter(Handle, &alpha, xDesc, x, dyDesc, dy, conv, algo, workspace, (nuint)workspaceBytes, &beta, dwDesc, dw),
            "cudnnConvolutionBackwardFilter");

    public void Dispose()
    {
        if (Handle == 0) return;
        var h = Handle;
        Handle = 0;
        Check(CudnnNative.cudnnDestroy(h), "cudnnDestroy");
    }
}
