// The direct path to a TensorRT network: our exported inference graph (OnnxExporter's ModelProto, the graph
// InferencePlan compiles) lowered node by node onto Network calls, without TensorRT's ONNX parser. As in
// InferencePlan, a batch norm read only by the convolution before it is folded into that convolution's weights
// and bias; the batch axis is dynamic (-1) and one optimisation profile covers min..max. The weight arrays
// handed to TensorRT are pinned by the Network until it is disposed (after the build). First piece: the
// operators resnet20/resnet18 export; any other is a NotSupportedException naming the node.
using Cuda.Nn.Onnx.Proto;

namespace Cuda.Nn.Interop.TensorRT;

/// <summary>What to build: precisions, the dynamic batch range and the workspace.</summary>
public sealed record TrtBuildOptions(BuilderFlags Precision = BuilderFlags.None, int MinBatch = 1, int OptBatch = 8, int MaxBatch = 32,
    ulong WorkspaceBytes = 1UL << 30);

/// <summary>A network and its configuration, ready for <see cref="Builder.BuildSerialized"/>; disposing releases both.</summary>
public sealed class LoweredNetwork(Network network, BuilderConfig config, IReadOnlyDictionary<string, int> layers) : IDisposable
{
    public Network Network { get; } = network;
    public BuilderConfig Config { get; } = config;
    /// <summary>Layers added per kind ("convolution", "activation", ...).</summary>
    public IReadOnlyDictionary<string, int> Layers { get; } = layers;

    public void Dispose()
    {
        Network.Dispose();
        Config.Dispose();
    }
}

public static class TrtLowering
{
    /// <summary>The ONNX operators lowered (BatchNormalization only where it folds into the Conv before it).</summary>
    public static IReadOnlyList<string> Operators { get; } =
        ["Add", "BatchNormalization", "Conv", "Flatten", "GlobalAveragePool", "Identity", "MatMul", "MaxPool", "ReduceMean", "Relu", "Transpose"];

