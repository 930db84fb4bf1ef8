// Scalar reference math shared by kernels: erf and the activation functions and their derivatives,
// written once in double so every dtype and backend agrees with the same formulas.
namespace Cuda.Nn.Kernels.Cpu;

public static class ScalarMath
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double InvSqrt2 = 0.7071067811865476;
    private const double InvSqrt2Pi = 0.3989422804014327;
    private const double SqrtTwoOverPi = 0.7978845608028654;

    /// <summary>Error function to about 1e-15: Maclaurin series near 0, continued fraction for erfc in the tails.</summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax > 6) return Math.Sign(x);
        if (ax <= 2.2)
        {
            double x2 = x * x, term = x, sum = x;
            for (int n = 1; n < 60; n++)
            {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
            }
            return TwoOverSqrtPi * sum;
        }
        double erfc = Erfc(ax);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    /// <summary>erfc(x) for x > 2 by the Laplace continued fraction, evaluated from the tail.</summary>
    private static double Erfc(double x)
    {
        double f = x;
        for (int k = 60; k >= 1; k--) f = x + k / 2.0 / f;
        return Math.Exp(-x * x) / (f * Math.Sqrt(Math.PI));
    }

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x * InvSqrt2));

    public static double GeluGrad(double x) => 0.5 * (1 + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(SqrtTwoOverPi * (x + 0.044715 * x * x * x)));

    public static double GeluTanhGrad(double x)
    {
        double inner = SqrtTwoOverPi * (x + 0.044715 * x * x * x);
        double t = Math.Tanh(inner);
        double dInner = SqrtTwoOverPi * (1 + 3 * 0.044715 * x * x);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner;
    }

    /// <summary>PyTorch's softplus with beta 1 and threshold 20: exactly x when x &gt; 20.</summary>
    public static double Softplus(double x) => x > 20 ? x : Math.Log(1 + Math.Exp(x));

    public static double SoftplusGrad(double x) => x > 20 ? 1 : Sigmoid(x);

    public static double Hardswish(double x) => x * Math.Clamp(x + 3, 0, 6) / 6;

    /// <summary>libtorch 2.10 CPU: 0 at x &lt;= -3, 1 at x &gt;= 3, x/3 + 1/2 between.</summary>
    public static double HardswishGrad(double x) => x <= -3 ? 0 : x >= 3 ? 1 : x / 3 + 0.5;

    public static double Hardsigmoid(double x) => Math.Clamp(x + 3, 0, 6) / 6;

    public static double HardsigmoidGrad(double x) => x > -3 && x < 3 ? 1.0 / 6 : 0;

    public static double Silu(double x) => x * Sigmoid(x);

    public static double SiluGrad(double x)
    {
        double s = Sigmoid(x);
        return s * (1 + x * (1 - s));
    }

    /// <summary>Value of a unary op at x, in double (the reference every kernel must match).</summary>
    public static double Apply(UnaryOp op, double x, double alpha) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Rsqrt => 1 / Math.Sqrt(x),
        UnaryOp.Square => x * x,
        UnaryOp.Reciprocal => 1 / x,
        UnaryOp.Sign => double.IsNaN(x) ? x : Math.Sign(x),
        UnaryOp.Erf => Erf(x),
        UnaryOp.Sigmoid => Sigmoid(x),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Relu => x > 0 ? x : double.IsNaN(x) ? x : 0,
        UnaryOp.LeakyRelu => x > 0 ? x : alpha * x,
        UnaryOp.Silu => Silu(x),
        UnaryOp.Gelu => Gelu(x),
        UnaryOp.GeluTanh => GeluTanh(x),
        UnaryOp.Softplus => Softplus(x),
        UnaryOp.Hardswish => Hardswish(x),
        UnaryOp.Hardsigmoid => Hardsigmoid(x),
        UnaryOp.PowScalar => Math.Pow(x, alpha),
        UnaryOp.RoundToHalf => (double)(Half)(float)x,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    /// <summary>Derivative of a unary op at x.</summary>
    public static double Derivative(UnaryOp op, double x, double alpha) => op switch
    {
        UnaryOp.Neg => -1,
        UnaryOp.Abs => x > 0 ? 1 : x < 0 ? -1 : 0,
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => 1 / x,
        UnaryOp.Sqrt => 0.5 / Math.Sqrt(x),
        UnaryOp.Rsqrt => -0.5 / (x * Math.Sqrt(x)),
        UnaryOp.Square => 2 * x,
        UnaryOp.Reciprocal => -1 / (x * x),
        UnaryOp.Sign => 0,
        UnaryOp.Erf => TwoOverSqrtPi * Math.Exp(-x * x),
        UnaryOp.Sigmoid => Sigmoid(x) * (1 - Sigmoid(x)),
        UnaryOp.Tanh => 1 - Math.Tanh(x) * Math.Tanh(x),
        UnaryOp.Relu => x > 0 ? 1 : 0,
        UnaryOp.LeakyRelu => x > 0 ? 1 : alpha,
        UnaryOp.Silu => SiluGrad(x),
        UnaryOp.Gelu => GeluGrad(x),
        UnaryOp.GeluTanh => GeluTanhGrad(x),
        UnaryOp.Softplus => SoftplusGrad(x),
        UnaryOp.Hardswish => HardswishGrad(x),
        UnaryOp.Hardsigmoid => HardsigmoidGrad(x),
        UnaryOp.PowScalar => alpha == 0 ? 0 : alpha * Math.Pow(x, alpha - 1),
        UnaryOp.RoundToHalf => 1, // the backward kernel rounds gy through binary16 instead (see CpuBackend.UnaryBackward)
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}
