// The public face of cudann_trt.h's enums and flag bits, with the header's values (generated TrtNative holds the
// same ones; GeneratedTrtBindingsTests checks each member against it). Our numbering, not TensorRT's: the shim
// maps every value explicitly.
namespace Cuda.Nn.Interop.TensorRT;

/// <summary>cudann_trt_status: what a shim call returned.</summary>
public enum TrtStatus
{
    Ok = 0,
    InvalidArgument = 1,
    TensorrtFailed = 2,
    Exception = 3,
    ParseFailed = 4,
    OutOfMemory = 5,
}

/// <summary>Message severities; a lower value is more severe.</summary>
public enum LogSeverity
{
    InternalError = 0,
    Error = 1,
    Warning = 2,
    Info = 3,
    Verbose = 4,
}

/// <summary>Precisions TensorRT may choose besides FP32.</summary>
[Flags]
public enum BuilderFlags : uint
{
    None = 0,
    Fp16 = 1,
    Int8 = 2,
    Bf16 = 4,
}

public enum TrtDataType
{
    Float = 0,
    Half = 1,
    Bf16 = 2,
    Int8 = 3,
    Int32 = 4,
    Int64 = 5,
    Bool = 6,
    Uint8 = 7,
    /// <summary>A TensorRT type the C API does not name (FP8, INT4, ...).</summary>
    Other = 99,
}

/// <summary>Activations; alpha/beta as TensorRT defines them (Clip: max(alpha, min(beta, x)), HardSigmoid: max(0, min(1, alpha x + beta))).</summary>
public enum Activation
{
    Relu = 0,
    Sigmoid = 1,
    Tanh = 2,
    Clip = 3,
    HardSigmoid = 4,
    GeluErf = 5,
    LeakyRelu = 6,
}

public enum ElementwiseOp
{
    Sum = 0,
    Prod = 1,
    Max = 2,
    Min = 3,
    Sub = 4,
    Div = 5,
    Pow = 6,
}

public enum PoolingKind
{
    Max = 0,
    Average = 1,
}

public enum ReduceOp
{
    Sum = 0,
    Prod = 1,
    Max = 2,
    Min = 3,
    Avg = 4,
}

public enum MatrixOp
{
    None = 0,
    Transpose = 1,
    /// <summary>The operand is a batch of vectors along its last axis.</summary>
    Vector = 2,
}

public enum UnaryOp
{
    Exp = 0,
    Log = 1,
    Sqrt = 2,
    Recip = 3,
    Abs = 4,
    Neg = 5,
    Erf = 6,
}

public enum TensorIOMode
{
    None = 0,
    Input = 1,
    Output = 2,
}
