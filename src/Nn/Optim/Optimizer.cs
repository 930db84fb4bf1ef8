// Optimizers with parameter groups (PyTorch's semantics). State tensors are owned by the optimizer and
// exported by name for checkpoints: "state.<param index>.<name>" plus per-group hyper-parameters.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Optim;

/// <summary>A set of parameters sharing hyper-parameters (e.g. the backbone at a tenth of the head's LR).</summary>
public sealed class ParamGroup(IEnumerable<Tensor> parameters, double lr)
{
    public List<Tensor> Params { get; } = parameters.ToList();
    public double Lr { get; set; } = lr;
    /// <summary>The LR the group started with (schedulers scale from this).</summary>
    public double InitialLr { get; set; } = lr;
    public double WeightDecay { get; set; }
    public string Name { get; set; } = "";
}

public abstract class Optimizer : IDisposable
{
    private readonly Dictionary<Tensor, Dictionary<string, Tensor>> _state = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, long> _steps = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<ParamGroup> Groups { get; }

    protected Optimizer(IEnumerable<ParamGroup> groups)
    {
        Groups = groups.ToList();
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var g in Groups)
            foreach (var p in g.Params)
            {
                if (!seen.Add(p)) throw new ArgumentException($"a parameter ({p.Name ?? Layout.ShapeString(p.ShapeRef)}) appears in more than one group");
                if (!p.DType.IsFloatingPoint()) throw new ArgumentException($"optimizer parameters must be floating point, got {p.DType}");
            }
    }

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = AutogradMode.NoGrad();
        foreach (var g in Groups)
            foreach (var p in g.Params)
            {
                if (p.Grad is null) continue;
                if (!p.Grad.ShapeRef.AsSpan().SequenceEqual(p.ShapeRef))
                    throw new InvalidOperationException($"gradient shape {Layout.ShapeString(p.Grad.ShapeRef)} differs from parameter shape {Layout.ShapeString(p.ShapeRef)}");
                if (!p.IsContiguous || p.Layout.Offset != 0) throw new InvalidOperationException("optimizers update contiguous parameters only");
                long step = _steps.TryGetValue(p, out var s) ? s + 1 : 1;
                _steps[p] = step;
                using var grad = p.Grad.DType == p.DType && p.Grad.IsContiguous && p.Grad.Layout.Offset == 0 ? p.Grad.Alias() : p.Grad.To(p.DType).Contiguous();
                Update(g, p, grad, step);
            }
    }

    protected abstract void Update(ParamGroup group, Tensor param, Tensor grad, long step);

    /// <summary>The named state tensor of a parameter, created as zeros on first use.</summary>
    protected Tensor State(Tensor param, string name, out bool created)
    {
        if (!_state.TryGetValue(param, out var d)) _state[param] = d = new Dictionary<string, Tensor>();
        created = !d.TryGetValue(name, out var t);
        if (created) d[name] = t = DisposeScope.Detach(Tensor.ZerosLike(param));
        return t!;
    }

    public void ZeroGrad()
    {
        foreach (var g in Groups) foreach (var p in g.Params) p.ZeroGrad();
    }

    /// <summary>Every state tensor and step count by name, for checkpoints ("state.3.exp_avg", "step.3", "group.0.lr").</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        int index = 0;
        for (int gi = 0; gi < Groups.Count; gi++)
        {
            d[$"group.{gi}.lr"] = DisposeScope.Detach(Tensor.Scalar(Groups[gi].Lr, DType.F64));
            foreach (var p in Groups[gi].Params)
            {
                if (_state.TryGetValue(p, out var st))
                    foreach (var (k, v) in st) d[$"state.{index}.{k}"] = DisposeScope.Detach(v.Clone());
                if (_steps.TryGetValue(p, out var s)) d[$"step.{index}"] = DisposeScope.Detach(Tensor.Scalar(s, DType.I64));
                index++;
            }
        }
        return d;
    }

    /// <summary>Restores StateDict() output; the tensors passed in are copied, not kept.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = AutogradMode.NoGrad();
        int index = 0;
        for (int gi = 0; gi < Groups.Count; gi++)
        {
            if (state.TryGetValue($"group.{gi}.lr", out var lr)) Groups[gi].Lr = lr.Item();
            foreach (var p in Groups[gi].Params)
            {
                string prefix = $"state.{index}.";
                foreach (var (k, v) in state)
                {
                    if (!k.StartsWith(prefix, StringComparison.Ordinal)) continue;
                    if (!v.ShapeRef.AsSpan().SequenceEqual(p.ShapeRef))
                        throw new InvalidDataException($"optimizer state '{k}' has shape {Layout.ShapeString(v.ShapeRef)} but parameter {index} has {Layout.ShapeString(p.ShapeRef)}");
                    State(p, k[prefix.Length..], out _).CopyFrom(v);
                }
                if (state.TryGetValue($"step.{index}", out var st)) _steps[p] = (long)st.Item();
                index++;
            }
        }
    }

    public void Dispose()
    {
        foreach (var d in _state.Values) foreach (var t in d.Values) t.Dispose();
        _state.Clear();
        GC.SuppressFinalize(this);
    }

    /// <summary>Scales gradients so their global L2 norm is at most maxNorm; returns the norm before clipping.</summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var noGrad = AutogradMode.NoGrad();
        var ps = parameters.Where(p => p.Grad is not null).ToList();
        double total = 0;
        foreach (var p in ps)
        {
            using var sq = p.Grad!.To(DType.F64).Square();
            using var s = sq.Sum();
            total += s.Item();
        }
        double norm = Math.Sqrt(total);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1)
            foreach (var p in ps)
            {
                using var scaled = p.Grad!.Mul(coef);
                p.Grad!.CopyFrom(scaled);
            }
        return norm;
    }
}

