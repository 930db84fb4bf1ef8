// Int8 quantization for inference. Weights: symmetric int8 per output channel (scale = max|w| / 127).
// Activations: asymmetric uint8 per tensor, scale and zero point from a calibrated [min, max] that contains 0.
// Static (conv): batch norms are folded into the convs first, the input range of every plain (groups 1) conv is
// recorded over calibration batches, then the conv runs as u8 im2col x packed s8 weights on Int8Gemm.
// Dynamic (linear): the input range is taken from each input as it comes. Depthwise/grouped convs stay float.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Compression;

/// <summary>uint8 affine quantization: real = scale * (q - zeroPoint).</summary>
public readonly record struct ActivationQuant(float Scale, int ZeroPoint)
{
    /// <summary>PyTorch's MinMax observer choice: the range is widened to contain 0 so that 0 is exact.</summary>
    public static ActivationQuant FromRange(float min, float max)
    {
        min = MathF.Min(min, 0);
        max = MathF.Max(max, 0);
        float scale = (max - min) / 255f;
        if (!(scale > 0) || !float.IsFinite(scale)) scale = 1e-8f;
        int zp = Math.Clamp((int)MathF.Round(-min / scale), 0, 255);
        return new ActivationQuant(scale, zp);
    }
}

/// <summary>Running min and max of the values a layer sees during calibration.</summary>
public sealed class RangeObserver
{
    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    public long Batches { get; private set; }

    public void Observe(Tensor x)
    {
        var v = x.ToFloatArray();
        if (v.Length == 0) return;
        Min = MathF.Min(Min, System.Numerics.Tensors.TensorPrimitives.Min(v));
        Max = MathF.Max(Max, System.Numerics.Tensors.TensorPrimitives.Max(v));
        Batches++;
    }
}

/// <summary>A layer's weights as packed int8 with per-output-channel scales, and its float bias.</summary>
public sealed class Int8Weights
{
    public PackedInt8Weights Packed { get; }
    public float[] Scales { get; }
    public float[]? Bias { get; }
    /// <summary>The int8 values in the weight's own layout (for QDQ export).</summary>
    public sbyte[] Values { get; }
    public int[] Shape { get; }

    /// <summary>Quantizes w [O, ...] (each output channel's row flattened) symmetrically per channel.</summary>
    public Int8Weights(Tensor weight, Tensor? bias)
    {
        int o = weight.ShapeRef[0], k = weight.Numel / o;
        var w = weight.ToFloatArray();
        var q = new sbyte[w.Length];
        Scales = new float[o];
        for (int c = 0; c < o; c++)
        {
            var row = w.AsSpan(c * k, k);
            float amax = MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row));
            float s = amax > 0 ? amax / 127f : 1f;
            Scales[c] = s;
            for (int i = 0; i < k; i++) q[c * k + i] = (sbyte)Math.Clamp((int)MathF.Round(row[i] / s), -127, 127);
        }
        Packed = new PackedInt8Weights(q, o, k);
        Bias = bias?.ToFloatArray();
        Values = q;
        Shape = weight.Shape;
    }

    /// <summary>Dequantization per output channel as real = scale[o] * acc + offset[o], i.e.
    /// xScale * w[o] * (acc - zp * colsum[o]) + bias[o].</summary>
    internal (float[] Scale, float[] Offset) Affine(ActivationQuant x)
    {
        int n = Packed.N;
        var scale = new float[n];
        var offset = new float[n];
        for (int o = 0; o < n; o++)
        {
            scale[o] = x.Scale * Scales[o];
            offset[o] = -scale[o] * x.ZeroPoint * Packed.ColumnSums[o] + (Bias?[o] ?? 0);
        }
        return (scale, offset);
    }
}

/// <summary>A conv's int8 form: quantized weights and its calibrated input quantization.</summary>
public sealed class ConvInt8(Int8Weights weights, ActivationQuant input)
{
    public Int8Weights Weights { get; } = weights;
    public ActivationQuant Input { get; } = input;

