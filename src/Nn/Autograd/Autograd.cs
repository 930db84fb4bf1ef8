// Recording switch and the backward engine.
//
// Graph release semantics (documented in docs/autograd.md): Backward() frees every node it visits unless
// retainGraph is true; a second Backward() through a freed node throws. Backward runs under NoGrad (no
// higher-order gradients). Leaf gradients accumulate into .Grad until ZeroGrad().
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Autograd;

public static class AutogradMode
{
    [ThreadStatic] private static int _disabledDepth;

    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Disables recording on this thread until disposed (torch.no_grad()).</summary>
    public static IDisposable NoGrad()
    {
        _disabledDepth++;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _disabledDepth--;
        }
    }

    internal static bool ShouldRecord(Tensor a) => _disabledDepth == 0 && a.RequiresGrad;
    internal static bool ShouldRecord(Tensor a, Tensor b) => _disabledDepth == 0 && (a.RequiresGrad || b.RequiresGrad);
    internal static bool ShouldRecord(IReadOnlyList<Tensor> ts)
    {
        if (_disabledDepth != 0) return false;
        foreach (var t in ts) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Attaches a backward closure to output. saved tensors are owned (and freed) by the node.</summary>
    internal static void Record(Tensor output, string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, params Tensor[] saved)
    {
        var edges = new Edge?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            if (!t.RequiresGrad) continue;
            edges[i] = t.GradFn is { } n ? new Edge(n, null, t.ShapeRef, t.DType) : new Edge(null, t, t.ShapeRef, t.DType);
        }
        var node = new GradNode(name, edges, backward, saved);
        output.SetGradFn(node);
    }

    internal static void RunBackward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        if (!root.RequiresGrad) throw new InvalidOperationException("Backward() on a tensor that does not require grad (no input had RequiresGrad, or it was made under NoGrad)");
        Tensor seed;
        using (NoGrad())
        {
            if (gradient is null)
            {
                if (root.Numel != 1) throw new InvalidOperationException($"Backward() without a gradient needs a scalar output; this one has shape {Layout.ShapeString(root.ShapeRef)}");
                seed = DisposeScope.Detach(Tensor.OnesLike(root));
            }
            else
            {
                if (!gradient.ShapeRef.AsSpan().SequenceEqual(root.ShapeRef))
                    throw new ArgumentException($"Backward(): gradient shape {Layout.ShapeString(gradient.ShapeRef)} differs from output shape {Layout.ShapeString(root.ShapeRef)}");
                seed = DisposeScope.Detach(gradient.Contiguous().Alias());
            }
        }
        if (root.GradFn is null)
        {
            AccumulateLeaf(root, seed);
            return;
        }
        var order = TopologicalOrder(root.GradFn);
        var pending = new Dictionary<GradNode, Tensor> { [root.GradFn] = seed };
        using var noGrad = NoGrad();
        foreach (var node in order)
        {
            if (!pending.Remove(node, out var g)) continue;
            if (node.Released)
            {
                g.Dispose();
                throw new InvalidOperationException($"Backward() through '{node.Name}', whose graph was already freed: call the first Backward(retainGraph: true) to go through it twice");
            }
            Tensor?[] grads;
            using (var scope = new DisposeScope())
            {
                grads = node.Backward(g);
                foreach (var gi in grads) if (gi is not null) DisposeScope.Detach(gi);
            }
            g.Dispose();
            for (int i = 0; i < node.Inputs.Length; i++)
            {
                var edge = node.Inputs[i];
                var gi = i < grads.Length ? grads[i] : null;
                if (edge is null || gi is null) { gi?.Dispose(); continue; }
                if (!gi.ShapeRef.AsSpan().SequenceEqual(edge.Shape))
                    throw new InvalidOperationException($"internal error: backward of '{node.Name}' produced gradient shape {Layout.ShapeString(gi.ShapeRef)} for input {i} of shape {Layout.ShapeString(edge.Shape)}");
                if (edge.Leaf is { } leaf) AccumulateLeaf(leaf, gi);
                else if (pending.Remove(edge.Node!, out var existing))
                {
                    var sum = DisposeScope.Detach(existing.Add(gi));
                    existing.Dispose();
                    gi.Dispose();
                    pending[edge.Node!] = sum;
                }
                else pending[edge.Node!] = gi;
            }
            if (!retainGraph) node.FreeSaved();
        }
        foreach (var left in pending.Values) left.Dispose();
    }

    private static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        using var noGrad = NoGrad();
        if (g.DType != leaf.DType)
        {
            var cast = DisposeScope.Detach(g.To(leaf.DType));
            g.Dispose();
            g = cast;
        }
        if (leaf.Grad is null)
        {
            if (!g.Layout.IsContiguous || g.Layout.Offset != 0)
            {
                var c = DisposeScope.Detach(g.Contiguous().Clone());
                g.Dispose();
                g = c;
            }
            leaf.Grad = g;
        }
        else
        {
            leaf.Grad.AddInPlace(g);
            g.Dispose();
        }
    }

    /// <summary>Nodes in an order where every node comes before the nodes it feeds (iterative DFS, so deep graphs cannot overflow the stack).</summary>
    private static List<GradNode> TopologicalOrder(GradNode root)
    {
        var post = new List<GradNode>();
        var visited = new HashSet<GradNode>();
        var stack = new Stack<(GradNode Node, int Next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (node, next) = stack.Pop();
            if (next < node.Inputs.Length)
            {
                stack.Push((node, next + 1));
                var child = node.Inputs[next]?.Node;
                if (child is not null && visited.Add(child)) stack.Push((child, 0));
            }
            else post.Add(node);
        }
        post.Reverse();
        return post;
    }
}
