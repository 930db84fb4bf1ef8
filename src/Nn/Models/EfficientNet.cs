// EfficientNet B0-B3 (Tan and Le) with torchvision's structure and names: MBConv blocks with expansion,
// depthwise convolution, squeeze-excitation, SiLU and stochastic depth.
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public sealed partial class EfficientNet : Module
{
    private readonly Sequential _features;
    private readonly Sequential _classifier;

    // expand ratio, kernel, stride, input, output, layers (B0)
    private static readonly (int Expand, int K, int Stride, int In, int Out, int Layers)[] B0 =
    [
        (1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1),
    ];

    public EfficientNet(double widthMult, double depthMult, double dropout, int numClasses = 1000, int inChannels = 3, double stochasticDepth = 0.2, Generator? generator = null)
    {
        const double eps = 1e-5, momentum = 0.1;
        var g = generator;
        int Adjust(int c) => Channels.MakeDivisible(c * widthMult, 8);
        _features = RegisterModule("features", new Sequential());
        int stem = Adjust(32);
        _features.Add(new ConvNormActivation(inChannels, stem, 3, 2, 1, Activation.SiLU, eps, momentum, g));
        int totalBlocks = B0.Sum(s => (int)Math.Ceiling(s.Layers * depthMult));
        int blockId = 0, last = stem;
        foreach (var s in B0)
        {
            var stage = new Sequential();
            int layers = (int)Math.Ceiling(s.Layers * depthMult);
            for (int i = 0; i < layers; i++)
            {
                int inC = i == 0 ? Adjust(s.In) : Adjust(s.Out), outC = Adjust(s.Out), stride = i == 0 ? s.Stride : 1;
                int exp = Channels.MakeDivisible(inC * (double)s.Expand, 8);
                var block = new Sequential();
                if (exp != inC) block.Add(new ConvNormActivation(inC, exp, 1, 1, 1, Activation.SiLU, eps, momentum, g));
                block.Add(new ConvNormActivation(exp, exp, s.K, stride, exp, Activation.SiLU, eps, momentum, g));
                block.Add(new SqueezeExcitation(exp, Math.Max(1, inC / 4), Activation.SiLU(), Activation.Sigmoid(), g));
                block.Add(new ConvNormActivation(exp, outC, 1, 1, 1, null, eps, momentum, g));
                double sd = stochasticDepth * blockId / totalBlocks;
                stage.Add(new InvertedResidual(block, stride == 1 && inC == outC, sd));
                blockId++;
                last = outC;
            }
            _features.Add(stage);
        }
        int head = 4 * last;
        _features.Add(new ConvNormActivation(last, head, 1, 1, 1, Activation.SiLU, eps, momentum, g));
        var fc = new Linear(head, numClasses, generator: g);
        _classifier = RegisterModule("classifier", new Sequential(new Dropout(dropout), fc));
        foreach (var (_, m) in NamedModules())
            if (m is Conv2d conv) { Init.KaimingNormal(conv.Weight, fanOut: true, g: g); if (conv.Bias is { } b) Init.Constant(b, 0); }
        double range = 1.0 / Math.Sqrt(numClasses);
        Init.Uniform(fc.Weight, range, g);
        Init.Constant(fc.Bias!, 0);
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var h = _features.Forward(x).Mean([2, 3]);
        return scope.MoveToOuter(_classifier.Forward(h));
    }

    public static EfficientNet B(int variant, int numClasses = 1000, int inChannels = 3, Generator? g = null) => variant switch
    {
        0 => new EfficientNet(1.0, 1.0, 0.2, numClasses, inChannels, generator: g),
        1 => new EfficientNet(1.0, 1.1, 0.2, numClasses, inChannels, generator: g),
        2 => new EfficientNet(1.1, 1.2, 0.3, numClasses, inChannels, generator: g),
        3 => new EfficientNet(1.2, 1.4, 0.3, numClasses, inChannels, generator: g),
        _ => throw new ArgumentOutOfRangeException(nameof(variant), $"EfficientNet-B{variant} is not provided (B0-B3 are)"),
    };
}
