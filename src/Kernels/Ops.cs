// The primitive operation codes a backend implements. Gradients are not a backend concern: the
// autograd layer in Cuda.Nn composes these primitives (including the *Backward codes below).
namespace Cuda.Nn.Kernels;

/// <summary>Elementwise functions of one tensor (alpha is the op's parameter where it has one).</summary>
public enum UnaryOp : byte
{
    Neg, Abs, Exp, Log, Sqrt, Rsqrt, Square, Reciprocal, Sign, Erf,
    Sigmoid, Tanh, Relu, LeakyRelu, Silu, Gelu, GeluTanh, Softplus, Hardswish, Hardsigmoid,
    /// <summary>x ^ alpha.</summary>
    PowScalar,
    /// <summary>Rounds through IEEE binary16 and back (fp16 emulation on the CPU); its backward rounds the gradient the same way.</summary>
    RoundToHalf,
}

/// <summary>Elementwise functions of two broadcast tensors. Comparisons produce Bool.</summary>
public enum BinaryOp : byte
{
    Add, Sub, Mul, Div, Pow, Maximum, Minimum,
    Eq, Ne, Lt, Le, Gt, Ge,
}

/// <summary>Reductions over a set of dimensions.</summary>
public enum ReduceOp : byte
{
    Sum, Max, Min, Prod,
}

public static class OpInfo
{
    public static bool IsComparison(this BinaryOp op) => op >= BinaryOp.Eq;
}
