// The F32 erf and GELU (CpuElementwise -> FastErf, Abramowitz & Stegun 7.1.26) against the float64 reference
// (ScalarMath's series) on a dense grid, the tails, zero, NaN and infinities: the approximation's bound is 1.5e-7
// absolute on erf, so each value may differ from the reference by that plus one F32 rounding (scaled by |x| for
// GELU, whose erf term is multiplied by x/2). Gradients likewise. F64 keeps the series (exact, GradCheckTests).
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

public class FastErfTests
{
    [Theory]
    [InlineData(UnaryOp.Erf)]
    [InlineData(UnaryOp.Gelu)]
    public void F32MatchesTheFloat64ReferenceWithinTheApproximationsBound(UnaryOp op)
    {
        double[] special = [0, -0.0, 1e-6, -1e-6, 1e-30, 6, -6, 9, -9, 30, -30, double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        var x = special.Concat(Enumerable.Range(0, 4001).Select(i => -8 + i * 0.004)).Select(v => (double)(float)v).ToArray();
        var gy = x.Select((_, i) => (double)(float)(0.5 + 0.001 * (i % 97))).ToArray();
        using var scope = new DisposeScope();
        var xt = Tensor.FromArray(x, x.Length).To(DType.F32).RequiresGrad_();
        var y = op == UnaryOp.Erf ? xt.Erf() : xt.Gelu();
        y.Backward(Tensor.FromArray(gy, gy.Length).To(DType.F32));
        var ys = y.ToDoubleArray();
        var gx = xt.Grad!.ToDoubleArray();
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double ey = ScalarMath.Apply(op, x[i], 0), eg = gy[i] * ScalarMath.Derivative(op, x[i], 0);
            double scale = op == UnaryOp.Gelu ? Math.Max(1, Math.Abs(x[i])) : 1;
            Close(ey, ys[i], 1.5e-7 * scale + 1.2e-7 * Math.Max(1, Math.Abs(ey)), $"{op}({x[i]})", ref worst);
            Close(eg, gx[i], (1.5e-7 * scale + 1.2e-7 * Math.Max(1, Math.Abs(eg))) * 2, $"{op}'({x[i]})", ref worst);
        }
        Assert.True(worst > 0, "the F32 path should not be the float64 series"); // it is the approximation that ran
    }

    private static void Close(double expected, double actual, double tol, string what, ref double worst)
    {
        if (double.IsNaN(expected)) { Assert.True(double.IsNaN(actual), $"{what}: {actual}, expected NaN"); return; }
        if (expected == actual) return;
        double err = Math.Abs(expected - actual);
        worst = Math.Max(worst, err);
        Assert.True(err <= tol, $"{what}: {actual}, expected {expected} (error {err:E2}, bound {tol:E2})");
    }
}
