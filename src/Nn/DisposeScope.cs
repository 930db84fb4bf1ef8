// Deterministic lifetime for temporaries (TorchSharp's lesson): every tensor created while a scope is
// current belongs to it and is disposed with it, unless moved out first.
namespace Cuda.Nn;

public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? _current;
    private readonly DisposeScope? _parent;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    public static DisposeScope? Current => _current;

    public DisposeScope()
    {
        _parent = _current;
        _current = this;
    }

    public int Count => _owned.Count(t => ReferenceEquals(t.Scope, this) && !t.IsDisposed);

    internal void Register(Tensor t)
    {
        t.Scope = this;
        _owned.Add(t);
    }

    /// <summary>Hands the tensor to the enclosing scope (or to nobody when this is the outermost one).</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (ReferenceEquals(tensor.Scope, this))
        {
            tensor.Scope = null;
            _parent?.Register(tensor);
        }
        return tensor;
    }

    /// <summary>Takes the tensor out of every scope: the caller disposes it.</summary>
    public static Tensor Detach(Tensor tensor)
    {
        tensor.Scope = null;
        return tensor;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _owned)
            if (ReferenceEquals(t.Scope, this)) t.Dispose();
        _owned.Clear();
        if (ReferenceEquals(_current, this)) _current = _parent;
    }
}
