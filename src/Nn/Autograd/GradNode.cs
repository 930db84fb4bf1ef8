// One recorded op of the dynamic tape. Its backward is a closure written in Tensor ops next to the
// op's forward, so any backend gets gradients for free (burn's lesson).
//
// Lifetime: a node is referenced by the tensors it produced and by the nodes that consumed them. When the
// last reference goes (outputs disposed, or Backward() released the graph) its saved tensors are freed at
// once, so a forward pass that is never differentiated leaks nothing.
namespace Cuda.Nn.Autograd;

internal sealed class GradNode
{
    private int _refs;
    private Tensor[] _saved;

    public string Name { get; }
    /// <summary>One entry per differentiable input: the producer node, or the leaf to accumulate into; null when the input needs no gradient.</summary>
    public Edge?[] Inputs { get; }
    public Func<Tensor, Tensor?[]> Backward { get; }
    public bool Released { get; private set; }

    public GradNode(string name, Edge?[] inputs, Func<Tensor, Tensor?[]> backward, Tensor[] saved)
    {
        Name = name;
        Inputs = inputs;
        Backward = backward;
        _saved = saved;
        foreach (var e in inputs) e?.Node?.AddRef();
    }

    public void AddRef() => _refs++;

    /// <summary>When the last tensor or consumer lets go, the saved tensors are freed and the inputs let go in turn.</summary>
    public void DropRef()
    {
        if (--_refs > 0 || _inputsDropped) return;
        _inputsDropped = true;
        FreeSaved();
        foreach (var e in Inputs) e?.Node?.DropRef();
    }

    private bool _inputsDropped;

    /// <summary>Frees the saved tensors (after Backward without retainGraph); the node stays linked but can no longer run.</summary>
    public void FreeSaved()
    {
        if (Released) return;
        Released = true;
        foreach (var t in _saved) t.Dispose();
        _saved = [];
    }
}

/// <summary>Where an input's gradient goes: to its producer node, or into a leaf's .Grad.</summary>
internal sealed record Edge(GradNode? Node, Tensor? Leaf, int[] Shape, Kernels.DType DType);
