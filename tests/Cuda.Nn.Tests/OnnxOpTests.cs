using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Modules;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Cuda.Nn.Tests;

/// <summary>The importer's operators against ONNX Runtime on one-node graphs (attributes and forms our exporter
/// never writes), and every exportable layer in one model through ORT and back.</summary>
public class OnnxOpTests
{
    private static Tensor R(ulong seed, params int[] shape) => Tensor.Randn(shape, new Generator(seed));
    private static Tensor L(params long[] v) => Tensor.FromArray(v, v.Length);
    private static Tensor S(float v) => Tensor.FromArray(new[] { v }, []);

    public static TheoryData<string> Cases => new(OpCases.Keys.Order());

    private static readonly Dictionary<string, (string Op, int[] Shape, AttributeProto[] Attrs, Func<(string, Tensor)[]> Inits)> OpCases = new()
    {
        ["gemm"] = ("Gemm", [3, 4], [Attr.Int("transB", 1), Attr.Float("alpha", 0.5), Attr.Float("beta", 2)], () => [("w", R(1, 5, 4)), ("c", R(2, 5))]),
        ["hardsigmoid_default"] = ("HardSigmoid", [2, 3, 4], [], () => []),
        ["leakyrelu"] = ("LeakyRelu", [2, 3, 4], [Attr.Float("alpha", 0.3)], () => []),
        ["clip"] = ("Clip", [2, 3, 4], [], () => [("lo", S(-0.5f)), ("hi", S(0.7f))]),
        ["pow"] = ("Pow", [2, 3, 4], [], () => [("e", S(2f))]),
        ["sub"] = ("Sub", [2, 3, 4], [], () => [("b", R(3, 3, 1))]),
        ["div"] = ("Div", [2, 3, 4], [], () => [("b", R(4, 4).Abs().Add(0.5))]),
        ["erf"] = ("Erf", [2, 3, 4], [], () => []),
        ["exp"] = ("Exp", [2, 3, 4], [], () => []),
        ["abs"] = ("Abs", [2, 3, 4], [], () => []),
        ["neg"] = ("Neg", [2, 3, 4], [], () => []),
        ["tanh"] = ("Tanh", [2, 3, 4], [], () => []),
        ["softplus"] = ("Softplus", [2, 3, 4], [], () => []),
        ["reducesum_axes_input"] = ("ReduceSum", [2, 3, 4], [Attr.Int("keepdims", 0)], () => [("axes", L(1))]),
        ["reducemean_negative_axis"] = ("ReduceMean", [2, 3, 4], [Attr.Ints("axes", -1)], () => []),
        ["softmax_axis1"] = ("Softmax", [2, 3, 4], [Attr.Int("axis", 1)], () => []),
        ["flatten_axis2"] = ("Flatten", [2, 3, 4, 5], [Attr.Int("axis", 2)], () => []),
        ["flatten_negative_axis"] = ("Flatten", [2, 3, 4, 5], [Attr.Int("axis", -1)], () => []),
        ["transpose_default"] = ("Transpose", [2, 3, 4], [], () => []),
        ["unsqueeze"] = ("Unsqueeze", [2, 3], [], () => [("axes", L(0, -1))]),
        ["squeeze"] = ("Squeeze", [2, 1, 4], [], () => [("axes", L(1))]),
        ["gather_1d"] = ("Gather", [2, 3, 4], [Attr.Int("axis", 1)], () => [("idx", L(2, 0))]),
        ["gather_2d_negative"] = ("Gather", [2, 3, 4], [Attr.Int("axis", 2)], () => [("idx", Tensor.FromArray(new long[] { 0, -1, 1, 2 }, 2, 2))]),
        ["reshape"] = ("Reshape", [2, 3, 4], [], () => [("shape", L(0, -1))]),
        ["expand"] = ("Expand", [2, 1, 4], [], () => [("shape", L(2, 3, 1))]),
        ["conv_asymmetric_pads"] = ("Conv", [1, 2, 7, 7], [Attr.Ints("strides", 2, 2), Attr.Ints("pads", 0, 1, 1, 0)], () => [("w", R(5, 4, 2, 3, 3))]),
        ["conv_grouped_dilated"] = ("Conv", [1, 4, 9, 9], [Attr.Int("group", 2), Attr.Ints("dilations", 2, 2), Attr.Ints("pads", 2, 2, 2, 2)], () => [("w", R(6, 6, 2, 3, 3)), ("b", R(7, 6))]),
        ["avgpool_include_pad"] = ("AveragePool", [1, 2, 7, 7], [Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1), Attr.Int("count_include_pad", 1)], () => []),
        ["avgpool_exclude_pad"] = ("AveragePool", [1, 2, 7, 7], [Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Ints("pads", 1, 1, 1, 1)], () => []),
        ["maxpool_ceil"] = ("MaxPool", [1, 2, 8, 8], [Attr.Ints("kernel_shape", 3, 3), Attr.Ints("strides", 2, 2), Attr.Int("ceil_mode", 1)], () => []),
        ["globalaveragepool"] = ("GlobalAveragePool", [2, 3, 4, 5], [], () => []),
        ["batchnorm"] = ("BatchNormalization", [2, 3, 4, 5], [Attr.Float("epsilon", 1e-3)], () => [("s", R(8, 3)), ("b", R(9, 3)), ("m", R(10, 3)), ("v", R(11, 3).Abs().Add(0.5))]),
        ["layernorm_axis1"] = ("LayerNormalization", [2, 3, 4], [Attr.Int("axis", 1)], () => [("s", R(12, 3, 4)), ("b", R(13, 3, 4))]),
        ["matmul_broadcast"] = ("MatMul", [2, 3, 4], [], () => [("w", R(14, 4, 5))]),
        ["slice_axes_negative_clamped"] = ("Slice", [2, 3, 6], [], () => [("st", L(1, -4)), ("en", L(100, -1)), ("ax", L(1, -1))]),
        ["slice_leading_axes"] = ("Slice", [4, 3], [], () => [("st", L(1)), ("en", L(3))]),
        ["max_broadcast"] = ("Max", [2, 3, 4], [], () => [("b", R(15, 4))]),
        ["min_three_inputs"] = ("Min", [2, 3, 4], [], () => [("b", R(16, 3, 1)), ("c", R(17, 1))]),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ImportedOperatorMatchesOnnxRuntime(string name)
    {
        var (op, shape, attrs, inits) = OpCases[name];
        var g = new OnnxGraphBuilder();
        var inputs = new List<string> { OnnxExporter.InputName };
        foreach (var (n, t) in inits())
        {
            g.Graph.Initializer.Add(OnnxGraphBuilder.ToTensorProto(n, t));
            inputs.Add(n);
            t.Dispose();
        }
        g.Node(op, inputs, "", attrs);
        CompareWithOnnxRuntime(g, shape, name);
    }