/// <summary>SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).</summary>
public sealed class Sgd : Optimizer
{
    public double Momentum { get; }
    public double Dampening { get; }
    public bool Nesterov { get; }

    public Sgd(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(parameters, lr) { WeightDecay = weightDecay }], momentum, dampening, nesterov) { }

    public Sgd(IEnumerable<ParamGroup> groups, double momentum = 0, double dampening = 0, bool nesterov = false) : base(groups)
    {
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("Nesterov momentum requires a momentum and zero dampening");
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    protected override void Update(ParamGroup group, Tensor param, Tensor grad, long step)
    {
        Tensor? buf = null;
        bool first = false;
        if (Momentum != 0) buf = State(param, "momentum_buffer", out first);
        param.Backend.SgdStep(param.Storage, grad.Storage, buf?.Storage, param.Numel, group.Lr, Momentum, Dampening, group.WeightDecay, Nesterov, first);
    }
}

/// <summary>Adam (L2 decay in the gradient) or AdamW (decoupled decay), as torch.optim.Adam/AdamW without amsgrad.</summary>
public sealed class Adam : Optimizer
{
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public bool Decoupled { get; }

    public Adam(IEnumerable<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, bool decoupledWeightDecay = false) : base(groups)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        Decoupled = decoupledWeightDecay;
    }

    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this([new ParamGroup(parameters, lr) { WeightDecay = weightDecay }], beta1, beta2, eps, false) { }

    /// <summary>AdamW: weight decay 0.01 by default, applied as p *= 1 - lr wd.</summary>
    public static Adam AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2) =>
        new([new ParamGroup(parameters, lr) { WeightDecay = weightDecay }], beta1, beta2, eps, true);

    public static Adam AdamW(IEnumerable<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) =>
        new(groups, beta1, beta2, eps, true);

    protected override void Update(ParamGroup group, Tensor param, Tensor grad, long step)
    {
        var m = State(param, "exp_avg", out _);
        var v = State(param, "exp_avg_sq", out _);
        param.Backend.AdamStep(param.Storage, grad.Storage, m.Storage, v.Storage, param.Numel, group.Lr, Beta1, Beta2, Eps, group.WeightDecay, Decoupled, step);
    }
}
