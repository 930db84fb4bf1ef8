// The scalar references that every kernel's formulas come from, against independently known values.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

public class ScalarMathTests
{
    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-1.5, -0.9661051464753108)]
    // further points (Python math.erf): tiny, the series/continued-fraction switch at 2.2, and the tail
    [InlineData(1e-3, 0.0011283787909692365)]
    [InlineData(2.2, 0.9981371537020182)]
    [InlineData(2.5, 0.999593047982555)]
    [InlineData(4.0, 0.9999999845827421)]
    public void ErfMatchesKnownValues(double x, double expected)
    {
        double actual = ScalarMath.Erf(x);
        Assert.True(Math.Abs(actual - expected) <= 1e-14, $"erf({x}) = {actual:R}, expected {expected:R} (|diff| {Math.Abs(actual - expected):E3} > 1e-14)");
    }

    [Fact]
    public void ErfIsOddAndSaturates()
    {
        foreach (var x in new[] { 0.1, 0.7, 1.9, 2.2, 2.21, 2.5, 4, 5.9, 6.1 })
            Assert.Equal(-ScalarMath.Erf(x), ScalarMath.Erf(-x));
        Assert.Equal(1.0, ScalarMath.Erf(7));
        Assert.Equal(-1.0, ScalarMath.Erf(double.NegativeInfinity));
        Assert.True(double.IsNaN(ScalarMath.Erf(double.NaN)));
        // continuity across the switch from the series (|x| <= 2.2) to the continued fraction
        Assert.True(Math.Abs(ScalarMath.Erf(2.2) - ScalarMath.Erf(Math.BitIncrement(2.2))) < 1e-15);
    }

    [Fact]
    public void ActivationReferencesMatchKnownValues()
    {
        // independent values (Python math), to 2e-15 relative
        Near(0.8807970779778823, ScalarMath.Sigmoid(2), "sigmoid(2)");
        Near(4.248354255291589e-18, ScalarMath.Sigmoid(-40), "sigmoid(-40)");
        Near(0.5, ScalarMath.Sigmoid(0), "sigmoid(0)");
        Near(0.8413447460685429, ScalarMath.Gelu(1), "gelu(1) = Phi(1)");
        // gelu(-2) = -2 (1 + erf(-sqrt 2)) / 2 cancels: 1e-16 in erf is 2e-15 relative here, so compare absolutely
        Assert.True(Math.Abs(ScalarMath.Gelu(-2) - -0.04550026389635842) <= 5e-16, $"gelu(-2) = {ScalarMath.Gelu(-2):R}");
        Near(0.8411919906082768, ScalarMath.GeluTanh(1), "gelu_tanh(1)");
        Near(0.7310585786300049, ScalarMath.Silu(1), "silu(1)");
        Near(1.3132616875182228, ScalarMath.Softplus(1), "softplus(1)");
        Near(20.000000002061153, ScalarMath.Softplus(20), "softplus(20) uses the log form (threshold is strict)");
        Assert.Equal(21.0, ScalarMath.Softplus(21));
        Assert.Equal(1.0, ScalarMath.SoftplusGrad(21));
        Near(2.0 / 3, ScalarMath.Hardswish(1), "hardswish(1)");
        Assert.Equal(0.0, ScalarMath.Hardswish(-3));
        Assert.Equal(3.0, ScalarMath.Hardswish(3));
        Assert.Equal(0.5, ScalarMath.Hardsigmoid(0));
        // libtorch 2.10 CPU values exactly at the kinks (README: activations)
        Assert.Equal(0.0, ScalarMath.HardswishGrad(-3));
        Assert.Equal(1.0, ScalarMath.HardswishGrad(3));
        Assert.Equal(0.0, ScalarMath.HardsigmoidGrad(-3));
        Assert.Equal(0.0, ScalarMath.HardsigmoidGrad(3));
        Assert.Equal(0.0, ScalarMath.Derivative(UnaryOp.Relu, 0, 0));
        Assert.Equal(0.1, ScalarMath.Derivative(UnaryOp.LeakyRelu, 0, 0.1));
    }

    public static TheoryData<UnaryOp> DifferentiableOps => new(Enum.GetValues<UnaryOp>().Where(op => op is not (UnaryOp.Sign or UnaryOp.RoundToHalf)));

    /// <summary>Every scalar derivative against a central difference of its scalar function, away from kinks.</summary>
    [Theory]
    [MemberData(nameof(DifferentiableOps))]
    public void DerivativeMatchesCentralDifference(UnaryOp op)
    {
        double alpha = op == UnaryOp.LeakyRelu ? 0.1 : op == UnaryOp.PowScalar ? 2.5 : 0;
        bool positiveOnly = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.PowScalar;
        const double h = 1e-5;
        for (double x = -7.9; x <= 25; x += 0.173)
        {
            if (positiveOnly && x < 0.2) continue;
            if (op == UnaryOp.Reciprocal && Math.Abs(x) < 0.2) continue;
            if (op == UnaryOp.Exp && x > 10) continue;
            if (Math.Abs(x) < 1e-3 || Math.Abs(Math.Abs(x) - 3) < 1e-3 || Math.Abs(x - 20) < 1e-3) continue; // kinks
            double numeric = (ScalarMath.Apply(op, x + h, alpha) - ScalarMath.Apply(op, x - h, alpha)) / (2 * h);
            double analytic = ScalarMath.Derivative(op, x, alpha);
            Assert.True(Math.Abs(numeric - analytic) <= 1e-7 + 1e-7 * Math.Abs(analytic),
                $"{op}'({x:R}) = {analytic:R}, central difference {numeric:R}");
        }
    }

    private static void Near(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 2e-15 * Math.Abs(expected), $"{what}: {actual:R}, expected {expected:R} (relative tolerance 2e-15)");
}
