// ResNet (He et al.) with torchvision's parameter names: conv1, bn1, layer1..layer4 of BasicBlock or
// Bottleneck (conv1/bn1/conv2/bn2[/conv3/bn3], downsample.0/.1), fc. Also the CIFAR-style ResNet-20.
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public sealed partial class BasicBlock : Module
{
    public const int Expansion = 1;
    private readonly Conv2d _conv1, _conv2;
    private readonly BatchNorm2d _bn1, _bn2;
    private readonly Sequential? _downsample;

    public BasicBlock(int inPlanes, int planes, int stride, bool downsample, Generator? g)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride, 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, 1, 1, bias: false, generator: g));
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        if (downsample)
            _downsample = RegisterModule("downsample", new Sequential(new Conv2d(inPlanes, planes, 1, stride, 0, bias: false, generator: g), new BatchNorm2d(planes)));
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var o = _bn1.Forward(_conv1.Forward(x)).Relu();
        o = _bn2.Forward(_conv2.Forward(o));
        var identity = _downsample is null ? x : _downsample.Forward(x);
        return scope.MoveToOuter(o.Add(identity).Relu());
    }
}

public sealed partial class Bottleneck : Module
{
    public const int Expansion = 4;
    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly BatchNorm2d _bn1, _bn2, _bn3;
    private readonly Sequential? _downsample;

    public Bottleneck(int inPlanes, int planes, int stride, bool downsample, Generator? g)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 1, bias: false, generator: g));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        _conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, stride, 1, bias: false, generator: g)); // stride here: ResNet v1.5
        _bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        _conv3 = RegisterModule("conv3", new Conv2d(planes, planes * Expansion, 1, bias: false, generator: g));
        _bn3 = RegisterModule("bn3", new BatchNorm2d(planes * Expansion));
        if (downsample)
            _downsample = RegisterModule("downsample", new Sequential(new Conv2d(inPlanes, planes * Expansion, 1, stride, 0, bias: false, generator: g), new BatchNorm2d(planes * Expansion)));
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var o = _bn1.Forward(_conv1.Forward(x)).Relu();
        o = _bn2.Forward(_conv2.Forward(o)).Relu();
        o = _bn3.Forward(_conv3.Forward(o));
        var identity = _downsample is null ? x : _downsample.Forward(x);
        return scope.MoveToOuter(o.Add(identity).Relu());
    }
}

public sealed partial class ResNet : Module
{
    private readonly Conv2d _conv1;
    private readonly BatchNorm2d _bn1;
    private readonly MaxPool2d? _maxpool;
    private readonly Sequential[] _layers;
    private readonly Linear _fc;

    /// <param name="blocks">Blocks per stage (ResNet-18: 2, 2, 2, 2).</param>
    /// <param name="widths">Channels per stage (64, 128, 256, 512).</param>
    /// <param name="bottleneck">Bottleneck blocks (ResNet-50) instead of basic blocks.</param>
    /// <param name="numClasses">Outputs of the classifier.</param>
    /// <param name="inChannels">Channels of the input images.</param>
    /// <param name="cifarStem">3x3 stride-1 stem without max-pool, for 28-32 px inputs.</param>
    /// <param name="generator">Draws the initial weights (a seeded one reproduces them).</param>
    public ResNet(int[] blocks, int[] widths, bool bottleneck, int numClasses = 1000, int inChannels = 3, bool cifarStem = false, Generator? generator = null)
    {
        int expansion = bottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;
        int inPlanes = widths[0];
        _conv1 = RegisterModule("conv1", cifarStem
            ? new Conv2d(inChannels, inPlanes, 3, 1, 1, bias: false, generator: generator)
            : new Conv2d(inChannels, inPlanes, 7, 2, 3, bias: false, generator: generator));
        _bn1 = RegisterModule("bn1", new BatchNorm2d(inPlanes));
        if (!cifarStem) _maxpool = RegisterModule("maxpool", new MaxPool2d(3, 2, 1));
        _layers = new Sequential[blocks.Length];
        for (int s = 0; s < blocks.Length; s++)
        {
            var layer = new Sequential();
            int planes = widths[s];
            for (int b = 0; b < blocks[s]; b++)
            {
                int stride = b == 0 && s > 0 ? 2 : 1;
                bool down = b == 0 && (stride != 1 || inPlanes != planes * expansion);
                layer.Add(bottleneck ? new Bottleneck(inPlanes, planes, stride, down, generator) : new BasicBlock(inPlanes, planes, stride, down, generator));
                inPlanes = planes * expansion;
            }
            _layers[s] = RegisterModule($"layer{s + 1}", layer);
        }
        _fc = RegisterModule("fc", new Linear(inPlanes, numClasses, generator: generator));
        // torchvision: Kaiming normal (fan_out, relu) for convs; BN weight 1, bias 0 (already so).
        foreach (var (_, m) in NamedModules())
            if (m is Conv2d c) Init.KaimingNormal(c.Weight, fanOut: true, g: generator);
    }

    public IReadOnlyList<Sequential> Stages => _layers;
    public Linear Fc => _fc;

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var h = _bn1.Forward(_conv1.Forward(x)).Relu();
        if (_maxpool is not null) h = _maxpool.Forward(h);
        foreach (var l in _layers) h = l.Forward(h);
        var pooled = h.Mean([2, 3]);
        return scope.MoveToOuter(_fc.Forward(pooled));
    }

    public static ResNet ResNet18(int numClasses = 1000, int inChannels = 3, Generator? g = null) => new([2, 2, 2, 2], [64, 128, 256, 512], false, numClasses, inChannels, generator: g);
    public static ResNet ResNet34(int numClasses = 1000, int inChannels = 3, Generator? g = null) => new([3, 4, 6, 3], [64, 128, 256, 512], false, numClasses, inChannels, generator: g);
    public static ResNet ResNet50(int numClasses = 1000, int inChannels = 3, Generator? g = null) => new([3, 4, 6, 3], [64, 128, 256, 512], true, numClasses, inChannels, generator: g);
    /// <summary>CIFAR-style ResNet-20: 3x3 stem, three stages of three basic blocks (16/32/64), projection shortcuts.</summary>
    public static ResNet ResNet20(int numClasses = 10, int inChannels = 1, Generator? g = null) => new([3, 3, 3], [16, 32, 64], false, numClasses, inChannels, cifarStem: true, generator: g);
}