    /// <summary>Graphs of a few nodes: multi-output Split, Cast round trips, Shape into ConstantOfShape.</summary>
    [Fact]
    public void SmallGraphsMatchOnnxRuntime()
    {
        var x = OnnxExporter.InputName;
        {
            var g = new OnnxGraphBuilder();
            var parts = g.NodeMulti("Split", [x], 3, "", Attr.Int("axis", 1));
            g.Node("Add", [g.Node("Sub", [parts[0], parts[1]], ""), parts[2]], "");
            CompareWithOnnxRuntime(g, [2, 6, 4], "split_equal");
        }
        {
            var g = new OnnxGraphBuilder();
            g.Graph.Initializer.Add(OnnxGraphBuilder.Int64Tensor("sizes", [2, 4], [2]));
            var parts = g.NodeMulti("Split", [x, "sizes"], 2, "", Attr.Int("axis", -1));
            g.Node("Mul", [g.Node("ReduceMean", [parts[0]], "", Attr.Ints("axes", -1)), parts[1]], "");
            CompareWithOnnxRuntime(g, [2, 3, 6], "split_sizes");
        }
        {
            var g = new OnnxGraphBuilder();
            var scaled = g.Node("Mul", [x, g.ConstFloat("", 3)], "");
            var asInt = g.Node("Cast", [scaled], "", Attr.Int("to", (long)TensorProto.Types.DataType.Int64));
            g.Node("Cast", [asInt], "", Attr.Int("to", (long)TensorProto.Types.DataType.Float)); // truncation toward zero
            CompareWithOnnxRuntime(g, [2, 3, 4], "cast_round_trip");
        }
        {
            var g = new OnnxGraphBuilder();
            var dims = g.Node("Shape", [x], "", Attr.Int("start", -2));
            var fill = g.Node("ConstantOfShape", [dims], "", Attr.Tensor("value", OnnxGraphBuilder.FloatTensor("", [2.5f], [1])));
            g.Node("Add", [x, fill], "");
            CompareWithOnnxRuntime(g, [2, 3, 4], "shape_constantofshape");
        }
    }

