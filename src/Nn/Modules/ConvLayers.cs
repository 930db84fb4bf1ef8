// Convolution-stack layers: Conv2d, BatchNorm2d, pooling modules. Tensors are looked up by name so that
// To() can replace them; names match torch.nn (weight, bias, running_mean, running_var, num_batches_tracked).
using Cuda.Nn.Autograd;
using Cuda.Nn.Compression;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Modules;

public sealed partial class Conv2d : Module
{
    public int InChannels { get; private set; }
    public int OutChannels { get; private set; }
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    public (int H, int W) Dilation { get; }
    public int Groups { get; }
    public Tensor Weight => Own("weight")!;
    public Tensor? Bias => Own("bias");

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1, int groups = 1, bool bias = true, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), groups, bias, generator) { }

    public Conv2d(int inChannels, int outChannels, (int, int) kernelSize, (int, int) stride, (int, int) padding, (int, int) dilation, int groups = 1, bool bias = true, Generator? generator = null)
    {
        if (groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"conv2d: in_channels {inChannels} and out_channels {outChannels} must both be divisible by groups {groups}");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Dilation = dilation;
        Groups = groups;
        var w = RegisterParameter("weight", Tensor.Empty([outChannels, inChannels / groups, kernelSize.Item1, kernelSize.Item2]));
        Init.DefaultUniform(w, generator);
        if (bias)
        {
            var b = RegisterParameter("bias", Tensor.Empty([outChannels]));
            Init.Uniform(b, 1.0 / Math.Sqrt(Init.Fans(w.ShapeRef).FanIn), generator);
        }
    }

    /// <summary>Keeps only the listed output channels (filters) and/or input channels, for structured pruning (groups 1).</summary>
    internal void KeepChannels(int[]? outputs, int[]? inputs)
    {
        if (Groups != 1) throw new InvalidOperationException($"channel pruning of a grouped convolution (groups {Groups}) is not supported");
        using var noGrad = AutogradMode.NoGrad();
        if (outputs is not null)
        {
            using var idx = Pruning.Index(outputs);
            ReplaceOwn("weight", Weight.IndexSelect(0, idx));
            if (Bias is { } b) ReplaceOwn("bias", b.IndexSelect(0, idx));
            OutChannels = outputs.Length;
        }
        if (inputs is not null)
        {
            using var idx = Pruning.Index(inputs);
            ReplaceOwn("weight", Weight.IndexSelect(1, idx));
            InChannels = inputs.Length;
        }
    }

    /// <summary>Set by quantization: in eval mode the conv then runs in int8.</summary>
    internal ConvInt8? Int8 { get; set; }
    /// <summary>Set during calibration: records the range of the inputs.</summary>
    internal RangeObserver? Observer { get; set; }

    /// <summary>Folds a per-output-channel affine (a batch norm in eval form) into the weights and bias.</summary>
    internal void FoldScaleShift(Tensor scale, Tensor shift)
    {
        using var noGrad = AutogradMode.NoGrad();
        using var s4 = scale.Reshape([OutChannels, 1, 1, 1]);
        ReplaceOwn("weight", Weight.Mul(s4));
        if (Bias is { } b) ReplaceOwn("bias", b.Mul(scale).Add(shift));
        else RegisterParameter("bias", shift.Clone());
        Int8 = null;
    }

    public override Tensor Forward(Tensor input)
    {
        Observer?.Observe(input);
        if (Int8 is not null && !IsTraining) return Int8.Forward(input, this);
        var y = F.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);
        Models.ModelSummary.Report(this, y, (long)y.Numel * (InChannels / Groups) * KernelSize.H * KernelSize.W);
        return y;
    }
}

