// ONNX forms of the layers in src/Nn/Modules (eval-mode semantics: batch norm with running statistics,
// dropout as identity). Opset 17: GELU has no operator yet and is written out with Erf or Tanh.
using Cuda.Nn.Onnx;
using static Cuda.Nn.Onnx.OnnxGraphBuilder;

namespace Cuda.Nn.Modules;

public sealed partial class Conv2d : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        List<string> inputs;
        if (Int8 is null) inputs = [x, g.Param(path, "weight", Weight)];
        else
        {
            var q = Int8;
            // QDQ: the input through its calibrated uint8 quantization, the weight from int8 per channel.
            var scale = g.FloatInitializer(OnnxGraphBuilder.Child(path, "input_scale"), [q.Input.Scale], []);
            var zp = g.ByteInitializer(OnnxGraphBuilder.Child(path, "input_zero_point"), [(byte)q.Input.ZeroPoint], [], signed: false);
            var xq = g.Node("QuantizeLinear", [x, scale, zp], path);
            inputs = [g.Node("DequantizeLinear", [xq, scale, zp], path), g.QuantizedWeight(path, q.Weights)];
        }
        if (Bias is { } b) inputs.Add(g.Param(path, "bias", b));
        return g.Node("Conv", inputs, path,
            Attr.Ints("kernel_shape", KernelSize.H, KernelSize.W), Attr.Ints("strides", Stride.H, Stride.W),
            Attr.Ints("pads", Padding.H, Padding.W, Padding.H, Padding.W), Attr.Ints("dilations", Dilation.H, Dilation.W),
            Attr.Int("group", Groups));
    }
}

public sealed partial class BatchNorm2d : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        if (FoldedAway) return x; // folded into the conv before it
        string[] inputs = [x, g.Param(path, "weight", Weight), g.Param(path, "bias", Bias),
            g.Param(path, "running_mean", RunningMean), g.Param(path, "running_var", RunningVar)];
        g.Param(path, "num_batches_tracked", NumBatchesTracked); // unused by inference; kept so the file holds the whole state dict
        // ONNX's momentum weights the old running value, PyTorch's the new one.
        return g.Node("BatchNormalization", inputs, path, Attr.Float("epsilon", Eps), Attr.Float("momentum", 1 - Momentum));
    }
}

public sealed partial class Linear : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        // MatMul against W^T works for inputs of any rank ([B, F] and ViT's [B, T, F]); runtimes fold the transpose.
        string weight;
        if (Int8 is null) weight = g.Param(path, "weight", Weight);
        else
        {
            var q = Int8;
            // Dynamic quantization: DynamicQuantizeLinear picks the input's uint8 range per call, as LinearInt8 does.
            var dq = g.NodeMulti("DynamicQuantizeLinear", [x], 3, path);
            x = g.Node("DequantizeLinear", dq, path);
            weight = g.QuantizedWeight(path, q.Weights);
        }
        var wt = g.Node("Transpose", [weight], path, Attr.Ints("perm", 1, 0));
        var y = g.Node("MatMul", [x, wt], path);
        return Bias is { } b ? g.Node("Add", [y, g.Param(path, "bias", b)], path) : y;
    }
}

public sealed partial class LayerNorm : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        int n = NormalizedShape.Aggregate(1, (a, d) => a * d);
        var scale = Weight is { } w ? g.Param(path, "weight", w)
            : g.Node("Constant", [], path, Attr.Tensor("value", FloatTensor("", Enumerable.Repeat(1f, n).ToArray(), NormalizedShape)));
        var inputs = new List<string> { x, scale };
        if (Bias is { } b) inputs.Add(g.Param(path, "bias", b));
        return g.Node("LayerNormalization", inputs, path, Attr.Int("axis", -NormalizedShape.Length), Attr.Float("epsilon", Eps));
    }
}

public sealed partial class Dropout : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) => x;
}

public sealed partial class Identity : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) => x;
}

public sealed partial class Flatten : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        // ONNX Flatten always makes a matrix, which is Flatten(start, -1) only when start is 1 (or 0 with a leading 1).
        if (StartDim != 1 || EndDim != -1)
            throw new NotSupportedException($"ONNX export: Flatten '{path}' flattens dims {StartDim}..{EndDim}; only Flatten(1, -1) is mapped");
        return g.Node("Flatten", [x], path, Attr.Int("axis", 1));
    }
}

public sealed partial class Sequential : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        foreach (var (name, child) in NamedChildren()) x = g.Emit(child, x, Child(path, name));
        return x;
    }
}