    private static void CompareWithOnnxRuntime(OnnxGraphBuilder g, int[] shape, string name)
    {
        g.Graph.Node[^1].Output[0] = OnnxExporter.OutputName;
        g.Graph.Input.Add(FloatValue(OnnxExporter.InputName, shape));
        g.Graph.Output.Add(FloatValue(OnnxExporter.OutputName, null));
        var model = new ModelProto { IrVersion = OnnxExporter.IrVersion, Graph = g.Graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = OnnxExporter.Opset });

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model.ToByteArray(), options);
        using var imported = OnnxImporter.FromProto(model, name);
        imported.Eval();
        using var scope = new DisposeScope();
        using var noGrad = AutogradMode.NoGrad();
        var x = R(99, shape);
        var expected = OnnxTestModels.RunOrt(session, x);
        var actual = imported.Forward(x);
        double diff = OnnxTestModels.MaxAbsDiff(actual, expected);
        Assert.True(diff <= 1e-5, $"{name}: max |ours - ORT| = {diff:E3}");
    }

    private static ValueInfoProto FloatValue(string name, int[]? dims)
    {
        var type = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float };
        if (dims is not null)
        {
            type.Shape = new TensorShapeProto();
            foreach (var d in dims) type.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = type } };
    }

    [Fact]
    public void EveryExportableLayerMatchesOnnxRuntimeAndRoundTrips()
    {
        using var model = new Sequential(
            new Conv2d(3, 8, 3, stride: 2, padding: 1), new BatchNorm2d(8), Activation.ReLU6(),
            new MaxPool2d(3, 2, 1, ceilMode: true), new AvgPool2d(3, 1, 1, countIncludePad: false), Activation.LeakyReLU(0.1),
            new AdaptiveAvgPool2d(1, 1), new Flatten(), new Linear(8, 16), new LayerNorm(16), Activation.GELU(true),
            new Dropout(0.3), new Identity(), new Linear(16, 5), Activation.Softplus());
        using (AutogradMode.NoGrad())
        using (var s = new DisposeScope())
            foreach (var (k, t) in model.StateDict())
                if (k.Contains("running_var", StringComparison.Ordinal)) t.CopyFrom(Tensor.Rand(t.Shape, new Generator(4)).Add(0.5));
                else if (t.DType == Kernels.DType.F32 && t.Rank == 1) t.CopyFrom(Tensor.Randn(t.Shape, new Generator(5)).Mul(0.2));
        model.Eval();
        int[] shape = [3, 15, 15];
        var proto = OnnxExporter.Build(model, shape);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(proto.ToByteArray(), options);
        using var imported = OnnxImporter.FromProto(proto);
        imported.Eval();
        using var scope = new DisposeScope();
        using var noGrad = AutogradMode.NoGrad();
        var x = R(6, [2, .. shape]);
        var expected = model.Forward(x);
        double ort = OnnxTestModels.MaxAbsDiff(OnnxTestModels.RunOrt(session, x), expected);
        double back = OnnxTestModels.MaxAbsDiff(imported.Forward(x), expected);
        Assert.True(ort <= 1e-5 && back <= 1e-5, $"max diff: ORT {ort:E3}, imported {back:E3}");
    }
}
