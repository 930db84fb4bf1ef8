using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public class LayoutTests
{
    [Fact]
    public void ContiguousStridesAreRowMajor()
    {
        var l = Layout.Contiguous([2, 3, 4]);
        Assert.Equal([12, 4, 1], l.Strides);
        Assert.True(l.IsContiguous);
        Assert.Equal(24, l.Numel);
    }

    [Fact]
    public void TransposeIsNotContiguousAndReshapeOfItFails()
    {
        var t = Layout.Contiguous([2, 3]).Transpose(0, 1);
        Assert.False(t.IsContiguous);
        Assert.Null(t.TryReshape([6]));
        Assert.NotNull(t.TryReshape([3, 2, 1]));
    }

    [Fact]
    public void BroadcastShapeMismatchNamesBothShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => Layout.BroadcastShapes([2, 3], [4, 3]));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 3]", e.Message);
    }
}