public sealed partial class Activation : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        switch (Name)
        {
            case "relu": return g.Node("Relu", [x], path);
            case "relu6": return g.Node("Clip", [x, g.ConstFloat(path, 0), g.ConstFloat(path, 6)], path);
            case "leaky_relu": return g.Node("LeakyRelu", [x], path, Attr.Float("alpha", Argument));
            case "sigmoid": return g.Node("Sigmoid", [x], path);
            case "tanh": return g.Node("Tanh", [x], path);
            case "softplus": return g.Node("Softplus", [x], path);
            case "hardswish": return g.Node("HardSwish", [x], path);
            case "hardsigmoid": return g.Node("HardSigmoid", [x], path, Attr.Float("alpha", 1.0 / 6), Attr.Float("beta", 0.5));
            case "silu": return g.Node("Mul", [x, g.Node("Sigmoid", [x], path)], path);
            case "gelu":
                string inner;
                if (Argument == 0) // 0.5 x (1 + erf(x / sqrt 2))
                    inner = g.Node("Erf", [g.Node("Div", [x, g.ConstFloat(path, MathF.Sqrt(2))], path)], path);
                else // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                {
                    var cube = g.Node("Mul", [x, g.Node("Mul", [x, x], path)], path);
                    var sum = g.Node("Add", [x, g.Node("Mul", [cube, g.ConstFloat(path, 0.044715f)], path)], path);
                    inner = g.Node("Tanh", [g.Node("Mul", [sum, g.ConstFloat(path, MathF.Sqrt(2 / MathF.PI))], path)], path);
                }
                var half = g.Node("Mul", [x, g.ConstFloat(path, 0.5f)], path);
                return g.Node("Mul", [half, g.Node("Add", [inner, g.ConstFloat(path, 1)], path)], path);
            default:
                throw new NotSupportedException($"ONNX export: activation '{Name}' at '{path}' has no ONNX mapping");
        }
    }
}

public sealed partial class MaxPool2d : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) =>
        g.Node("MaxPool", [x], path, Attr.Ints("kernel_shape", KernelSize, KernelSize), Attr.Ints("strides", Stride, Stride),
            Attr.Ints("pads", Padding, Padding, Padding, Padding), Attr.Int("ceil_mode", CeilMode ? 1 : 0));
}

public sealed partial class AvgPool2d : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) =>
        g.Node("AveragePool", [x], path, Attr.Ints("kernel_shape", KernelSize, KernelSize), Attr.Ints("strides", Stride, Stride),
            Attr.Ints("pads", Padding, Padding, Padding, Padding), Attr.Int("ceil_mode", CeilMode ? 1 : 0),
            Attr.Int("count_include_pad", CountIncludePad ? 1 : 0));
}

public sealed partial class AdaptiveAvgPool2d : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        // Other output sizes depend on the input's spatial size, which the exporter does not track.
        if (OutputSize != (1, 1))
            throw new NotSupportedException($"ONNX export: AdaptiveAvgPool2d '{path}' has output size {OutputSize}; only (1, 1) is mapped (GlobalAveragePool)");
        return g.Node("GlobalAveragePool", [x], path);
    }
}

public sealed partial class MultiheadAttention : IOnnxExportable
{
    /// <summary>Self-attention on [B, T, E]: one packed projection, heads split by Reshape/Transpose, softmax(q k^T / sqrt d) v.</summary>
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        int e = EmbedDim, h = NumHeads, d = e / h;
        var wt = g.Node("Transpose", [g.Param(path, "in_proj_weight", InProjWeight)], path, Attr.Ints("perm", 1, 0));
        var qkv = g.Node("MatMul", [x, wt], path);
        if (InProjBias is { } b) qkv = g.Node("Add", [qkv, g.Param(path, "in_proj_bias", b)], path);
        var split = g.Node("Reshape", [qkv, g.ConstInt64(path, [0, 0, 3, h, d])], path);   // [B, T, 3, H, d]
        var heads = g.Node("Transpose", [split], path, Attr.Ints("perm", 2, 0, 3, 1, 4));  // [3, B, H, T, d]
        string Part(int i) => g.Node("Gather", [heads, g.ConstInt64(path, [i], [])], path, Attr.Int("axis", 0));
        var q = Part(0);
        var kt = g.Node("Transpose", [Part(1)], path, Attr.Ints("perm", 0, 1, 3, 2));
        var v = Part(2);
        var scores = g.Node("Mul", [g.Node("MatMul", [q, kt], path), g.ConstFloat(path, (float)(1 / Math.Sqrt(d)))], path);
        var attn = g.Node("Softmax", [scores], path, Attr.Int("axis", -1));
        var o = g.Node("Transpose", [g.Node("MatMul", [attn, v], path)], path, Attr.Ints("perm", 0, 2, 1, 3)); // [B, T, H, d]
        var merged = g.Node("Reshape", [o, g.ConstInt64(path, [0, 0, e])], path);
        return g.Emit(OutProj, merged, Child(path, "out_proj"));
    }
}
