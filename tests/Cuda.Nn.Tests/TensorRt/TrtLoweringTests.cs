// The direct lowering (TrtLowering) of resnet20's and resnet18's exported inference graphs, checked call by call through the
// recording test double: layer kinds and counts, every convolution's geometry, output shape, weight count and
// the checksum of its batch-norm-folded weights and bias (folded here independently, from the ONNX initializers),
// the head's constants, precision flags, workspace and the dynamic-batch profile. No TensorRT ran: this checks
// what would be handed to it.
using System.Runtime.InteropServices;
using Cuda.Nn.Interop.TensorRT;
using Cuda.Nn.Onnx;
using Cuda.Nn.Onnx.Proto;

namespace Cuda.Nn.Tests.TensorRt;

[Collection(TrtRecorderCollection.Name)]
public sealed class TrtLoweringTests
{
    private static float[] Floats(GraphProto g, string name) =>
        MemoryMarshal.Cast<byte, float>(g.Initializer.Single(t => t.Name == name).RawData.Span).ToArray();

    /// <summary>
    /// Each recorded convolution against its ONNX node, in graph order: geometry, weight count and the FNV-1a of its
    /// weights and bias folded with the batch norm that reads it (folded here, from the initializers). Returns the lines' fields.
    /// </summary>
    private static List<Dictionary<string, string>> AssertConvolutionsFolded(GraphProto graph)
    {
        var convLines = TrtRecorder.Lines("network_add_convolution").Select(TrtRecorder.Fields).ToList();
        var convNodes = graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.Equal(convNodes.Select(n => n.Name), convLines.Select(f => f["name"]));
        foreach (var (node, f) in convNodes.Zip(convLines))
        {
            var bn = graph.Node.Single(n => n.OpType == "BatchNormalization" && n.Input[0] == node.Output[0]);
            float[] w = Floats(graph, node.Input[1]);
            float[] gamma = Floats(graph, bn.Input[1]), beta = Floats(graph, bn.Input[2]), mean = Floats(graph, bn.Input[3]), variance = Floats(graph, bn.Input[4]);
            float eps = bn.Attribute.Single(a => a.Name == "epsilon").F;
            int outC = gamma.Length, per = w.Length / outC;
            var fw = new float[w.Length];
            var fb = new float[outC];
            for (int o = 0; o < outC; o++)
            {
                float s = gamma[o] / MathF.Sqrt(variance[o] + eps);
                for (int i = 0; i < per; i++) fw[o * per + i] = w[o * per + i] * s;
                fb[o] = (0f - mean[o]) * s + beta[o];
            }
            long[] k = node.Attribute.Single(a => a.Name == "kernel_shape").Ints.ToArray(), st = node.Attribute.Single(a => a.Name == "strides").Ints.ToArray();
            long[] p = node.Attribute.Single(a => a.Name == "pads").Ints.ToArray();
            Assert.Equal(($"{outC}", $"{k[0]}x{k[1]}", $"{st[0]}x{st[1]}", $"{p[0]}x{p[1]}", "1", $"{w.Length}", TrtRecorder.Fnv1a(fw), $"{outC}"),
                (f["out_channels"], f["kernel"], f["stride"], f["pad"], f["groups"], f["weights"], f["fnv"], f["bias"]));
            Assert.Contains($"bias={outC} fnv={TrtRecorder.Fnv1a(fb)} ->", TrtRecorder.Lines("network_add_convolution").Single(l => l.Contains($" name={node.Name} ")));
        }
        return convLines;
    }