    public Tensor Forward(Tensor x, Conv2d conv)
    {
        if (x.Rank != 4 || x.ShapeRef[1] != conv.InChannels)
            throw new ArgumentException($"int8 conv2d: input {Layout.ShapeString(x.ShapeRef)} does not have {conv.InChannels} channels in NCHW");
        var g = new Conv2dGeometry(x.ShapeRef[0], x.ShapeRef[1], x.ShapeRef[2], x.ShapeRef[3], conv.OutChannels, conv.KernelSize.H, conv.KernelSize.W,
            conv.Stride.H, conv.Stride.W, conv.Padding.H, conv.Padding.W, conv.Dilation.H, conv.Dilation.W);
        int n = g.N, o = g.O, oh = g.OH, ow = g.OW, plane = oh * ow, m = n * plane;
        int k = g.C * g.KH * g.KW, lda = (k + 3) & ~3;
        var q = Scratch.Bytes(ref Scratch.Quantized, x.Numel);
        var cols = Scratch.Bytes(ref Scratch.Columns, m * lda);
        if (Scratch.Sums.Length < m * o) Scratch.Sums = new int[m * o];
        var acc = Scratch.Sums;
        using (var xc = x.DType == DType.F32 ? x.Contiguous() : x.To(DType.F32))
            CpuQuantize.QuantizeU8(HostSpan(xc), Input.Scale, Input.ZeroPoint, q);
        CpuQuantize.Im2ColU8(q, g, (byte)Input.ZeroPoint, cols, lda);
        Int8Gemm.Multiply(cols.AsSpan(0, m * lda), m, lda, Weights.Packed, acc.AsSpan(0, m * o));
        var y = Tensor.Empty([n, o, oh, ow]);
        var (scale, offset) = Weights.Affine(Input);
        CpuQuantize.DequantizeNchw(acc.AsSpan(0, m * o), n, o, plane, scale, offset, HostSpanMutable(y));
        return y;
    }

    /// <summary>The elements of a contiguous F32 CPU tensor, in place.</summary>
    internal static unsafe ReadOnlySpan<float> HostSpan(Tensor t) => HostSpanMutable(t);

    private static unsafe Span<float> HostSpanMutable(Tensor t)
    {
        if (t.Storage is not CpuStorage cpu) throw new NotSupportedException($"int8 inference runs on the CPU; the tensor is on {t.Device}");
        return new Span<float>(cpu.Ptr<float>() + t.Layout.Offset, t.Numel);
    }

    /// <summary>Per-thread buffers reused across calls (a model's convs run one after another).</summary>
    private static class Scratch
    {
        [ThreadStatic] public static byte[]? Quantized;
        [ThreadStatic] public static byte[]? Columns;
        [ThreadStatic] private static int[]? _sums;

        public static int[] Sums { get => _sums ??= []; set => _sums = value; }

        public static byte[] Bytes(ref byte[]? buffer, int length)
        {
            if (buffer is null || buffer.Length < length) buffer = new byte[length];
            return buffer;
        }
    }
}

/// <summary>A linear layer's int8 form with dynamic (per input) activation quantization.</summary>
public sealed class LinearInt8(Int8Weights weights)
{
    public Int8Weights Weights { get; } = weights;

    public Tensor Forward(Tensor x, Linear linear)
    {
        if (x.ShapeRef[^1] != linear.InFeatures) throw new ArgumentException($"int8 linear: input {Layout.ShapeString(x.ShapeRef)} does not end in {linear.InFeatures} features");
        var xs = x.ToFloatArray();
        int k = linear.InFeatures, m = xs.Length / k, lda = (k + 3) & ~3, o = linear.OutFeatures;
        var iq = ActivationQuant.FromRange(System.Numerics.Tensors.TensorPrimitives.Min(xs), System.Numerics.Tensors.TensorPrimitives.Max(xs));
        var a = new byte[(long)m * lda];
        for (int r = 0; r < m; r++) CpuQuantize.QuantizeU8(xs.AsSpan(r * k, k), iq.Scale, iq.ZeroPoint, a.AsSpan(r * lda, k));
        var acc = new int[(long)m * o];
        Int8Gemm.Multiply(a, m, lda, Weights.Packed, acc);
        var y = new float[(long)m * o];
        var (scale, offset) = Weights.Affine(iq);
        for (int r = 0; r < m; r++)
            for (int ch = 0; ch < o; ch++) y[r * o + ch] = scale[ch] * acc[r * o + ch] + offset[ch];
        var shape = x.ShapeRef.ToArray();
        shape[^1] = o;
        return Tensor.FromArray(y, shape);
    }
}

