using Cuda.Nn.Amp;
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Tests;

public class AmpTests
{
    [Fact]
    public void AutocastRoundsMatmulThroughHalf()
    {
        using var a = Tensor.FromArray([1.0001f, 2f], 1, 2);
        using var b = Tensor.FromArray([1f, 1f], 2, 1);
        using var exact = a.MatMul(b);
        Tensor half;
        using (new Autocast()) half = a.MatMul(b);
        using (half)
        {
            Assert.Equal(3.0001f, exact.ToArray<float>()[0], 5);
            Assert.Equal(3f, half.ToArray<float>()[0]); // 1.0001 is not representable in binary16
        }
    }

    [Fact]
    public void OverflowSkipsTheStepAndBacksOff()
    {
        using var model = new Linear(4, 3, generator: new Generator(1));
        using var opt = new Sgd(model.Parameters(), lr: 0.1);
        var scaler = new GradScaler(initScale: 1e9, growthInterval: 3);
        using var x = Tensor.Randn([8, 4], new Generator(2));
        using var y = Tensor.FromArray(new long[] { 0, 1, 2, 0, 1, 2, 0, 1 }, 8);
        var before = model.Weight.ToArray<float>();

        bool Iteration()
        {
            using var scope = new DisposeScope();
            Tensor loss;
            using (new Autocast()) loss = F.CrossEntropy(model.Forward(x), y);
            scaler.ScaleLoss(loss).Backward();
            bool stepped = scaler.Step(opt);
            scaler.Update();
            opt.ZeroGrad();
            return stepped;
        }

        // 1e9 times the loss gradient overflows binary16 (max 65504) inside the autocast matmul's backward.
        Assert.False(Iteration());
        Assert.Equal(5e8, scaler.Scale);
        Assert.Equal(before, model.Weight.ToArray<float>());
        Assert.Equal(1, scaler.SkippedSteps);

        var small = new GradScaler(initScale: 16, growthInterval: 3);
        scaler = small;
        Assert.True(Iteration());
        Assert.NotEqual(before, model.Weight.ToArray<float>());
        Assert.True(Iteration());
        Assert.True(Iteration());
        Assert.Equal(32, scaler.Scale); // grew x2 after 3 good steps
        Assert.Equal(0, scaler.GrowthTracker);
    }

    [Fact]
    public void UnscaledGradientsEqualTheUnscaledLossGradients()
    {
        using var model = new Linear(3, 2, generator: new Generator(5));
        using var opt = new Sgd(model.Parameters(), lr: 0.0);
        using var x = Tensor.Randn([4, 3], new Generator(6));
        using var t = Tensor.FromArray(new long[] { 0, 1, 1, 0 }, 4);
        using (var s = new DisposeScope()) F.CrossEntropy(model.Forward(x), t).Backward();
        var plain = model.Weight.Grad!.ToArray<float>();
        opt.ZeroGrad();
        var scaler = new GradScaler(initScale: 1024);
        using (var s = new DisposeScope()) scaler.ScaleLoss(F.CrossEntropy(model.Forward(x), t)).Backward();
        scaler.Unscale(opt);
        var unscaled = model.Weight.Grad!.ToArray<float>();
        for (int i = 0; i < plain.Length; i++) Assert.Equal(plain[i], unscaled[i], 5);
    }
}
