// Scalar math inside kernels: the op tables of ScalarMath in a form ILGPU compiles (no exceptions, no
// Math.Clamp). Float kernels evaluate in double and round once on the store, so F32 results are within an ulp
// of the CPU's TensorPrimitives; + - * / through double then float are exactly float's own results.
namespace Cuda.Nn.Kernels.Ilgpu;

internal static class DeviceMath
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double InvSqrt2 = 0.7071067811865476;
    private const double InvSqrt2Pi = 0.3989422804014327;
    private const double SqrtTwoOverPi = 0.7978845608028654;

    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return x;
        double ax = Math.Abs(x);
        if (ax > 6) return x > 0 ? 1 : -1;
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
        double f = ax;
        for (int k = 60; k >= 1; k--) f = ax + k / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / (f * 1.7724538509055159);
        return x > 0 ? 1 - erfc : erfc - 1;
    }

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    private static double Clamp06(double v) => v < 0 ? 0 : v > 6 ? 6 : v;

    public static double Unary(int op, double x, double alpha)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -x;
            case UnaryOp.Abs: return Math.Abs(x);
            case UnaryOp.Exp: return Math.Exp(x);
            case UnaryOp.Log: return Math.Log(x);
            case UnaryOp.Sqrt: return Math.Sqrt(x);
            case UnaryOp.Rsqrt: return 1 / Math.Sqrt(x);
            case UnaryOp.Square: return x * x;
            case UnaryOp.Reciprocal: return 1 / x;
            case UnaryOp.Sign: return double.IsNaN(x) ? x : x > 0 ? 1 : x < 0 ? -1 : 0;
            case UnaryOp.Erf: return Erf(x);
            case UnaryOp.Sigmoid: return Sigmoid(x);
            case UnaryOp.Tanh: return Math.Tanh(x);
            case UnaryOp.Relu: return x > 0 ? x : double.IsNaN(x) ? x : 0;
            case UnaryOp.LeakyRelu: return x > 0 ? x : alpha * x;
            case UnaryOp.Silu: return x * Sigmoid(x);
            case UnaryOp.Gelu: return 0.5 * x * (1 + Erf(x * InvSqrt2));
            case UnaryOp.GeluTanh: return 0.5 * x * (1 + Math.Tanh(SqrtTwoOverPi * (x + 0.044715 * x * x * x)));
            case UnaryOp.Softplus: return x > 20 ? x : Math.Log(1 + Math.Exp(x));
            case UnaryOp.Hardswish: return x * Clamp06(x + 3) / 6;
            case UnaryOp.Hardsigmoid: return Clamp06(x + 3) / 6;
            case UnaryOp.PowScalar: return Math.Pow(x, alpha);
            default: return DeviceElem.HalfToDouble(DeviceElem.DoubleToHalf(x)); // RoundToHalf
        }
    }

    public static double Derivative(int op, double x, double alpha)
    {
        switch ((UnaryOp)op)
        {
            case UnaryOp.Neg: return -1;
            case UnaryOp.Abs: return x > 0 ? 1 : x < 0 ? -1 : 0;
            case UnaryOp.Exp: return Math.Exp(x);
            case UnaryOp.Log: return 1 / x;
            case UnaryOp.Sqrt: return 0.5 / Math.Sqrt(x);
            case UnaryOp.Rsqrt: return -0.5 / (x * Math.Sqrt(x));
            case UnaryOp.Square: return 2 * x;
            case UnaryOp.Reciprocal: return -1 / (x * x);
            case UnaryOp.Sign: return 0;
            case UnaryOp.Erf: return TwoOverSqrtPi * Math.Exp(-x * x);
            case UnaryOp.Sigmoid: { double s = Sigmoid(x); return s * (1 - s); }
            case UnaryOp.Tanh: { double t = Math.Tanh(x); return 1 - t * t; }
            case UnaryOp.Relu: return x > 0 ? 1 : 0;
            case UnaryOp.LeakyRelu: return x > 0 ? 1 : alpha;
            case UnaryOp.Silu: { double s = Sigmoid(x); return s * (1 + x * (1 - s)); }
            case UnaryOp.Gelu: return 0.5 * (1 + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
            case UnaryOp.GeluTanh:
                {
                    double t = Math.Tanh(SqrtTwoOverPi * (x + 0.044715 * x * x * x));
                    double dInner = SqrtTwoOverPi * (1 + 3 * 0.044715 * x * x);
                    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dInner;
                }
            case UnaryOp.Softplus: return x > 20 ? 1 : Sigmoid(x);
            case UnaryOp.Hardswish: return x <= -3 ? 0 : x >= 3 ? 1 : x / 3 + 0.5;
            case UnaryOp.Hardsigmoid: return x > -3 && x < 3 ? 1.0 / 6 : 0;
            case UnaryOp.PowScalar: return alpha == 0 ? 0 : alpha * Math.Pow(x, alpha - 1);
            default: return 1;
        }
    }

    public static double Binary(int op, double x, double y)
    {
        switch ((BinaryOp)op)
        {
            case BinaryOp.Add: return x + y;
            case BinaryOp.Sub: return x - y;
            case BinaryOp.Mul: return x * y;
            case BinaryOp.Div: return x / y;
            case BinaryOp.Pow: return Math.Pow(x, y);
            case BinaryOp.Maximum: return double.IsNaN(x) || double.IsNaN(y) ? double.NaN : x > y ? x : y;
            default: return double.IsNaN(x) || double.IsNaN(y) ? double.NaN : x < y ? x : y; // Minimum
        }
    }

    /// <summary>Integer arithmetic; division by zero and negative powers give 0 (a kernel cannot throw; the CPU backend does).</summary>
    public static long BinaryInt(int op, long x, long y)
    {
        switch ((BinaryOp)op)
        {
            case BinaryOp.Add: return x + y;
            case BinaryOp.Sub: return x - y;
            case BinaryOp.Mul: return x * y;
            case BinaryOp.Div: return y == 0 ? 0 : x / y;
            case BinaryOp.Maximum: return x > y ? x : y;
            case BinaryOp.Minimum: return x < y ? x : y;
            default:
                {
                    if (y < 0) return 0;
                    long r = 1;
                    for (long i = 0; i < y; i++) r *= x;
                    return r;
                }
        }
    }

    public static bool Compare(int op, double x, double y)
    {
        switch ((BinaryOp)op)
        {
            case BinaryOp.Eq: return x == y;
            case BinaryOp.Ne: return x != y;
            case BinaryOp.Lt: return x < y;
            case BinaryOp.Le: return x <= y;
            case BinaryOp.Gt: return x > y;
            default: return x >= y;
        }
    }

    public static bool CompareInt(int op, long x, long y)
    {
        switch ((BinaryOp)op)
        {
            case BinaryOp.Eq: return x == y;
            case BinaryOp.Ne: return x != y;
            case BinaryOp.Lt: return x < y;
            case BinaryOp.Le: return x <= y;
            case BinaryOp.Gt: return x > y;
            default: return x >= y;
        }
    }
}