public sealed record QuantizationSummary(int FoldedBatchNorms, int Int8Convs, int FloatConvs, int Int8Linears);

public static class Quantization
{
    /// <summary>Conv → BatchNorm2d pairs: convN/bnN children of one module, and consecutive layers of a Sequential.</summary>
    public static List<(Conv2d Conv, BatchNorm2d Norm)> ConvNormPairs(Module model)
    {
        var pairs = new List<(Conv2d, BatchNorm2d)>();
        foreach (var (_, m) in model.NamedModules())
        {
            var kids = m.NamedChildren().ToList();
            var byName = kids.ToDictionary(k => k.Key, k => k.Value);
            foreach (var (name, child) in kids)
                if (child is Conv2d conv && name.StartsWith("conv", StringComparison.Ordinal) && byName.GetValueOrDefault("bn" + name[4..]) is BatchNorm2d bn)
                    pairs.Add((conv, bn));
            if (m is Sequential seq)
                for (int i = 0; i + 1 < seq.Count; i++)
                    if (seq[i] is Conv2d conv && seq[i + 1] is BatchNorm2d bn) pairs.Add((conv, bn));
        }
        return pairs;
    }

    /// <summary>Folds each eval-mode batch norm into the conv before it (w' = w scale, b' = b scale + shift); the norm becomes an identity.</summary>
    public static int FoldBatchNorms(Module model)
    {
        int folded = 0;
        foreach (var (conv, bn) in ConvNormPairs(model))
        {
            if (bn.FoldedAway) continue;
            if (conv.OutChannels != bn.NumFeatures) throw new InvalidOperationException($"cannot fold a {bn.NumFeatures}-channel batch norm into a conv with {conv.OutChannels} outputs");
            var (scale, shift) = Functional.F.FoldBatchNorm(bn.RunningMean, bn.RunningVar, bn.Weight, bn.Bias, bn.Eps);
            using (scale) using (shift) conv.FoldScaleShift(scale, shift);
            bn.FoldedAway = true;
            folded++;
        }
        return folded;
    }

    /// <summary>
    /// Static post-training quantization: folds batch norms, calibrates the input range of every groups-1 conv over
    /// the calibration batches (eval mode), then switches those convs and every Linear (dynamic) to int8.
    /// </summary>
    public static QuantizationSummary QuantizeStatic(Module model, IEnumerable<Tensor> calibrationBatches)
    {
        model.Eval();
        int folded = FoldBatchNorms(model);
        var convs = model.NamedModules().Select(m => m.Value).OfType<Conv2d>().ToList();
        var plain = convs.Where(c => c.Groups == 1).ToList();
        foreach (var c in plain) c.Observer = new RangeObserver();
        using (AutogradMode.NoGrad())
            foreach (var batch in calibrationBatches)
            {
                using var scope = new DisposeScope();
                model.Forward(batch);
            }
        foreach (var c in plain)
        {
            var obs = c.Observer!;
            c.Observer = null;
            if (obs.Batches == 0) throw new InvalidOperationException("calibration saw no batch reach a conv layer: give at least one calibration batch");
            c.Int8 = new ConvInt8(new Int8Weights(c.Weight, c.Bias), ActivationQuant.FromRange(obs.Min, obs.Max));
        }
        int linears = QuantizeDynamic(model);
        return new QuantizationSummary(folded, plain.Count, convs.Count - plain.Count, linears);
    }

    /// <summary>Dynamic quantization: every Linear computes in int8 with its input range taken per call.</summary>
    public static int QuantizeDynamic(Module model)
    {
        int n = 0;
        foreach (var l in model.NamedModules().Select(m => m.Value).OfType<Linear>())
        {
            l.Int8 = new LinearInt8(new Int8Weights(l.Weight, l.Bias));
            n++;
        }
        return n;
    }
}
