// Errors from the CUDA libraries: the failing call, its numeric status and the library's own name for it.
namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>A CUDA driver, NVRTC, cuBLAS or cuDNN call returned an error status.</summary>
public class CudaException(string library, string call, int status, string statusName, string? detail = null)
    : Exception($"{library} {call} failed: {statusName} ({status}){(detail is null ? "" : ": " + detail)}")
{
    public string Library { get; } = library;
    public string Call { get; } = call;
    public int Status { get; } = status;
}

/// <summary>NVRTC compilation failed; <see cref="Log"/> holds the compiler's log.</summary>
public sealed class NvrtcCompileException(string sourceName, string options, string log)
    : Exception($"NVRTC could not compile {sourceName} ({options}):\n{log}")
{
    public string Log { get; } = log;
}
