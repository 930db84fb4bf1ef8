// A module that runs an ONNX graph node by node with our tensor ops, so it trains like any other module:
// floating-point initializers are parameters (except batch-norm statistics and scalars, which are buffers),
// BatchNormalization uses batch statistics in training mode, intermediates are freed after their last use.
using Cuda.Nn.Export.Onnx;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Export;

public sealed class OnnxGraphModule : Module
{
    public static readonly IReadOnlySet<string> SupportedOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "Div",
        "Dropout", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gemm", "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity",
        "LayerNormalization", "LeakyRelu", "Log", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pow", "Reciprocal", "ReduceMean",
        "ReduceSum", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Tanh",
        "Transpose", "Unsqueeze",
    };

    private readonly ModelProto _model;
    private readonly GraphProto _graph;
    private readonly string _source;
    private readonly Dictionary<string, string> _fileNames = new(StringComparer.Ordinal); // state-dict name -> initializer name
    private readonly Dictionary<string, int> _lastUse = new(StringComparer.Ordinal);

    public string InputName { get; }
    public string OutputName { get; }
    /// <summary>The input's shape after the batch axis; -1 where the file leaves a dim symbolic.</summary>
    public int[] InputShape { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Where the graph came from (a path, or a description), for error messages.</summary>
    public string Source => _source;
    internal IReadOnlyList<NodeProto> Nodes => _graph.Node;

    /// <summary>The current value of every initializer, by its name in the file.</summary>
    internal IEnumerable<(string Name, Tensor Value)> Initializers() => StateDict().Select(kv => (_fileNames[kv.Key], kv.Value));

    internal OnnxGraphModule(ModelProto model, string source)
    {
        _model = model;
        _graph = model.Graph;
        _source = source;
        Metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        var initNames = _graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = _graph.Input.Where(i => !initNames.Contains(i.Name)).ToList();
        if (inputs.Count != 1) throw new NotSupportedException($"{source}: the graph has {inputs.Count} non-initializer inputs; one is supported");
        if (_graph.Output.Count == 0) throw new InvalidDataException($"{source}: the graph has no output");
        InputName = inputs[0].Name;
        OutputName = _graph.Output[0].Name;
        var dims = inputs[0].Type?.TensorType?.Shape?.Dim;
        InputShape = dims is null ? [] : dims.Skip(1).Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? (int)d.DimValue : -1).ToArray();

        // Batch-norm statistics are state, not trainable weights.
        var statistics = _graph.Node.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Input.Skip(3).Take(2)).ToHashSet(StringComparer.Ordinal);
        var scopes = new Dictionary<string, OnnxScope>(StringComparer.Ordinal);
        foreach (var init in _graph.Initializer)
        {
            var t = OnnxImporter.ToTensor(init, source);
            bool trainable = t.DType.IsFloatingPoint() && t.Rank > 0 && !statistics.Contains(init.Name);
            var name = init.Name;
            var parts = name.Split('.');
            if (parts.Any(p => p.Length == 0)) parts = [name.Replace('.', '_')];
            Module owner = this;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                var prefix = string.Join('.', parts[..(i + 1)]);
                if (!scopes.TryGetValue(prefix, out var s))
                {
                    s = new OnnxScope();
                    scopes[prefix] = s;
                    if (owner == this) RegisterModule(parts[i], s); else ((OnnxScope)owner).AddChild(parts[i], s);
                }
                owner = s;
            }
            var leaf = parts[^1];
            if (owner == this) { if (trainable) RegisterParameter(leaf, t); else RegisterBuffer(leaf, t); }
            else ((OnnxScope)owner).Add(leaf, t, trainable);
            _fileNames[string.Join('.', parts)] = name;
        }
        for (int i = 0; i < _graph.Node.Count; i++)
            foreach (var n in _graph.Node[i].Input) if (n.Length > 0) _lastUse[n] = i;
    }

    public override Tensor Forward(Tensor input)
    {
        if (InputShape.Length > 0 && (input.Rank != InputShape.Length + 1 || InputShape.Where((d, i) => d >= 0 && d != input.ShapeRef[i + 1]).Any()))
            throw new ArgumentException($"{_source}: input '{InputName}' must be [batch, {string.Join(", ", InputShape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}], got {Layout.ShapeString(input.ShapeRef)}");
        using var scope = new DisposeScope();
        var env = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input };
        var owned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, t) in StateDict()) env[_fileNames[k]] = t;
        for (int i = 0; i < _graph.Node.Count; i++)
        {
            var node = _graph.Node[i];
            Tensor[] outs;
            try { outs = OnnxOps.Run(node, env, IsTraining); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or KeyNotFoundException)
            {
                throw new InvalidOperationException($"{_source}: node '{node.Name}' ({node.OpType}) failed: {e.Message}", e);
            }
            for (int o = 0; o < outs.Length && o < node.Output.Count; o++)
                if (node.Output[o].Length > 0) { env[node.Output[o]] = outs[o]; owned.Add(node.Output[o]); }
            // Free intermediates after their last consumer (the scope would only free them at the end).
            foreach (var n in node.Input)
                if (owned.Contains(n) && _lastUse[n] == i && n != OutputName) { env[n].Dispose(); owned.Remove(n); }
        }
        if (!env.TryGetValue(OutputName, out var y)) throw new InvalidDataException($"{_source}: no node produces the output '{OutputName}'");
        return scope.MoveToOuter(y.Share());
    }

    /// <summary>The file's model with the initializers replaced by the current parameters and buffers (after fine-tuning,
    /// this is what to save). Everything else, nodes and metadata included, is kept as read.</summary>
    public ModelProto ToModelProto()
    {
        var copy = _model.Clone();
        var byName = StateDict().ToDictionary(kv => _fileNames[kv.Key], kv => kv.Value, StringComparer.Ordinal);
        for (int i = 0; i < copy.Graph.Initializer.Count; i++)
        {
            var name = copy.Graph.Initializer[i].Name;
            copy.Graph.Initializer[i] = OnnxGraphBuilder.ToTensorProto(name, byName[name]);
        }
        return copy;
    }

    /// <summary>Holds the parameters and buffers under one dotted prefix.</summary>
    private sealed class OnnxScope : Module
    {
        public void Add(string name, Tensor t, bool trainable)
        {
            if (trainable) RegisterParameter(name, t); else RegisterBuffer(name, t);
        }

        public void AddChild(string name, OnnxScope s) => RegisterModule(name, s);

        public override Tensor Forward(Tensor input) => throw new InvalidOperationException("an ONNX parameter scope is run by its OnnxGraphModule");
    }
}