/// <summary>Batch norm over [N, C, H, W] with running statistics (momentum weights the new value, PyTorch's convention).</summary>
public sealed partial class BatchNorm2d : Module
{
    public int NumFeatures { get; private set; }
    public double Eps { get; }
    public double Momentum { get; }
    public Tensor Weight => Own("weight")!;
    public Tensor Bias => Own("bias")!;
    public Tensor RunningMean => Own("running_mean")!;
    public Tensor RunningVar => Own("running_var")!;
    public Tensor NumBatchesTracked => Own("num_batches_tracked")!;

    public BatchNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1)
    {
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        RegisterParameter("weight", Tensor.Ones([numFeatures]));
        RegisterParameter("bias", Tensor.Zeros([numFeatures]));
        RegisterBuffer("running_mean", Tensor.Zeros([numFeatures]));
        RegisterBuffer("running_var", Tensor.Ones([numFeatures]));
        RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.I64));
    }

    /// <summary>Keeps only the listed channels (structured pruning).</summary>
    internal void KeepChannels(int[] channels)
    {
        using var noGrad = AutogradMode.NoGrad();
        using var idx = Pruning.Index(channels);
        foreach (var name in new[] { "weight", "bias", "running_mean", "running_var" }) ReplaceOwn(name, Own(name)!.IndexSelect(0, idx));
        NumFeatures = channels.Length;
    }

    /// <summary>Set when this norm has been folded into the conv before it: in eval mode it passes its input through.</summary>
    internal bool FoldedAway { get; set; }

    /// <summary>When set (data-parallel training with --sync-bn), training-mode statistics are those of the global batch
    /// over these ranks (torch.nn.SyncBatchNorm); eval mode is unchanged.</summary>
    public Distributed.ICollectives? SyncWith { get; set; }

    public override Tensor Forward(Tensor input)
    {
        if (FoldedAway)
        {
            if (IsTraining) throw new InvalidOperationException("this batch norm was folded into its conv for inference; a folded model cannot train");
            return input.Share();
        }
        if (IsTraining)
        {
            using var noGrad = AutogradMode.NoGrad();
            using var next = NumBatchesTracked.Add(1);
            NumBatchesTracked.CopyFrom(next);
        }
        if (input.Rank != 4) throw new ArgumentException($"batch_norm2d: input must be [N, C, H, W], got {Layout.ShapeString(input.ShapeRef)}");
        var y = IsTraining && SyncWith is { } ranks
            ? Distributed.SyncBatchNorm.Apply(input, RunningMean, RunningVar, Weight, Bias, Momentum, Eps, ranks)
            : F.BatchNorm2d(input, RunningMean, RunningVar, Weight, Bias, IsTraining, Momentum, Eps);
        Models.ModelSummary.Report(this, y, 0);
        return y;
    }
}

public sealed partial class MaxPool2d(int kernelSize, int stride = -1, int padding = 0, bool ceilMode = false) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride < 0 ? kernelSize : stride;
    public int Padding { get; } = padding;
    public bool CeilMode { get; } = ceilMode;

    public override Tensor Forward(Tensor input) =>
        F.MaxPool2d(input, (KernelSize, KernelSize), (Stride, Stride), (Padding, Padding), ceilMode: CeilMode);
}

public sealed partial class AvgPool2d(int kernelSize, int stride = -1, int padding = 0, bool ceilMode = false, bool countIncludePad = true) : Module
{
    public int KernelSize { get; } = kernelSize;
    public int Stride { get; } = stride < 0 ? kernelSize : stride;
    public int Padding { get; } = padding;
    public bool CeilMode { get; } = ceilMode;
    public bool CountIncludePad { get; } = countIncludePad;

    public override Tensor Forward(Tensor input) =>
        F.AvgPool2d(input, (KernelSize, KernelSize), (Stride, Stride), (Padding, Padding), CeilMode, CountIncludePad);
}

public sealed partial class AdaptiveAvgPool2d(int outH, int outW) : Module
{
    public (int H, int W) OutputSize { get; } = (outH, outW);
    public override Tensor Forward(Tensor input) => F.AdaptiveAvgPool2d(input, OutputSize);
}
