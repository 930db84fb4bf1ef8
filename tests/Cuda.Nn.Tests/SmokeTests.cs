using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public class SmokeTests
{
    [Fact]
    public void AddBroadcastsAndBackpropagates()
    {
        using var a = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3).RequiresGrad_();
        using var b = Tensor.FromArray([10f, 20, 30], 3).RequiresGrad_();
        using var y = a * b;
        using var s = y.Sum();
        s.Backward();
        Assert.Equal([10f, 20, 30, 10, 20, 30], a.Grad!.ToArray<float>());
        Assert.Equal([5f, 7, 9], b.Grad!.ToArray<float>());
        Assert.Equal(10 + 40 + 90 + 40 + 100 + 180, s.Item());
    }

    [Fact]
    public void MatMulMatchesHandComputed()
    {
        using var a = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3);
        using var b = Tensor.FromArray([1f, 0, 0, 1, 1, 1], 3, 2);
        using var c = a.MatMul(b);
        Assert.Equal([4f, 5, 10, 11], c.ToArray<float>());
        using var t = a.T();
        using var c2 = t.MatMul(a);
        Assert.Equal([17f, 22, 27, 22, 29, 36, 27, 36, 45], c2.ToArray<float>());
    }

    [Fact]
    public void MlpLossFalls()
    {
        var g = new Generator(1);
        using var x = Tensor.Randn([64, 4], g);
        using var wTrue = Tensor.Randn([4, 1], g);
        using var yTrue = x.MatMul(wTrue);
        using var w1 = Tensor.Randn([16, 4], g, std: 0.5).RequiresGrad_();
        using var b1 = Tensor.Zeros([16]).RequiresGrad_();
        using var w2 = Tensor.Randn([1, 16], g, std: 0.25).RequiresGrad_();
        double first = 0, last = 0;
        for (int step = 0; step < 200; step++)
        {
            using var scope = new DisposeScope();
            var h = F.Linear(x, w1, b1).Tanh();
            var pred = F.Linear(h, w2);
            var loss = F.MseLoss(pred, yTrue);
            loss.Backward();
            if (step == 0) first = loss.Item();
            last = loss.Item();
            using (Autograd.AutogradMode.NoGrad())
                foreach (var p in new[] { w1, b1, w2 })
                {
                    using var upd = p.Grad!.Mul(0.05);
                    using var np = p.Sub(upd);
                    p.CopyFrom(np);
                    p.ZeroGrad();
                }
        }
        Assert.True(last < first * 0.2, $"loss went from {first} to {last}");
    }
}
