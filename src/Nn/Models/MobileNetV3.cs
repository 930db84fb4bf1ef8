// MobileNetV3-Small (Howard et al.) with torchvision's structure and names.
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public sealed partial class MobileNetV3 : Module
{
    private readonly Sequential _features;
    private readonly Sequential _classifier;

    // input, kernel, expanded, output, squeeze-excite, hardswish, stride
    private static readonly (int In, int K, int Exp, int Out, bool Se, bool Hs, int Stride)[] Small =
    [
        (16, 3, 16, 16, true, false, 2), (16, 3, 72, 24, false, false, 2), (24, 3, 88, 24, false, false, 1),
        (24, 5, 96, 40, true, true, 2), (40, 5, 240, 40, true, true, 1), (40, 5, 240, 40, true, true, 1),
        (40, 5, 120, 48, true, true, 1), (48, 5, 144, 48, true, true, 1), (48, 5, 288, 96, true, true, 2),
        (96, 5, 576, 96, true, true, 1), (96, 5, 576, 96, true, true, 1),
    ];

    public MobileNetV3(int numClasses = 1000, int inChannels = 3, double dropout = 0.2, Generator? generator = null)
    {
        const double eps = 0.001, momentum = 0.01;
        var g = generator;
        _features = RegisterModule("features", new Sequential());
        _features.Add(new ConvNormActivation(inChannels, 16, 3, 2, 1, Activation.Hardswish, eps, momentum, g));
        foreach (var c in Small)
        {
            Func<Activation> act = c.Hs ? Activation.Hardswish : Activation.ReLU;
            var block = new Sequential();
            if (c.Exp != c.In) block.Add(new ConvNormActivation(c.In, c.Exp, 1, 1, 1, act, eps, momentum, g));
            block.Add(new ConvNormActivation(c.Exp, c.Exp, c.K, c.Stride, c.Exp, act, eps, momentum, g));
            if (c.Se) block.Add(new SqueezeExcitation(c.Exp, Channels.MakeDivisible(c.Exp / 4, 8), Activation.ReLU(), Activation.Hardsigmoid(), g));
            block.Add(new ConvNormActivation(c.Exp, c.Out, 1, 1, 1, null, eps, momentum, g));
            _features.Add(new InvertedResidual(block, c.Stride == 1 && c.In == c.Out, 0));
        }
        _features.Add(new ConvNormActivation(96, 576, 1, 1, 1, Activation.Hardswish, eps, momentum, g));
        _classifier = RegisterModule("classifier", new Sequential(new Linear(576, 1024, generator: g), Activation.Hardswish(), new Dropout(dropout), new Linear(1024, numClasses, generator: g)));
        foreach (var (_, m) in NamedModules())
        {
            if (m is Conv2d conv) { Init.KaimingNormal(conv.Weight, fanOut: true, g: g); if (conv.Bias is { } b) Init.Constant(b, 0); }
            if (m is Linear l) { Init.Normal(l.Weight, 0, 0.01, g); Init.Constant(l.Bias!, 0); }
        }
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var h = _features.Forward(x).Mean([2, 3]);
        return scope.MoveToOuter(_classifier.Forward(h));
    }

    public static MobileNetV3 SmallModel(int numClasses = 1000, int inChannels = 3, Generator? g = null) => new(numClasses, inChannels, generator: g);
}
