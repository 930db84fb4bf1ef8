// Basic layers: Linear, LayerNorm, Dropout, Identity, Flatten, Sequential and the activation modules.
using Cuda.Nn.Functional;

namespace Cuda.Nn.Modules;

/// <summary>y = x W^T + b; weight [out, in], PyTorch's default init.</summary>
public sealed partial class Linear : Module
{
    public int InFeatures { get; private set; }
    public int OutFeatures { get; private set; }
    public Tensor Weight => Own("weight")!;
    public Tensor? Bias => Own("bias");

    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var w = RegisterParameter("weight", Tensor.Empty([outFeatures, inFeatures]));
        Init.DefaultUniform(w, generator);
        if (bias)
        {
            var b = RegisterParameter("bias", Tensor.Empty([outFeatures]));
            Init.Uniform(b, 1.0 / Math.Sqrt(inFeatures), generator);
        }
    }

    /// <summary>Keeps only the listed output and/or input features (structured pruning).</summary>
    internal void KeepFeatures(int[]? outputs, int[]? inputs)
    {
        using var noGrad = Autograd.AutogradMode.NoGrad();
        if (outputs is not null)
        {
            using var idx = Compression.Pruning.Index(outputs);
            ReplaceOwn("weight", Weight.IndexSelect(0, idx));
            if (Bias is { } b) ReplaceOwn("bias", b.IndexSelect(0, idx));
            OutFeatures = outputs.Length;
        }
        if (inputs is not null)
        {
            using var idx = Compression.Pruning.Index(inputs);
            ReplaceOwn("weight", Weight.IndexSelect(1, idx));
            InFeatures = inputs.Length;
        }
    }

    /// <summary>Set by quantization: in eval mode the layer then runs in int8.</summary>
    internal Compression.LinearInt8? Int8 { get; set; }

    public override Tensor Forward(Tensor input)
    {
        if (Int8 is not null && !IsTraining) return Int8.Forward(input, this);
        var y = F.Linear(input, Weight, Bias);
        Models.ModelSummary.Report(this, y, (long)y.Numel * InFeatures);
        return y;
    }
}

/// <summary>Layer norm over the trailing normalizedShape dims, with elementwise affine weight 1 and bias 0.</summary>
public sealed partial class LayerNorm : Module
{
    public int[] NormalizedShape { get; }
    public double Eps { get; }
    public Tensor? Weight => Own("weight");
    public Tensor? Bias => Own("bias");

    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true)
    {
        NormalizedShape = normalizedShape;
        Eps = eps;
        if (elementwiseAffine)
        {
            RegisterParameter("weight", Tensor.Ones(normalizedShape));
            RegisterParameter("bias", Tensor.Zeros(normalizedShape));
        }
    }

    public LayerNorm(int dim, double eps = 1e-5) : this([dim], eps) { }

    public override Tensor Forward(Tensor input)
    {
        var y = F.LayerNorm(input, NormalizedShape, Weight, Bias, Eps);
        Models.ModelSummary.Report(this, y, 0);
        return y;
    }
}

public sealed partial class Dropout(double p = 0.5, Generator? generator = null) : Module
{
    public double P { get; } = p;
    public override Tensor Forward(Tensor input) => F.Dropout(input, P, IsTraining, generator);
}

public sealed partial class Identity : Module
{
    public override Tensor Forward(Tensor input) => input.Share();
}

public sealed partial class Flatten(int startDim = 1, int endDim = -1) : Module
{
    public int StartDim { get; } = startDim;
    public int EndDim { get; } = endDim;
    public override Tensor Forward(Tensor input) => input.Flatten(StartDim, EndDim);
}

/// <summary>Children named "0", "1", ... applied in order (torch.nn.Sequential's state-dict names).</summary>
public sealed partial class Sequential : Module
{
    private readonly List<Module> _layers = new();

    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public Sequential Add(Module layer) => AddNamed(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);

    /// <summary>Adds a layer under an explicit name (torchvision uses names like "encoder_layer_0" or "head").</summary>
    public Sequential AddNamed(string name, Module layer)
    {
        RegisterModule(name, layer);
        _layers.Add(layer);
        return this;
    }

    public int Count => _layers.Count;
    public Module this[int i] => _layers[i];

    public override Tensor Forward(Tensor input)
    {
        var x = input.Share();
        foreach (var l in _layers)
        {
            var y = l.Forward(x);
            x.Dispose();
            x = y;
        }
        return x;
    }
}

/// <summary>An elementwise activation as a module; Argument is its one hyperparameter (LeakyReLU's slope, 1 for
/// tanh-approximated GELU), kept so exporters can describe it.</summary>
public sealed partial class Activation(string name, Func<Tensor, Tensor> fn, double argument = 0) : Module
{
    public string Name { get; } = name;
    public double Argument { get; } = argument;
    public override Tensor Forward(Tensor input) => fn(input);

    public static Activation ReLU() => new("relu", x => x.Relu());
    public static Activation ReLU6() => new("relu6", x => x.Clamp(0, 6));
    public static Activation LeakyReLU(double slope = 0.01) => new("leaky_relu", x => x.LeakyRelu(slope), slope);
    public static Activation GELU(bool approximateTanh = false) => new("gelu", x => x.Gelu(approximateTanh), approximateTanh ? 1 : 0);
    public static Activation SiLU() => new("silu", x => x.Silu());
    public static Activation Sigmoid() => new("sigmoid", x => x.Sigmoid());
    public static Activation Tanh() => new("tanh", x => x.Tanh());
    public static Activation Hardswish() => new("hardswish", x => x.Hardswish());
    public static Activation Hardsigmoid() => new("hardsigmoid", x => x.Hardsigmoid());
    public static Activation Softplus() => new("softplus", x => x.Softplus());
}