    [Fact]
    public void Resnet20IsLoweredCallByCallWithFoldedWeights()
    {
        TrtRecorder.Require();
        using var model = OnnxTestModels.Create("resnet20", [3, 32, 32], 10);
        var proto = OnnxExporter.Build(model, [3, 32, 32]);
        using var logger = new Logger();
        using var builder = new Builder(logger);
        using var lowered = TrtLowering.Lower(proto, builder, new TrtBuildOptions(BuilderFlags.Fp16 | BuilderFlags.Int8, 1, 8, 32, 1UL << 28));

        Assert.Equal(new Dictionary<string, int>
        {
            ["convolution"] = 21, ["folded batch norm"] = 21, ["activation"] = 19, ["elementwise"] = 10, ["reduce"] = 1, ["matmul"] = 1, ["constant"] = 2,
        }, lowered.Layers.ToDictionary());
        Assert.Single(TrtRecorder.Lines("config_set_flags"), l => l.EndsWith(" flags=FP16,INT8,", StringComparison.Ordinal));
        Assert.Single(TrtRecorder.Lines("config_set_workspace"), l => l.EndsWith(" bytes=268435456", StringComparison.Ordinal));
        Assert.EndsWith(" name=input dtype=0 -> T5[-1x3x32x32]", TrtRecorder.Lines("network_add_input").Single());

        var graph = proto.Graph;
        var convLines = AssertConvolutionsFolded(graph);
        // Stem and layer1 at 32x32 (7 convs), layer2 at 16x16 and layer3 at 8x8 (6 + a projection each).
        var shapes = convLines.Select(f => f["->"][f["->"].IndexOf('[')..]).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["[-1x16x32x32]"] = 7, ["[-1x32x16x16]"] = 7, ["[-1x64x8x8]"] = 7 }, shapes);

        Assert.Equal(19, TrtRecorder.Lines("network_add_activation").Count(l => l.Contains(" kind=relu alpha=0 beta=0 ")));
        // Nine residual sums of two NCHW tensors, and the classifier's bias.
        var adds = TrtRecorder.Lines("network_add_elementwise").Select(TrtRecorder.Fields).ToList();
        Assert.Equal(9, adds.Count(f => f["op"] == "sum" && f["a"].Count(c => c == 'x') == 3 && f["b"].Count(c => c == 'x') == 3));
        Assert.Single(adds, f => f["op"] == "sum" && f["b"].EndsWith("[1x10]", StringComparison.Ordinal) && f["->"].EndsWith("[-1x10]", StringComparison.Ordinal));
        Assert.Contains(" input=T", TrtRecorder.Lines("network_add_reduce").Single());
        Assert.EndsWith("x64x8x8] op=avg axes=0xc keep_dims=0 -> " + TrtRecorder.Fields(TrtRecorder.Lines("network_add_reduce").Single())["->"], TrtRecorder.Lines("network_add_reduce").Single());
        Assert.EndsWith("[-1x64]", TrtRecorder.Lines("network_add_reduce").Single());
        var fc = graph.Node.Single(n => n.OpType == "Transpose").Input[0];
        var constants = TrtRecorder.Lines("network_add_constant");
        Assert.Contains(constants, l => l.Contains($" name={fc} dtype=0 count=640 fnv={TrtRecorder.Fnv1a(Floats(graph, fc))} -> ") && l.EndsWith("[10x64]"));
        string fcBias = graph.Node.Last(n => n.OpType == "Add").Input[1];
        Assert.Contains(constants, l => l.Contains($" name={fcBias} dtype=0 count=10 fnv={TrtRecorder.Fnv1a(Floats(graph, fcBias))} -> ") && l.EndsWith("[1x10]"));
        Assert.Contains(" op_b=transpose -> ", TrtRecorder.Lines("network_add_matmul").Single());
        Assert.EndsWith("[-1x10]", TrtRecorder.Lines("network_add_matmul").Single());
        Assert.EndsWith(" name=output", TrtRecorder.Lines("network_mark_output").Single());
        Assert.EndsWith(" input=input min=[1x3x32x32] opt=[8x3x32x32] max=[32x3x32x32]", TrtRecorder.Lines("profile_set_dims").Single());
        Assert.Single(TrtRecorder.Lines("config_add_profile"));

        using var plan = builder.BuildSerialized(lowered.Network, lowered.Config);
        using var engine = Engine.Deserialize(logger, plan.Span);
        Assert.Equal(["input:Input:-1,3,32,32", "output:Output:-1,10"], engine.IO.Select(io => $"{io.Name}:{io.Mode}:{string.Join(',', io.Dims)}"));
    }

    [Fact]
    public void Resnet18IsLoweredWithItsMaxPoolAndDownsamplingConvs()
    {
        TrtRecorder.Require();
        using var model = OnnxTestModels.Create("resnet18", [3, 64, 64], 10);
        var proto = OnnxExporter.Build(model, [3, 64, 64]);
        using var logger = new Logger();
        using var builder = new Builder(logger);
        using var lowered = TrtLowering.Lower(proto, builder, new TrtBuildOptions(BuilderFlags.Bf16, 2, 4, 16));

        // 7x7 stem, 8 basic blocks of two convs, three 1x1 downsampling convs; relus: stem + two per block.
        Assert.Equal(new Dictionary<string, int>
        {
            ["convolution"] = 20, ["folded batch norm"] = 20, ["activation"] = 17, ["pooling"] = 1, ["elementwise"] = 9, ["reduce"] = 1, ["matmul"] = 1, ["constant"] = 2,
        }, lowered.Layers.ToDictionary());
        var convLines = AssertConvolutionsFolded(proto.Graph);
        Assert.Equal(("7x7", "2x2", "3x3", "[-1x64x32x32]"), (convLines[0]["kernel"], convLines[0]["stride"], convLines[0]["pad"], convLines[0]["->"][convLines[0]["->"].IndexOf('[')..]));
        Assert.Equal(3, convLines.Count(f => f["kernel"] == "1x1" && f["stride"] == "2x2"));
        Assert.EndsWith(" kind=max window=3x3 stride=2x2 pad=1x1 count_include_pad=0 -> " + TrtRecorder.Fields(TrtRecorder.Lines("network_add_pooling").Single())["->"],
            TrtRecorder.Lines("network_add_pooling").Single());
        Assert.EndsWith("[-1x64x16x16]", TrtRecorder.Lines("network_add_pooling").Single());
        var shapes = convLines.Skip(1).Select(f => f["->"][f["->"].IndexOf('[')..]).GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["[-1x64x16x16]"] = 4, ["[-1x128x8x8]"] = 5, ["[-1x256x4x4]"] = 5, ["[-1x512x2x2]"] = 5 }, shapes);
        Assert.EndsWith("[-1x512]", TrtRecorder.Lines("network_add_reduce").Single());
        Assert.EndsWith("[-1x10]", TrtRecorder.Lines("network_add_matmul").Single());
        Assert.Single(TrtRecorder.Lines("config_set_flags"), l => l.EndsWith(" flags=BF16,", StringComparison.Ordinal));
        Assert.EndsWith(" input=input min=[2x3x64x64] opt=[4x3x64x64] max=[16x3x64x64]", TrtRecorder.Lines("profile_set_dims").Single());
    }

    [Fact]
    public void AnOperatorNotLoweredYetIsNamed()
    {
        TrtRecorder.Require();
        using var model = OnnxTestModels.Create("mobilenet_v3_small", [3, 32, 32], 10);
        var proto = OnnxExporter.Build(model, [3, 32, 32]);
        using var logger = new Logger();
        using var builder = new Builder(logger);
        var e = Assert.Throws<NotSupportedException>(() => TrtLowering.Lower(proto, builder, new TrtBuildOptions()));
        Assert.StartsWith("TensorRT lowering: ONNX operators not lowered yet: ", e.Message);
        Assert.Contains("HardSigmoid", e.Message);
        Assert.Throws<ArgumentException>(() => TrtLowering.Lower(proto, builder, new TrtBuildOptions(MinBatch: 8, OptBatch: 4)));
    }
}
