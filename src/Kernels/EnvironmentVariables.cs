// Every environment variable the library and the cudann command read, named and read here only (docs/kernels.md
// lists them with the benchmark ones). Behaviour that users or tests choose otherwise goes through options objects
// (CpuKernelOptions, TrainConfig), not the environment.
namespace Cuda.Nn.Kernels;

public static class EnvironmentVariables
{
    /// <summary>Failure points for crash-consistency tests: ACTION@SITE#N[,...] (Cuda.Nn.IO.FaultInjection).</summary>
    public const string Fault = "CUDANN_FAULT";

    /// <summary>"1": cudann prints the exception and its stack trace after its one-line error (for developers).</summary>
    public const string Trace = "CUDANN_TRACE";

    /// <summary>The file of a CUDA library, overriding the search: CUDANN_DRIVER_PATH, CUDANN_NVRTC_PATH,
    /// CUDANN_CUBLAS_PATH, CUDANN_CUBLASLT_PATH, CUDANN_CUDNN_PATH, CUDANN_NCCL_PATH (one per Cuda.CudaLibrary), CUDANN_MPI_PATH.</summary>
    public static string LibraryPath(string library) => "CUDANN_" + library.ToUpperInvariant() + "_PATH";

    /// <summary>Open MPI's launcher (mpirun) sets these for every rank (docs/distributed.md).</summary>
    public const string OmpiRank = "OMPI_COMM_WORLD_RANK", OmpiSize = "OMPI_COMM_WORLD_SIZE",
        OmpiLocalRank = "OMPI_COMM_WORLD_LOCAL_RANK", OmpiLocalSize = "OMPI_COMM_WORLD_LOCAL_SIZE";

    /// <summary>torchrun's (and torch.distributed's env://) rendezvous variables.</summary>
    public const string TorchRank = "RANK", TorchWorldSize = "WORLD_SIZE", TorchLocalRank = "LOCAL_RANK",
        TorchLocalWorldSize = "LOCAL_WORLD_SIZE", MasterAddr = "MASTER_ADDR", MasterPort = "MASTER_PORT";

    public static string? Read(string name) => Environment.GetEnvironmentVariable(name);
}
