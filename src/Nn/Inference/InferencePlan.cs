// An ONNX graph compiled for inference, as ONNX Runtime does when it creates a session: batch norms folded into
// the convolutions before them, each convolution fused with the residual Add and the Relu that follow it, SiLU's
// Mul(x, Sigmoid(x)) run as one step (InferencePlan.Activations.cs), and
// the fused convolutions' weights packed once (per input plane size) instead of on every call. Everything else
// runs node by node through the same interpreter as OnnxGraphModule, without autograd; intermediates are freed
// after their last use, so their buffers go back to the memory pool for the next node or call. (Max pooling
// without autograd already skips its argmax indices in F.MaxPool2d.)
//
// The plan is a snapshot: it copies the weights when compiled, so later changes to the module (fine-tuning,
// LoadStateDict) do not reach it; compile again after them. A fused step runs the backend's frozen conv (IBackend's
// FrozenConv2d; on the CPU conv2d.frozen:blocked on channel-blocked activations below a batch that fills the threads,
// conv2d.frozen:packed on NCHW ones, both F32 and AVX-512); where the backend has none, the same folded convolution,
// add and relu as eager ops. Values that only fused convs and max pools read stay
// channel-blocked between them (InferencePlan.Pool.cs, docs/inference.md).
using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;

using Cuda.Nn.Onnx;

namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan : IDisposable
{
    private readonly List<GraphStep> _steps = [];
    private readonly Dictionary<string, Tensor> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _lastUse;
    private readonly string _source, _inputName, _outputName;
    private readonly int[] _inputShape;

    /// <summary>What the compiler did: convolutions fused, batch norms folded into them, Adds and Relus absorbed.</summary>
    public (int Convs, int BatchNorms, int Adds, int Relus, int OtherNodes) Fusions { get; }

    /// <summary>The steps in the order they run (fused convs, fused activations, interpreted nodes), by name.</summary>
    public IReadOnlyList<string> StepNames => _steps.Select(s => s.Name).ToList();

    /// <summary>One line per fused convolution: its output name and how it runs (after the first call).</summary>
    public IEnumerable<string> Describe() => _steps.OfType<FusedConvStep>().Select(s => s.Describe());

    private InferencePlan(OnnxGraphModule graph, string source)
    {
        _source = source;
        _inputName = graph.InputName;
        _outputName = graph.OutputName;
        _inputShape = graph.InputShape;
        var nodes = graph.Nodes;
        using (AutogradMode.NoGrad())
            foreach (var (name, t) in graph.Initializers()) _constants[name] = DisposeScope.Detach(t.Clone());

        // Who reads each value (the graph output counts as a reader that cannot be fused away).
        var absorbed = new HashSet<NodeProto>();
        var readers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
            foreach (var n in nodes[i].Input)
                if (n.Length > 0) (readers.TryGetValue(n, out var l) ? l : readers[n] = []).Add(i);
        NodeProto? OnlyReader(string value, string opType)
        {
            if (value == _outputName || !readers.TryGetValue(value, out var l) || l.Count != 1) return null;
            var node = nodes[l[0]];
            // A residual Add reads two conv chains: the first chain to reach it takes it.
            return node.OpType == opType && node.Domain is "" or "ai.onnx" && !absorbed.Contains(node) ? node : null;
        }

        int convs = 0, bns = 0, adds = 0, relus = 0, others = 0;
        var placeAt = new Dictionary<NodeProto, FusedConvStep>();
        foreach (var node in nodes)
        {
            if (node.OpType != "Conv" || !FusedConvStep.TryCreate(node, _constants, out var step)) continue;
            convs++;
            NodeProto last = node;
            string output = node.Output[0];
            if (OnlyReader(output, "BatchNormalization") is { } bn && bn.Input[0] == output && step.TryFold(bn, _constants))
            {
                absorbed.Add(bn);
                last = bn;
                output = bn.Output[0];
                bns++;
            }
            if (OnlyReader(output, "Add") is { } add && add.Input.Count == 2 && add.Input[0] != add.Input[1])
            {
                string other = add.Input[0] == output ? add.Input[1] : add.Input[0];
                if (!_constants.ContainsKey(other))
                {
                    step.Residual = other;
                    absorbed.Add(add);
                    last = add;
                    output = add.Output[0];
                    adds++;
                }
            }
            if (OnlyReader(output, "Relu") is { } relu)
            {
                step.Activation = FusedActivation.Relu;
                absorbed.Add(relu);
                last = relu;
                output = relu.Output[0];
                relus++;
            }
            step.Output = output;
            absorbed.Add(node);
            placeAt[last] = step;
        }
        // SiLU written as Mul(x, Sigmoid(x)): one step, run where the Mul was.
        var siluAt = new Dictionary<NodeProto, SiluStep>();
        foreach (var node in nodes)
            if (!absorbed.Contains(node) && SiluStep.TryMatch(node, value => OnlyReader(value, "Mul"), out var mul))
            {
                absorbed.Add(node);
                absorbed.Add(mul);
                siluAt[mul] = new SiluStep(node, mul);
            }
        // A fused step runs where its last absorbed node was: by then its residual has been computed.
        foreach (var node in nodes)
        {
            if (siluAt.TryGetValue(node, out var silu)) { _steps.Add(silu); others++; }
            else if (placeAt.TryGetValue(node, out var fused)) _steps.Add(fused);
            else if (!absorbed.Contains(node))
            {
                _steps.Add(MaxPoolStep.TryCreate(node, out var pool) ? pool : new NodeStep(node, static () => false));
                others++;
            }
        }
        // Outputs that only steps reading blocked values read (fused convs, max pools) may stay channel-blocked between
        // them: no layout pass, no transposed tiles.
        var blockedReaders = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var s in _steps)
            foreach (var input in s.Inputs)
                blockedReaders[input] = (blockedReaders.TryGetValue(input, out bool all) ? all : true) && s is IBlockedStep { ReadsBlocked: true };
        var producers = new Dictionary<string, GraphStep>(StringComparer.Ordinal);
        foreach (var s in _steps)
        {
            if (s is MaxPoolStep pool && producers.GetValueOrDefault(pool.Input) is IBlockedStep producer) pool.OutChannels = producer.OutChannels;
            if (s is IBlockedStep b && b.OutChannels > 0)
                b.OutputBlocked = s.Outputs[0] != _outputName && blockedReaders.GetValueOrDefault(s.Outputs[0]);
            foreach (var o in s.Outputs) producers[o] = s;
        }
        _lastUse = GraphSteps.LastUses(_steps);
        Fusions = (convs, bns, adds, relus, others);
    }

    /// <summary>Compiles an imported (or exported, then imported) graph; the module's current weights are copied.</summary>
    public static InferencePlan Compile(OnnxGraphModule graph, string? source = null) => new(graph, source ?? graph.Source);

    /// <summary>Exports a module to ONNX in memory and compiles that graph (the module's weights are copied).</summary>
    public static InferencePlan Compile(Module model, int[] inputShape)
    {
        bool training = model.IsTraining;
        model.Eval();
        try
        {
            using var graph = OnnxImporter.FromProto(OnnxExporter.Build(model, inputShape), model.GetType().Name);
            return new InferencePlan(graph, graph.Source);
        }
        finally { if (training) model.Train(); }
    }

    /// <summary>For profiling: called after each step with its name and milliseconds.</summary>
    public Action<string, double>? StepTimer { get; set; }

    /// <summary>Runs the graph on input [N, ...InputShape]; the result belongs to the caller (or its dispose scope).</summary>
    public Tensor Run(Tensor input)
    {
        GraphSteps.CheckInput(_source, _inputName, _inputShape, input);
        using var noGrad = AutogradMode.NoGrad();
        using var scope = new DisposeScope();
        var env = new Dictionary<string, Tensor>(_constants, StringComparer.Ordinal) { [_inputName] = input };
        var memory = EnterMemoryPlan(input, env, out var record);
        try
        {
            var y = GraphSteps.Run(_source, _steps, _lastUse, env, _outputName, StepTimer, record is null ? null : (step, e, outs) =>
            {
                if (step is FusedConvStep f && f.RunsFrozen(e)) record[f.Output] = outs[0].ShapeRef.ToArray();
                if (step is MaxPoolStep { OutputBlocked: true } pool && outs[0].Rank == 5) record[pool.Outputs[0]] = outs[0].ShapeRef.ToArray();
            });
            if (record is not null) AddMemoryPlan(input, record);
            return scope.MoveToOuter(y.Share());
        }
        finally { memory?.Leave(); }
    }

    public void Dispose()
    {
        DisposeMemoryPlans();
        foreach (var s in _steps) (s as IDisposable)?.Dispose();
        foreach (var t in _constants.Values) t.Dispose();
        _constants.Clear();
    }
}
