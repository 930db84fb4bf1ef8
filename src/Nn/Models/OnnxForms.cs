// ONNX forms of the model blocks in src/Nn/Models, in the same order as their Forward methods.
using Cuda.Nn.Onnx;
using static Cuda.Nn.Onnx.OnnxGraphBuilder;

namespace Cuda.Nn.Models;

internal static class ExportHelpers
{
    /// <summary>x.Mean([2, 3]) of the model code.</summary>
    public static string SpatialMean(OnnxGraphBuilder g, string x, string path, bool keepDim) =>
        g.Node("ReduceMean", [x], path, Attr.Ints("axes", 2, 3), Attr.Int("keepdims", keepDim ? 1 : 0));
}

public sealed partial class BasicBlock : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var o = g.Node("Relu", [g.Emit(_bn1, g.Emit(_conv1, x, Child(path, "conv1")), Child(path, "bn1"))], path);
        o = g.Emit(_bn2, g.Emit(_conv2, o, Child(path, "conv2")), Child(path, "bn2"));
        var identity = _downsample is null ? x : g.Emit(_downsample, x, Child(path, "downsample"));
        return g.Node("Relu", [g.Node("Add", [o, identity], path)], path);
    }
}

public sealed partial class Bottleneck : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var o = g.Node("Relu", [g.Emit(_bn1, g.Emit(_conv1, x, Child(path, "conv1")), Child(path, "bn1"))], path);
        o = g.Node("Relu", [g.Emit(_bn2, g.Emit(_conv2, o, Child(path, "conv2")), Child(path, "bn2"))], path);
        o = g.Emit(_bn3, g.Emit(_conv3, o, Child(path, "conv3")), Child(path, "bn3"));
        var identity = _downsample is null ? x : g.Emit(_downsample, x, Child(path, "downsample"));
        return g.Node("Relu", [g.Node("Add", [o, identity], path)], path);
    }
}

public sealed partial class ResNet : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var h = g.Node("Relu", [g.Emit(_bn1, g.Emit(_conv1, x, Child(path, "conv1")), Child(path, "bn1"))], path);
        if (_maxpool is not null) h = g.Emit(_maxpool, h, Child(path, "maxpool"));
        for (int i = 0; i < _layers.Length; i++) h = g.Emit(_layers[i], h, Child(path, $"layer{i + 1}"));
        return g.Emit(_fc, ExportHelpers.SpatialMean(g, h, path, false), Child(path, "fc"));
    }
}

public sealed partial class ConvNormActivation : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var y = g.Emit(_bn, g.Emit(_conv, x, Child(path, "0")), Child(path, "1"));
        return _act is null ? y : g.Emit(_act, y, Child(path, "2"));
    }
}

public sealed partial class SqueezeExcitation : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var s = ExportHelpers.SpatialMean(g, x, path, true);
        s = g.Emit(_act, g.Emit(_fc1, s, Child(path, "fc1")), Child(path, "activation"));
        s = g.Emit(_scale, g.Emit(_fc2, s, Child(path, "fc2")), Child(path, "scale_activation"));
        return g.Node("Mul", [x, s], path);
    }
}

public sealed partial class StochasticDepth : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) => x;
}

public sealed partial class InvertedResidual : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var y = g.Emit(_block, x, Child(path, "block"));
        return UseResidual ? g.Node("Add", [y, x], path) : y; // stochastic depth is the identity in eval mode
    }
}

public sealed partial class MobileNetV3 : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var h = ExportHelpers.SpatialMean(g, g.Emit(_features, x, Child(path, "features")), path, false);
        return g.Emit(_classifier, h, Child(path, "classifier"));
    }
}

public sealed partial class EfficientNet : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var h = ExportHelpers.SpatialMean(g, g.Emit(_features, x, Child(path, "features")), path, false);
        return g.Emit(_classifier, h, Child(path, "classifier"));
    }
}

public sealed partial class PatchEmbedding : IOnnxExportable
{
    /// <summary>A conv with kernel = stride = patch, then [B, D, h, w] to [B, h w, D].</summary>
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        int p = Patch, dim = Weight.ShapeRef[0];
        var y = g.Node("Conv", [x, g.Param(path, "weight", Weight), g.Param(path, "bias", Bias)], path,
            Attr.Ints("kernel_shape", p, p), Attr.Ints("strides", p, p));
        y = g.Node("Reshape", [y, g.ConstInt64(path, [0, dim, -1])], path);
        return g.Node("Transpose", [y], path, Attr.Ints("perm", 0, 2, 1));
    }
}

public sealed partial class VitMlp : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        foreach (var (name, child) in NamedChildren()) x = g.Emit(child, x, Child(path, name));
        return x;
    }
}

public sealed partial class EncoderBlock : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var a = g.Emit(_attention, g.Emit(_ln1, x, Child(path, "ln_1")), Child(path, "self_attention"));
        var h = g.Node("Add", [a, x], path);
        var m = g.Emit(_mlp, g.Emit(_ln2, h, Child(path, "ln_2")), Child(path, "mlp"));
        return g.Node("Add", [h, m], path);
    }
}

public sealed partial class VisionTransformer : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path)
    {
        var tokens = g.Emit(_patch, x, Child(path, "conv_proj"));
        // class_token [1, 1, D] expanded to [B, 1, D] with B read from the input at run time (the batch axis is dynamic).
        int dim = ClassToken.ShapeRef[2];
        var batch = g.Node("Shape", [tokens], path, Attr.Int("start", 0), Attr.Int("end", 1));
        var shape = g.Node("Concat", [batch, g.ConstInt64(path, [1, dim])], path, Attr.Int("axis", 0));
        var cls = g.Node("Expand", [g.Param(path, "class_token", ClassToken), shape], path);
        var seq = g.Node("Concat", [cls, tokens], path, Attr.Int("axis", 1));
        var enc = Child(path, "encoder");
        var h = g.Node("Add", [seq, g.Param(enc, "pos_embedding", _encoder.PosEmbedding)], enc);
        h = g.Emit(_encoder.Layers, h, Child(enc, "layers"));
        h = g.Emit(_encoder.Norm, h, Child(enc, "ln"));
        var first = g.Node("Gather", [h, g.ConstInt64(path, [0], [])], path, Attr.Int("axis", 1));
        return g.Emit(_head, first, Child(path, "heads.head"));
    }
}

public sealed partial class VitEncoder : IOnnxExportable
{
    string IOnnxExportable.ExportOnnx(OnnxGraphBuilder g, string x, string path) =>
        throw new NotSupportedException($"ONNX export: '{path}' (VitEncoder) is exported by its VisionTransformer, not on its own");
}
