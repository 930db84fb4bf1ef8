// Building blocks shared by MobileNetV3 and EfficientNet, named as torchvision names them:
// Conv2dNormActivation (".0" conv, ".1" bn), SqueezeExcitation (fc1, fc2), and stochastic depth.
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public static class Channels
{
    /// <summary>torchvision's _make_divisible: round to a multiple of divisor, never more than 10% below v.</summary>
    public static int MakeDivisible(double v, int divisor = 8)
    {
        int n = Math.Max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
        if (n < 0.9 * v) n += divisor;
        return n;
    }
}

/// <summary>conv (no bias) + batch norm + optional activation, as a Sequential "0", "1", "2".</summary>
public sealed partial class ConvNormActivation : Module
{
    private readonly Conv2d _conv;
    private readonly BatchNorm2d _bn;
    private readonly Activation? _act;

    public ConvNormActivation(int inC, int outC, int kernel, int stride, int groups, Func<Activation>? activation, double bnEps, double bnMomentum, Generator? g)
    {
        _conv = RegisterModule("0", new Conv2d(inC, outC, kernel, stride, (kernel - 1) / 2, 1, groups, bias: false, generator: g));
        _bn = RegisterModule("1", new BatchNorm2d(outC, bnEps, bnMomentum));
        if (activation is not null) _act = RegisterModule("2", activation());
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var y = _bn.Forward(_conv.Forward(x));
        if (_act is not null) y = _act.Forward(y);
        return scope.MoveToOuter(y);
    }
}

/// <summary>x * scale(fc2(act(fc1(mean over H, W)))).</summary>
public sealed partial class SqueezeExcitation : Module
{
    private readonly Conv2d _fc1, _fc2;
    // Not registered as children (they hold no state), so state-dict names stay torchvision's.
    private readonly Activation _act, _scale;

    public SqueezeExcitation(int channels, int squeeze, Activation activation, Activation scaleActivation, Generator? g)
    {
        _fc1 = RegisterModule("fc1", new Conv2d(channels, squeeze, 1, generator: g));
        _fc2 = RegisterModule("fc2", new Conv2d(squeeze, channels, 1, generator: g));
        _act = activation;
        _scale = scaleActivation;
    }

    public override void Dispose()
    {
        _act.Dispose();
        _scale.Dispose();
        base.Dispose();
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var s = x.Mean([2, 3], keepDim: true);
        s = _scale.Forward(_fc2.Forward(_act.Forward(_fc1.Forward(s))));
        return scope.MoveToOuter(x.Mul(s));
    }
}

/// <summary>Stochastic depth ("row" mode): in training, drops the whole residual branch per sample with probability p.</summary>
public sealed partial class StochasticDepth(double p, Generator? generator = null) : Module
{
    public double P { get; } = p;

    public override Tensor Forward(Tensor x)
    {
        if (!IsTraining || P == 0) return x.Share();
        int[] shape = [x.ShapeRef[0], .. Enumerable.Repeat(1, x.Rank - 1)];
        using var keep = Tensor.Bernoulli(shape, 1 - P, generator, x.DType);
        using var scaled = keep.Mul(1.0 / (1 - P));
        return x.Mul(scaled);
    }
}

/// <summary>A residual block whose body is a numbered Sequential named "block" (MobileNetV3's InvertedResidual, EfficientNet's MBConv).</summary>
public sealed partial class InvertedResidual : Module
{
    private readonly Sequential _block;
    private readonly StochasticDepth? _drop;
    public bool UseResidual { get; }

    public InvertedResidual(Sequential block, bool useResidual, double stochasticDepth)
    {
        _block = RegisterModule("block", block);
        UseResidual = useResidual;
        if (stochasticDepth > 0) _drop = RegisterModule("stochastic_depth", new StochasticDepth(stochasticDepth));
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var y = _block.Forward(x);
        if (UseResidual)
        {
            if (_drop is not null) y = _drop.Forward(y);
            y = y.Add(x);
        }
        return scope.MoveToOuter(y);
    }
}
