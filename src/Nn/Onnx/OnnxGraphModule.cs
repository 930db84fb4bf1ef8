// A module that runs an ONNX graph node by node with our tensor ops, so it trains like any other module:
// floating-point initializers are parameters (except batch-norm statistics and scalars, which are buffers),
// BatchNormalization uses batch statistics in training mode, intermediates are freed after their last use.
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Onnx;

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
    private readonly List<GraphStep> _steps;
    private readonly Dictionary<string, int> _lastUse;

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
        _steps = _graph.Node.Select(n => (GraphStep)new NodeStep(n, () => IsTraining)).ToList();
        _lastUse = GraphSteps.LastUses(_steps);
    }

    public override Tensor Forward(Tensor input)
    {
        GraphSteps.CheckInput(_source, InputName, InputShape, input);
        using var scope = new DisposeScope();
        var env = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input };
        foreach (var (k, t) in StateDict()) env[_fileNames[k]] = t;
        var y = GraphSteps.Run(_source, _steps, _lastUse, env, OutputName);
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
