// Module: named parameters, buffers and children with PyTorch's state-dict naming ("layer1.0.conv1.weight").
// A module owns its parameters and buffers and disposes them (and its children) with itself.
using System.Text.RegularExpressions;
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Modules;

public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Tensor?>> _parameters = new();
    private readonly List<KeyValuePair<string, Tensor?>> _buffers = new();
    private readonly List<KeyValuePair<string, Module>> _children = new();
    private bool _disposed;

    public bool IsTraining { get; private set; } = true;

    public abstract Tensor Forward(Tensor input);

    /// <summary>Registers a parameter (it becomes a leaf that requires grad, owned by this module).</summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        DisposeScope.Detach(value);
        if (!value.IsLeaf) throw new ArgumentException($"parameter '{name}' must be a leaf tensor");
        value.RequiresGrad = true;
        _parameters.Add(new(name, value));
        return value;
    }

    /// <summary>Registers a state tensor that is saved and loaded but not trained (running statistics).</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        DisposeScope.Detach(value);
        _buffers.Add(new(name, value));
        return value;
    }

    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _children.Add(new(name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.')) throw new ArgumentException($"invalid member name '{name}'");
        if (_parameters.Any(p => p.Key == name) || _buffers.Any(p => p.Key == name) || _children.Any(p => p.Key == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}");
    }

    public IEnumerable<KeyValuePair<string, Module>> NamedChildren() => _children;

    /// <summary>Every parameter with its dotted name, depth first in registration order.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) if (p is not null) yield return new(prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var kv in c.NamedParameters(prefix + n + ".")) yield return kv;
    }

    public IEnumerable<KeyValuePair<string, Tensor>> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) if (b is not null) yield return new(prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var kv in c.NamedBuffers(prefix + n + ".")) yield return kv;
    }

    public IEnumerable<KeyValuePair<string, Module>> NamedModules(string prefix = "")
    {
        yield return new(prefix.TrimEnd('.'), this);
        foreach (var (n, c) in _children)
            foreach (var kv in c.NamedModules(prefix + n + ".")) yield return kv;
    }

    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(kv => kv.Value);

    public long ParameterCount(bool trainableOnly = false) =>
        Parameters().Where(p => !trainableOnly || p.RequiresGrad).Sum(p => (long)p.Numel);

    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach (var (_, c) in _children) c.Train(training);
        return this;
    }

    public Module Eval() => Train(false);

    /// <summary>Stops (or restarts) gradient computation for every parameter of this module.</summary>
    public Module Freeze(bool frozen = true)
    {
        foreach (var p in Parameters()) p.RequiresGrad = !frozen;
        return this;
    }

    /// <summary>Freezes parameters whose dotted name matches the regular expression; returns how many.</summary>
    public int FreezeMatching(string pattern, bool frozen = true)
    {
        var re = new Regex(pattern, RegexOptions.CultureInvariant);
        int n = 0;
        foreach (var (name, p) in NamedParameters())
            if (re.IsMatch(name)) { p.RequiresGrad = !frozen; n++; }
        return n;
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Parameters and buffers by dotted name (the tensors themselves, not copies).</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var (n, p) in NamedParameters()) d[n] = p;
        foreach (var (n, b) in NamedBuffers()) d[n] = b;
        return d;
    }

    /// <summary>Copies values in by name. Strict mode throws on any missing key, unexpected key or shape mismatch, naming them all.</summary>
    public StateDictLoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
        var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = new List<string>();
        foreach (var (k, t) in own)
            if (state.TryGetValue(k, out var src) && !src.ShapeRef.AsSpan().SequenceEqual(t.ShapeRef))
                mismatched.Add($"{k}: checkpoint {Layout.ShapeString(src.ShapeRef)} vs model {Layout.ShapeString(t.ShapeRef)}");
        var result = new StateDictLoadResult(missing, unexpected, mismatched);
        if (strict && !result.IsClean) throw new InvalidDataException("state dict does not match the model: " + result.Summary());
        using (AutogradMode.NoGrad())
        {
            foreach (var (k, t) in own)
                if (state.TryGetValue(k, out var src) && src.ShapeRef.AsSpan().SequenceEqual(t.ShapeRef))
                    t.CopyFrom(src);
        }
        return result;
    }

    /// <summary>Moves every parameter and buffer to a dtype (floating-point ones only) in place of the old tensors.</summary>
    public Module To(DType dtype)
    {
        Replace(t => t.DType.IsFloatingPoint() && t.DType != dtype ? t.To(dtype) : null);
        return this;
    }

    public Module To(Device device)
    {
        Replace(t => t.Device != device ? t.MoveTo(device) : null);
        return this;
    }

    private void Replace(Func<Tensor, Tensor?> convert)
    {
        using var noGrad = AutogradMode.NoGrad();
        for (int i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i].Value;
            if (p is null || convert(p) is not { } q) continue;
            DisposeScope.Detach(q);
            q.RequiresGrad = p.RequiresGrad;
            q.Name = p.Name;
            p.Dispose();
            _parameters[i] = new(_parameters[i].Key, q);
        }
        for (int i = 0; i < _buffers.Count; i++)
        {
            var b = _buffers[i].Value;
            if (b is null || convert(b) is not { } q) continue;
            DisposeScope.Detach(q);
            b.Dispose();
            _buffers[i] = new(_buffers[i].Key, q);
        }
        foreach (var (_, c) in _children) c.Replace(convert);
    }

    /// <summary>Swaps one of this module's own parameters or buffers for a new tensor (structured pruning changes shapes);
    /// the old one is disposed, a parameter stays a trainable leaf.</summary>
    protected void ReplaceOwn(string name, Tensor value)
    {
        DisposeScope.Detach(value);
        int i = _parameters.FindIndex(p => p.Key == name);
        if (i >= 0)
        {
            var old = _parameters[i].Value;
            value.RequiresGrad = old?.RequiresGrad ?? true;
            old?.Dispose();
            _parameters[i] = new(name, value);
            return;
        }
        int j = _buffers.FindIndex(p => p.Key == name);
        if (j < 0) throw new ArgumentException($"{GetType().Name} has no parameter or buffer '{name}'");
        _buffers[j].Value?.Dispose();
        _buffers[j] = new(name, value);
    }

    /// <summary>This module's own parameter or buffer by name. Layers read their tensors through this rather than
    /// caching them in fields, so To() can swap them.</summary>
    protected Tensor? Own(string name) =>
        _parameters.FirstOrDefault(p => p.Key == name).Value ?? _buffers.FirstOrDefault(p => p.Key == name).Value;

    public virtual void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var (_, p) in _parameters) p?.Dispose();
        foreach (var (_, b) in _buffers) b?.Dispose();
        foreach (var (_, c) in _children) c.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed record StateDictLoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys, IReadOnlyList<string> ShapeMismatches)
{
    public bool IsClean => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0 && ShapeMismatches.Count == 0;

    /// <summary>One line: the counts and the first few keys of each kind (ToString lists them all).</summary>
    public string Summary(int first = 3)
    {
        static string Part(string what, IReadOnlyList<string> keys, int first) => keys.Count == 0 ? "" :
            $"{keys.Count} {what} ({string.Join(", ", keys.Take(first))}{(keys.Count > first ? $", and {keys.Count - first} more" : "")})";
        return string.Join("; ", new[] { Part("missing keys", MissingKeys, first), Part("unexpected keys", UnexpectedKeys, first), Part("shape mismatches", ShapeMismatches, first) }.Where(p => p.Length > 0));
    }

    public override string ToString() =>
        $"missing keys ({MissingKeys.Count}): {string.Join(", ", MissingKeys)}\n" +
        $"unexpected keys ({UnexpectedKeys.Count}): {string.Join(", ", UnexpectedKeys)}\n" +
        $"shape mismatches ({ShapeMismatches.Count}): {string.Join("; ", ShapeMismatches)}";
}
