// Errors a user meets first must say what was wrong: both shapes for mismatches, index and size for
// out-of-range indices, and what to do for autograd misuse.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public class ErrorMessageTests
{
    private static void ContainsAll(string message, params string[] parts)
    {
        foreach (var p in parts) Assert.True(message.Contains(p), $"message \"{message}\" does not mention {p}");
    }

    [Fact]
    public void AddNamesBothShapes()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).Add(Tensor.Zeros([4, 3])));
        ContainsAll(e.Message, "[2, 3]", "[4, 3]");
        e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([5, 1, 3]) * Tensor.Zeros([2, 2]));
        ContainsAll(e.Message, "[5, 1, 3]", "[2, 2]");
    }

    [Fact]
    public void MatMulNamesBothShapes()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([4, 5])));
        ContainsAll(e.Message, "[2, 3]", "[4, 5]");
        // batch dims that do not broadcast
        e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 4, 3]).MatMul(Tensor.Zeros([3, 3, 5])));
        ContainsAll(e.Message, "[2, 4, 3]", "[3, 3, 5]");
        // 1-D operands are promoted; the message still names what the user passed
        e = Assert.Throws<ArgumentException>(() => Tensor.Zeros([3]).MatMul(Tensor.Zeros([4])));
        ContainsAll(e.Message, "3", "4");
    }

    [Fact]
    public void CatNamesBothShapes()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([2, 4])], 0));
        ContainsAll(e.Message, "[2, 3]", "[2, 4]");
        e = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([3])], 0));
        ContainsAll(e.Message, "[2, 3]", "[3]");
        e = Assert.Throws<ArgumentException>(() => Tensor.Stack([Tensor.Zeros([2, 3]), Tensor.Zeros([3, 2])]));
        ContainsAll(e.Message, "[2, 3]", "[3, 2]");
    }

    [Fact]
    public void LinearNamesInputAndWeightShapes()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => F.Linear(Tensor.Zeros([4, 3]), Tensor.Zeros([5, 6])));
        ContainsAll(e.Message, "[4, 3]", "[5, 6]");
        e = Assert.Throws<ArgumentException>(() => F.Linear(Tensor.Zeros([4, 6]), Tensor.Zeros([5, 6]), Tensor.Zeros([4])));
        ContainsAll(e.Message, "[4, 5]", "[4]");
    }

    [Fact]
    public void CrossEntropyNamesTargetAndInputShapes()
    {
        using var scope = new DisposeScope();
        var logits = Tensor.Zeros([4, 5]);
        var e = Assert.Throws<ArgumentException>(() => F.CrossEntropy(logits, Tensor.Zeros([3], DType.I64)));
        ContainsAll(e.Message, "[3]", "[4, 5]");
        e = Assert.Throws<ArgumentException>(() => F.CrossEntropy(logits, Tensor.Zeros([4, 4])));
        ContainsAll(e.Message, "[4, 4]", "[4, 5]");
        e = Assert.Throws<ArgumentException>(() => F.CrossEntropy(logits, Tensor.Full([4], 7, DType.I64)));
        ContainsAll(e.Message, "7", "5");
        // logits without a class dimension
        e = Assert.Throws<ArgumentException>(() => F.CrossEntropy(Tensor.Zeros([5]), Tensor.Zeros([1], DType.I64)));
        ContainsAll(e.Message, "[5]");
    }

    [Fact]
    public void LayerNormNamesBothShapes()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => F.LayerNorm(Tensor.Zeros([2, 3, 4]), [5]));
        ContainsAll(e.Message, "[2, 3, 4]", "[5]");
    }

    [Fact]
    public void ReshapeWithTheWrongElementCountNamesBothShapes()
    {
        using var scope = new DisposeScope();
        var t = Tensor.Zeros([2, 3]);
        var e = Assert.Throws<ArgumentException>(() => t.Reshape(4, 2));
        ContainsAll(e.Message, "[4, 2]", "[2, 3]");
        e = Assert.Throws<ArgumentException>(() => t.Reshape(4, -1));
        ContainsAll(e.Message, "[4, -1]", "[2, 3]");
        e = Assert.Throws<ArgumentException>(() => t.View(7));
        ContainsAll(e.Message, "[7]", "[2, 3]");
    }

    [Fact]
    public void ViewOfANonViewableLayoutExplains()
    {
        using var scope = new DisposeScope();
        var t = Tensor.Zeros([2, 3]).T();
        var e = Assert.Throws<InvalidOperationException>(() => t.View(6));
        ContainsAll(e.Message, "[6]", "[3, 2]", "Reshape");
    }

    [Fact]
    public void OutOfRangeIndicesNameTheIndexAndTheSize()
    {
        using var scope = new DisposeScope();
        var t = Tensor.Zeros([3, 4]);
        var e1 = Assert.Throws<IndexOutOfRangeException>(() => t.Gather(0, Tensor.FromArray([0L, 1, 7, 2], 1, 4)));
        ContainsAll(e1.Message, "7", "size 3");
        e1 = Assert.Throws<IndexOutOfRangeException>(() => t.Gather(1, Tensor.FromArray([-9L], 1, 1)));
        ContainsAll(e1.Message, "-9", "size 4");
        e1 = Assert.Throws<IndexOutOfRangeException>(() => t.IndexSelect(0, Tensor.FromArray([1L, 5], 2)));
        ContainsAll(e1.Message, "5", "size 3");
        e1 = Assert.Throws<IndexOutOfRangeException>(() => t.IndexSelect(1, Tensor.FromArray([-6], 1)));
        ContainsAll(e1.Message, "-6", "size 4");
        e1 = Assert.Throws<IndexOutOfRangeException>(() => t.ScatterAdd(0, Tensor.FromArray([3L], 1, 1), Tensor.Ones([1, 1])));
        ContainsAll(e1.Message, "3", "size 3");
        e1 = Assert.Throws<IndexOutOfRangeException>(() => t.Select(1, 4));
        ContainsAll(e1.Message, "4", "[3, 4]");
        var e2 = Assert.Throws<ArgumentException>(() => Tensor.FromArray([0L, 3, 1], 3).OneHot(3));
        ContainsAll(e2.Message, "3", "[0, 3)");
        e2 = Assert.Throws<ArgumentException>(() => Tensor.FromArray([0L, -1], 2).OneHot(3));
        ContainsAll(e2.Message, "-1", "[0, 3)");
    }

    [Fact]
    public void BackwardOnANonScalarWithoutAGradientExplains()
    {
        using var scope = new DisposeScope();
        var x = Tensor.Ones([2, 3]).RequiresGrad_();
        var y = x.Mul(2);
        var e = Assert.Throws<InvalidOperationException>(() => y.Backward());
        ContainsAll(e.Message, "scalar", "[2, 3]");
        var e2 = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([3, 2])));
        ContainsAll(e2.Message, "[3, 2]", "[2, 3]");
        var e3 = Assert.Throws<InvalidOperationException>(() => Tensor.Ones([1]).Backward());
        ContainsAll(e3.Message, "does not require grad");
    }

    [Fact]
    public void RequiresGradOnAnIntegerTensorExplains()
    {
        using var scope = new DisposeScope();
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2], DType.I64).RequiresGrad_());
        ContainsAll(e.Message, "floating-point", "I64");
        e = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2], DType.Bool).RequiresGrad = true);
        ContainsAll(e.Message, "floating-point", "Bool");
    }
}