    public static LoweredNetwork Lower(ModelProto model, Builder builder, TrtBuildOptions options)
    {
        if (options.MinBatch < 1 || options.MinBatch > options.OptBatch || options.OptBatch > options.MaxBatch)
            throw new ArgumentException($"batch range {options.MinBatch}..{options.OptBatch}..{options.MaxBatch} must satisfy 1 <= min <= opt <= max", nameof(options));
        var graph = model.Graph;
        var unsupported = graph.Node.Select(n => n.OpType).Where(op => !Operators.Contains(op)).Distinct().Order(StringComparer.Ordinal).ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException($"TensorRT lowering: ONNX operators not lowered yet: {string.Join(", ", unsupported)} (lowered: {string.Join(", ", Operators)})");
        var config = builder.CreateConfig();
        var network = builder.CreateNetwork();
        try
        {
            config.SetFlags(options.Precision);
            config.SetWorkspace(options.WorkspaceBytes);
            var lowering = new Lowering(graph, network);
            var input = graph.Input[0];
            long[] dims = [-1, .. input.Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue)];
            lowering.Values[input.Name] = network.AddInput(input.Name, TrtDataType.Float, dims);
            foreach (var node in graph.Node) lowering.Lower(node);
            string output = graph.Output[0].Name;
            network.MarkOutput(lowering.Tensor(output, "the graph output"), output);
            var profile = builder.CreateProfile();
            long[] Batch(int n) => [n, .. dims[1..]];
            profile.SetDimensions(input.Name, Batch(options.MinBatch), Batch(options.OptBatch), Batch(options.MaxBatch));
            config.AddProfile(profile);
            return new LoweredNetwork(network, config, lowering.Counts);
        }
        catch
        {
            network.Dispose();
            config.Dispose();
            throw;
        }
    }

    private sealed class Lowering(GraphProto graph, Network network)
    {
        public readonly Dictionary<string, TrtTensor> Values = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int> Counts = new(StringComparer.Ordinal);
        // Read when a node uses them (unused ones, such as int64 num_batches_tracked, are never converted).
        private readonly Dictionary<string, TensorProto> constants = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        private readonly HashSet<string> folded = new(StringComparer.Ordinal);
        // Constants that only a MatMul reads transposed (Linear exports MatMul(x, Transpose(W))).
        private readonly Dictionary<string, string> transposed = new(StringComparer.Ordinal);

        private static float[] Floats(TensorProto t)
        {
            if (t.DataType != (int)TensorProto.Types.DataType.Float)
                throw new NotSupportedException($"TensorRT lowering: initializer {t.Name} is of ONNX type {t.DataType}; only float is lowered");
            return t.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : t.FloatData.ToArray();
        }

        public TrtTensor Tensor(string name, string what) =>
            Values.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"TensorRT lowering: {what} '{name}' is not computed by any earlier node");

        private T Count<T>(string kind, T layer)
        {
            Counts[kind] = Counts.GetValueOrDefault(kind) + 1;
            return layer;
        }

        private List<NodeProto> Readers(string value) => graph.Node.Where(n => n.Input.Contains(value)).ToList();

        public void Lower(NodeProto node)
        {
            if (folded.Contains(node.Name)) return;
            string output = node.Output[0];
            TrtTensor X(int i = 0) => Tensor(node.Input[i], $"input {i} of {node.Name}");
            switch (node.OpType)
            {
                case "Conv": Values[output] = Conv(node); break;
                case "Relu": Values[output] = Count("activation", network.AddActivation(node.Name, X(), Activation.Relu)); break;
                case "Identity": Values[output] = X(); break;
                case "Add": Values[output] = Add(node); break;
                case "GlobalAveragePool": Values[output] = Count("reduce", network.AddReduce(node.Name, X(), ReduceOp.Avg, 0b1100, keepDims: true)); break;
                case "ReduceMean":
                {
                    var axes = Ints(node, "axes") ?? throw new NotSupportedException($"TensorRT lowering: {node.Name}: ReduceMean without axes");
                    int rank = X().Dims.Length;
                    uint mask = axes.Aggregate(0u, (m, a) => m | 1u << (int)(a < 0 ? a + rank : a));
                    Values[output] = Count("reduce", network.AddReduce(node.Name, X(), ReduceOp.Avg, mask, keepDims: Int(node, "keepdims", 1) != 0));
                    break;
                }
                case "Flatten":
                    if (Int(node, "axis", 1) != 1) throw new NotSupportedException($"TensorRT lowering: {node.Name}: Flatten with axis {Int(node, "axis", 1)}");
                    Values[output] = Count("shuffle", network.AddShuffle(node.Name, X(), null, [0, -1]));
                    break;
                case "MaxPool":
                {
                    if (Int(node, "ceil_mode", 0) != 0) throw new NotSupportedException($"TensorRT lowering: {node.Name}: MaxPool with ceil_mode");
                    var k = Ints(node, "kernel_shape")!;
                    var s = Ints(node, "strides") ?? [1, 1];
                    var p = Ints(node, "pads") ?? [0, 0, 0, 0];
                    if (p[0] != p[2] || p[1] != p[3]) throw new NotSupportedException($"TensorRT lowering: {node.Name}: asymmetric pads");
                    Values[output] = Count("pooling", network.AddPooling(node.Name, X(), PoolingKind.Max, (int)k[0], (int)k[1], (int)s[0], (int)s[1], (int)p[0], (int)p[1]));
                    break;
                }
                case "Transpose":
                {
                    var perm = Ints(node, "perm");
                    if (!constants.ContainsKey(node.Input[0]) || perm is not [1, 0] || Readers(output).Any(r => r.OpType != "MatMul" || r.Input[1] != output))
                        throw new NotSupportedException($"TensorRT lowering: {node.Name}: only the 2-D transpose of a weight that MatMul reads is lowered");
                    transposed[output] = node.Input[0];
                    break;
                }
                case "MatMul": Values[output] = MatMul(node); break;
                case "BatchNormalization":
                    throw new NotSupportedException($"TensorRT lowering: {node.Name}: a batch norm that does not follow a Conv it can fold into");
                default:
                    throw new NotSupportedException($"TensorRT lowering: {node.OpType} ({node.Name})");
            }
        }

        private (long[] Dims, float[] Data) Constant(string name, string what) =>
            constants.TryGetValue(name, out var c) ? (c.Dims.ToArray(), Floats(c))
                : throw new NotSupportedException($"TensorRT lowering: {what} '{name}' is not an initializer");

        private TrtTensor Conv(NodeProto node)
        {
            var (wDims, w) = Constant(node.Input[1], $"{node.Name} weight");
            int outChannels = (int)wDims[0];
            float[]? bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? Constant(node.Input[2], $"{node.Name} bias").Data : null;
            string output = node.Output[0];
            var readers = Readers(output);
            if (readers is [{ OpType: "BatchNormalization" } bn] && bn.Input[0] == output)
            {
                (w, bias) = Fold(node, bn, w, bias, outChannels);
                folded.Add(bn.Name);
                output = bn.Output[0];
                Counts["folded batch norm"] = Counts.GetValueOrDefault("folded batch norm") + 1;
            }
            var k = Ints(node, "kernel_shape") ?? [wDims[2], wDims[3]];
            var s = Ints(node, "strides") ?? [1, 1];
            var p = Ints(node, "pads") ?? [0, 0, 0, 0];
            var d = Ints(node, "dilations") ?? [1, 1];
            if (p[0] != p[2] || p[1] != p[3]) throw new NotSupportedException($"TensorRT lowering: {node.Name}: asymmetric pads");
            var y = Count("convolution", network.AddConvolution(node.Name, Tensor(node.Input[0], $"input of {node.Name}"), outChannels, (int)k[0], (int)k[1], w,
                bias ?? default(ReadOnlyMemory<float>), (int)s[0], (int)s[1], (int)p[0], (int)p[1], (int)d[0], (int)d[1], (int)Int(node, "group", 1)));
            Values[output] = y;
            return y;
        }

        /// <summary>W' = W * gamma / sqrt(var + eps) per output channel, b' = (b - mean) * gamma / sqrt(var + eps) + beta (as InferencePlan folds).</summary>
        private (float[], float[]) Fold(NodeProto conv, NodeProto bn, float[] w, float[]? bias, int outChannels)
        {
            float eps = Float(bn, "epsilon", 1e-5f);
            var gamma = Constant(bn.Input[1], $"{bn.Name} scale").Data;
            var beta = Constant(bn.Input[2], $"{bn.Name} bias").Data;
            var mean = Constant(bn.Input[3], $"{bn.Name} mean").Data;
            var variance = Constant(bn.Input[4], $"{bn.Name} var").Data;
            if (gamma.Length != outChannels) throw new InvalidDataException($"TensorRT lowering: {bn.Name} has {gamma.Length} channels, {conv.Name} {outChannels}");
            var fw = new float[w.Length];
            var fb = new float[outChannels];
            int per = w.Length / outChannels;
            for (int o = 0; o < outChannels; o++)
            {
                float scale = gamma[o] / MathF.Sqrt(variance[o] + eps);
                for (int i = 0; i < per; i++) fw[o * per + i] = w[o * per + i] * scale;
                fb[o] = ((bias?[o] ?? 0f) - mean[o]) * scale + beta[o];
            }
            return (fw, fb);
        }

        private TrtTensor Add(NodeProto node)
        {
            // tensor + tensor (a residual), or tensor + constant (a bias, broadcast from the right as ONNX does).
            int ci = constants.ContainsKey(node.Input[1]) ? 1 : constants.ContainsKey(node.Input[0]) ? 0 : -1;
            if (ci < 0) return Count("elementwise", network.AddElementwise(node.Name, Tensor(node.Input[0], "Add input"), Tensor(node.Input[1], "Add input"), ElementwiseOp.Sum));
            var x = Tensor(node.Input[1 - ci], $"input of {node.Name}");
            var c = ConstantTensor(node.Input[ci], x.Dims.Length, node.Name);
            return Count("elementwise", network.AddElementwise(node.Name, x, c, ElementwiseOp.Sum));
        }

        private TrtTensor MatMul(NodeProto node)
        {
            var x = Tensor(node.Input[0], $"input of {node.Name}");
            if (transposed.TryGetValue(node.Input[1], out var weight))
                return Count("matmul", network.AddMatMul(node.Name, x, MatrixOp.None, ConstantTensor(weight, x.Dims.Length, node.Name), MatrixOp.Transpose));
            var b = constants.ContainsKey(node.Input[1]) ? ConstantTensor(node.Input[1], x.Dims.Length, node.Name) : Tensor(node.Input[1], $"input 1 of {node.Name}");
            return Count("matmul", network.AddMatMul(node.Name, x, MatrixOp.None, b, MatrixOp.None));
        }

        /// <summary>An initializer as a constant layer, with leading 1s up to <paramref name="rank"/> (TensorRT broadcasts equal ranks only).</summary>
        private TrtTensor ConstantTensor(string name, int rank, string reader)
        {
            var (dims, data) = Constant(name, $"constant of {reader}");
            long[] shape = [.. Enumerable.Repeat(1L, Math.Max(0, rank - dims.Length)), .. dims];
            return Count("constant", network.AddConstant(name, shape, data));
        }

        private static AttributeProto? Attribute(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);
        private static long[]? Ints(NodeProto n, string name) => Attribute(n, name)?.Ints.ToArray();
        private static long Int(NodeProto n, string name, long fallback) => Attribute(n, name) is { } a ? a.I : fallback;
        private static float Float(NodeProto n, string name, float fallback) => Attribute(n, name) is { } a ? a.F : fallback;
    }
}
