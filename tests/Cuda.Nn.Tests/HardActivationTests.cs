// The vectorised hardswish and hardsigmoid (CpuElementwise.Hard, HardBackward) against the float64 scalar
// reference (ScalarMath) on lengths that leave a scalar tail, at the kinks (+-3), beyond them, and on NaN and
// infinities; F64 is the same arithmetic in the same order, so bit for bit; F32 within a rounding.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

public class HardActivationTests
{
    private static double[] Inputs(int n)
    {
        var rng = new Random(7);
        double[] special = [-3, 3, -2.9999, 2.9999, -3.0001, 3.0001, 0, -0.0, 6, -6, 1e6, -1e6, double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        return [.. special, .. Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 12 - 6)];
    }

    [Theory]
    [InlineData(UnaryOp.Hardswish, DType.F64, 0)]
    [InlineData(UnaryOp.Hardswish, DType.F64, 50)]
    [InlineData(UnaryOp.Hardswish, DType.F32, 0)]
    [InlineData(UnaryOp.Hardswish, DType.F32, 50)]
    [InlineData(UnaryOp.Hardsigmoid, DType.F64, 50)]
    [InlineData(UnaryOp.Hardsigmoid, DType.F32, 50)]
    public void MatchTheScalarReferenceForwardAndBackward(UnaryOp op, DType dtype, int random)
    {
        var x = Inputs(random);
        var gy = x.Select((_, i) => 0.25 + 0.01 * i).ToArray();
        using var scope = new DisposeScope();
        var xt = Tensor.FromArray(x, x.Length).To(dtype).RequiresGrad_();
        var y = op == UnaryOp.Hardswish ? xt.Hardswish() : xt.Hardsigmoid();
        y.Backward(Tensor.FromArray(gy, gy.Length).To(dtype));
        var ys = y.ToDoubleArray();
        var gx = xt.Grad!.ToDoubleArray();
        for (int i = 0; i < x.Length; i++)
        {
            // The reference sees the input as the kernel does: rounded to the dtype first.
            double xi = dtype == DType.F32 ? (float)x[i] : x[i], gi = dtype == DType.F32 ? (float)gy[i] : gy[i];
            double ey = ScalarMath.Apply(op, xi, 0), eg = gi * ScalarMath.Derivative(op, xi, 0);
            Same(ey, ys[i], dtype, $"{op} {dtype} y({xi})");
            Same(eg, gx[i], dtype, $"{op} {dtype} grad({xi})");
        }
    }

    private static void Same(double expected, double actual, DType dtype, string what)
    {
        if (double.IsNaN(expected)) { Assert.True(double.IsNaN(actual), $"{what}: {actual}, expected NaN"); return; }
        if (expected == actual) return;
        if (dtype == DType.F64) { Assert.True(expected == actual, $"{what}: {actual}, expected {expected}"); return; }
        double tol = 2e-7 * Math.Max(1, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tol, $"{what}: {actual}, expected {expected}");
    }
}
