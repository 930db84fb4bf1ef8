// The scalar references that every kernel's formulas come from, against independently known values.
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
}
