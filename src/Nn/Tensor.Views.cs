// Views (no copy), copies, casts, concatenation and splitting, each with its backward.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn;

public sealed partial class Tensor
{
    private Tensor ViewOf(Layout layout, string name, Func<Tensor, Tensor> backward)
    {
        var y = new Tensor(Storage, layout, addRef: true);
        if (AutogradMode.ShouldRecord(this)) AutogradMode.Record(y, name, [this], g => [backward(g)]);
        return y;
    }

    /// <summary>Reshape; -1 infers one dimension. A view when the strides allow it, else a copy.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = InferShape(shape);
        var inShape = ShapeRef;
        var l = Layout.TryReshape(target);
        if (l is not null) return ViewOf(l, "reshape", g => g.Reshape(inShape));
        using var c = Contiguous();
        return c.Reshape(target);
    }

    /// <summary>Like Reshape but never copies: fails on a layout that cannot be viewed (torch.view).</summary>
    public Tensor View(params int[] shape)
    {
        var target = InferShape(shape);
        var inShape = ShapeRef;
        var l = Layout.TryReshape(target) ?? throw new InvalidOperationException($"view {Layout.ShapeString(target)} is not possible on {Layout}: use Reshape() or Contiguous()");
        return ViewOf(l, "view", g => g.Reshape(inShape));
    }

    private int[] InferShape(int[] shape)
    {
        var r = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < r.Length; i++)
        {
            if (r[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"only one dimension can be -1 in {Layout.ShapeString(shape)}");
                infer = i;
            }
            else if (r[i] < 0) throw new ArgumentException($"invalid shape {Layout.ShapeString(shape)}");
            else known *= r[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || Numel % known != 0) throw new ArgumentException($"shape {Layout.ShapeString(shape)} is invalid for input of shape {Layout.ShapeString(ShapeRef)}");
            r[infer] = (int)(Numel / known);
        }
        else if (known != Numel) throw new ArgumentException($"shape {Layout.ShapeString(shape)} is invalid for input of shape {Layout.ShapeString(ShapeRef)} ({Numel} elements)");
        return r;
    }

    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = Layout.NormalizeDim(startDim), e = Layout.NormalizeDim(endDim);
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(ShapeRef[i]);
        int m = 1;
        for (int i = s; i <= e; i++) m *= ShapeRef[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(ShapeRef[i]);
        return Reshape([.. shape]);
    }

    public Tensor Permute(params int[] dims)
    {
        var l = Layout.Permute(dims);
        var inverse = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++) inverse[Layout.NormalizeDim(dims[i])] = i;
        return ViewOf(l, "permute", g => g.Permute(inverse));
    }

    public Tensor Transpose(int dim0, int dim1) => ViewOf(Layout.Transpose(dim0, dim1), "transpose", g => g.Transpose(dim0, dim1));

    /// <summary>Transpose of a 2-D tensor.</summary>
    public Tensor T()
    {
        if (Rank != 2) throw new InvalidOperationException($"T() needs a 2-D tensor, got shape {Layout.ShapeString(ShapeRef)}");
        return Transpose(0, 1);
    }

    /// <summary>Moves dimension src to position dst (torch.movedim).</summary>
    public Tensor MoveDim(int src, int dst)
    {
        int s = Layout.NormalizeDim(src), d = Layout.NormalizeDim(dst);
        var order = Enumerable.Range(0, Rank).Where(i => i != s).ToList();
        order.Insert(d, s);
        return Permute([.. order]);
    }

    /// <summary>Elements [start, start + length) of dim, as a view.</summary>
    public Tensor Narrow(int dim, int start, int length)
    {
        int d = Layout.NormalizeDim(dim);
        var inShape = ShapeRef;
        var dtype = DType;
        var device = Device;
        return ViewOf(Layout.Narrow(d, start, length), "narrow", g =>
        {
            var full = Zeros(inShape, dtype, device);
            using var part = full.NarrowNoGrad(d, start, length);
            part.CopyFrom(g);
            return full;
        });
    }

    /// <summary>Python-style slice [start:end:1] of one dim (negative indices count from the end).</summary>
    public Tensor Slice(int dim, int start, int end)
    {
        int size = Size(dim);
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size);
        end = Math.Clamp(end, start, size);
        return Narrow(dim, start, end - start);
    }

    /// <summary>Index i of dim, removing that dim (x[i] for dim 0).</summary>
    public Tensor Select(int dim, int index)
    {
        int size = Size(dim);
        if (index < 0) index += size;
        if (index < 0 || index >= size) throw new IndexOutOfRangeException($"index {index} is out of range for dimension {dim} of shape {Layout.ShapeString(ShapeRef)}");
        using var n = Narrow(dim, index, 1);
        return n.Squeeze(dim);
    }

    internal Tensor NarrowNoGrad(int dim, int start, int length) => new(Storage, Layout.Narrow(dim, start, length), addRef: true);

    /// <summary>Broadcasts to a larger shape without copying (torch.expand; -1 keeps a dim).</summary>
    public Tensor Expand(params int[] shape)
    {
        var target = (int[])shape.Clone();
        int lead = target.Length - Rank;
        for (int i = 0; i < target.Length; i++)
            if (target[i] == -1)
            {
                if (i < lead) throw new ArgumentException($"expand: -1 is not allowed for new leading dimension {i}");
                target[i] = ShapeRef[i - lead];
            }
        var inShape = ShapeRef;
        return ViewOf(Layout.BroadcastTo(target), "expand", g => g.SumTo(inShape));
    }

    public Tensor BroadcastTo(params int[] shape) => Expand(shape);

    public Tensor Squeeze(int dim)
    {
        var inShape = ShapeRef;
        return ViewOf(Layout.Squeeze(dim), "squeeze", g => g.Reshape(inShape));
    }

    /// <summary>Removes every size-1 dimension.</summary>
    public Tensor Squeeze() => Reshape(ShapeRef.Where(d => d != 1).ToArray());

    public Tensor Unsqueeze(int dim)
    {
        var inShape = ShapeRef;
        return ViewOf(Layout.Unsqueeze(dim), "unsqueeze", g => g.Reshape(inShape));
    }

    /// <summary>A second handle on the same data that stays in the graph (gradients pass through).</summary>
    public Tensor Share() => ViewOf(Layout, "share", g => g.Alias());

    /// <summary>This tensor when already contiguous (a new handle), else a contiguous copy.</summary>
    public Tensor Contiguous()
    {
        if (Layout.IsContiguous) return Share();
        return Clone();
    }

    /// <summary>A contiguous copy with its own storage.</summary>
    public Tensor Clone()
    {
        var y = Empty(ShapeRef, DType, Device);
        Backend.Copy(Storage, Layout, y.Storage, y.Layout);
        if (AutogradMode.ShouldRecord(this)) AutogradMode.Record(y, "clone", [this], g => [g.Alias()]);
        return y;
    }

    /// <summary>Converts to another dtype (a copy; a new handle when the dtype already matches).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return Share();
        var y = Empty(ShapeRef, dtype, Device);
        Backend.Copy(Storage, Layout, y.Storage, y.Layout);
        var from = DType;
        if (AutogradMode.ShouldRecord(this) && dtype.IsFloatingPoint()) AutogradMode.Record(y, "to", [this], g => [g.To(from)]);
        return y;
    }

    // ---------- in-place (never recorded; for optimizers, buffers and gradient accumulation) ----------

    private void CheckInPlace(string op)
    {
        if (AutogradMode.IsEnabled && RequiresGrad && IsLeaf)
            throw new InvalidOperationException($"{op} on a leaf that requires grad: wrap it in AutogradMode.NoGrad()");
    }

    /// <summary>Copies src (broadcast to this shape, any dtype) into this tensor's elements.</summary>
    public Tensor CopyFrom(Tensor src)
    {
        CheckInPlace("CopyFrom");
        var l = src.Layout.BroadcastTo(ShapeRef);
        if (src.Device != Device)
        {
            using var moved = src.MoveTo(Device);
            Backend.Copy(moved.Storage, moved.Layout.BroadcastTo(ShapeRef), Storage, Layout);
        }
        else Backend.Copy(src.Storage, l, Storage, Layout);
        return this;
    }

    public Tensor Fill_(double value)
    {
        CheckInPlace("Fill_");
        Backend.Fill(Storage, Layout, value);
        return this;
    }

    public Tensor Zero_() => Fill_(0);

    /// <summary>this += other (broadcast), in place.</summary>
    public Tensor AddInPlace(Tensor other)
    {
        using (AutogradMode.NoGrad())
        {
            using var s = Add(other);
            return CopyFrom(s);
        }
    }

    // ---------- concatenation and splitting ----------

    /// <summary>Concatenates along dim (all other dims must match).</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("cat needs at least one tensor");
        var first = tensors[0];
        int d = first.Layout.NormalizeDim(dim);
        var dtype = first.DType;
        foreach (var t in tensors) dtype = DTypeInfo.Promote(dtype, t.DType);
        var shape = first.Shape;
        int total = 0;
        foreach (var t in tensors)
        {
            if (t.Rank != first.Rank) throw new ArgumentException($"cat: shapes {Layout.ShapeString(first.ShapeRef)} and {Layout.ShapeString(t.ShapeRef)} differ in rank");
            for (int i = 0; i < t.Rank; i++)
                if (i != d && t.ShapeRef[i] != shape[i])
                    throw new ArgumentException($"cat along dim {d}: shapes {Layout.ShapeString(first.ShapeRef)} and {Layout.ShapeString(t.ShapeRef)} differ at dimension {i}");
            total += t.ShapeRef[d];
        }
        shape[d] = total;
        var y = Empty(shape, dtype, first.Device);
        int at = 0;
        var sizes = new int[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            sizes[i] = t.ShapeRef[d];
            y.Backend.Copy(t.Storage, t.Layout, y.Storage, y.Layout.Narrow(d, at, sizes[i]));
            at += sizes[i];
        }
        if (AutogradMode.ShouldRecord(tensors))
        {
            AutogradMode.Record(y, "cat", [.. tensors], g =>
            {
                var grads = new Tensor?[sizes.Length];
                int o = 0;
                for (int i = 0; i < sizes.Length; i++)
                {
                    using var part = g.NarrowNoGrad(d, o, sizes[i]);
                    grads[i] = part.Clone();
                    o += sizes[i];
                }
                return grads;
            });
        }
        return y;
    }

    /// <summary>Stacks equal-shaped tensors along a new dim.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack needs at least one tensor");
        foreach (var t in tensors)
            if (!t.ShapeRef.AsSpan().SequenceEqual(tensors[0].ShapeRef))
                throw new ArgumentException($"stack: shapes {Layout.ShapeString(tensors[0].ShapeRef)} and {Layout.ShapeString(t.ShapeRef)} differ");
        int d = dim < 0 ? dim + tensors[0].Rank + 1 : dim;
        var parts = tensors.Select(t => t.Unsqueeze(d)).ToArray();
        try { return Cat(parts, d); }
        finally { foreach (var p in parts) p.Dispose(); }
    }

    /// <summary>Splits into pieces of the given sizes along dim (views).</summary>
    public Tensor[] Split(int[] sizes, int dim = 0)
    {
        int d = Layout.NormalizeDim(dim);
        if (sizes.Sum() != ShapeRef[d]) throw new ArgumentException($"split sizes {Layout.ShapeString(sizes)} do not add up to {ShapeRef[d]} (dimension {d} of {Layout.ShapeString(ShapeRef)})");
        var r = new Tensor[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++) { r[i] = Narrow(d, at, sizes[i]); at += sizes[i]; }
        return r;
    }

    /// <summary>Splits into pieces of splitSize (the last may be smaller) along dim.</summary>
    public Tensor[] Split(int splitSize, int dim = 0)
    {
        if (splitSize <= 0) throw new ArgumentException("split size must be positive");
        int n = Size(dim);
        var sizes = new List<int>();
        for (int at = 0; at < n; at += splitSize) sizes.Add(Math.Min(splitSize, n - at));
        return Split([.. sizes], dim);
    }

    /// <summary>Splits into `chunks` nearly equal pieces (torch.chunk: pieces of ceil(n / chunks)).</summary>
    public Tensor[] Chunk(int chunks, int dim = 0)
    {
        if (chunks <= 0) throw new ArgumentException("chunk count must be positive");
        int n = Size(dim);
        return Split(Math.Max(1, (n + chunks - 1) / chunks), dim);
    }
}
