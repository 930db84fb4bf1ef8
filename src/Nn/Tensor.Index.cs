// Indexing: index_select, gather, scatter_add, one_hot.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn;

public sealed partial class Tensor
{
    private static void CheckIndexType(Tensor index, string op)
    {
        if (index.DType is not (DType.I64 or DType.I32))
            throw new ArgumentException($"{op}: indices must be I64 or I32, got {index.DType}");
    }

    /// <summary>Runs a kernel that fills y; when it throws (an index out of range), y is freed at once rather than leaked.</summary>
    private static void RunOrDispose(Tensor y, Action kernel)
    {
        try { kernel(); }
        catch
        {
            y.Dispose();
            throw;
        }
    }

    /// <summary>Picks entries along dim by a 1-D index (torch.index_select).</summary>
    public Tensor IndexSelect(int dim, Tensor index)
    {
        CheckIndexType(index, "index_select");
        if (index.Rank > 1) throw new ArgumentException($"index_select: index must be 1-D, got shape {Layout.ShapeString(index.ShapeRef)}");
        int d = Layout.NormalizeDim(dim);
        using var ix = index.Contiguous();
        int n = ix.Numel;
        var shape = Shape;
        shape[d] = n;
        var y = Empty(shape, DType, Device);
        using var ixDense = ix.Layout.Offset == 0 ? ix.Alias() : ix.Clone();
        RunOrDispose(y, () => Backend.IndexSelect(Storage, Layout, d, ixDense.Storage, n, y.Storage));
        if (AutogradMode.ShouldRecord(this))
        {
            var ixs = ixDense.Alias();
            var inShape = ShapeRef;
            var outShape = shape;
            AutogradMode.Record(y, "index_select", [this], g =>
            {
                // index_add as scatter_add with the index broadcast along every other dim
                var viewShape = Enumerable.Repeat(1, outShape.Length).ToArray();
                viewShape[d] = n;
                using var iv = ixs.Reshape(viewShape);
                using var ie = iv.Expand(outShape);
                using var z = Zeros(inShape, g.DType, g.Device);
                return [z.ScatterAdd(d, ie, g)];
            }, ixs);
        }
        return y;
    }

    /// <summary>out[i][j] = this[index[i][j]][j] for dim 0, and so on (torch.gather).</summary>
    public Tensor Gather(int dim, Tensor index)
    {
        CheckIndexType(index, "gather");
        int d = Layout.NormalizeDim(dim);
        var y = Empty(index.ShapeRef, DType, Device);
        RunOrDispose(y, () => Backend.Gather(Storage, Layout, d, index.Storage, index.Layout, y.Storage));
        if (AutogradMode.ShouldRecord(this))
        {
            var ixs = index.Alias();
            var inShape = ShapeRef;
            AutogradMode.Record(y, "gather", [this], g =>
            {
                using var z = Zeros(inShape, g.DType, g.Device);
                return [z.ScatterAdd(d, ixs, g)];
            }, ixs);
        }
        return y;
    }

    /// <summary>Out-of-place scatter_add: a copy of this with src added at index along dim.</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src)
    {
        CheckIndexType(index, "scatter_add");
        int d = Layout.NormalizeDim(dim);
        if (!index.ShapeRef.AsSpan().SequenceEqual(src.ShapeRef))
            throw new ArgumentException($"scatter_add: index shape {Layout.ShapeString(index.ShapeRef)} differs from src shape {Layout.ShapeString(src.ShapeRef)}");
        Tensor y;
        using (AutogradMode.NoGrad()) y = Clone();
        RunOrDispose(y, () => Backend.ScatterAdd(y.Storage, y.Layout, d, index.Storage, index.Layout, src.Storage, src.Layout));
        if (AutogradMode.ShouldRecord(this, src))
        {
            var ixs = index.Alias();
            bool needSelf = RequiresGrad, needSrc = src.RequiresGrad;
            AutogradMode.Record(y, "scatter_add", [this, src], g => [needSelf ? g.Alias() : null, needSrc ? g.Gather(d, ixs) : null], ixs);
        }
        return y;
    }

    /// <summary>One-hot encoding of integer class indices into a new last dim (I64 like torch).</summary>
    public Tensor OneHot(int numClasses = -1, DType dtype = DType.I64)
    {
        if (DType is not (DType.I64 or DType.I32)) throw new ArgumentException($"one_hot needs integer class indices, got {DType}");
        var v = ToLongArray();
        if (numClasses < 0) numClasses = v.Length == 0 ? 0 : (int)v.Max() + 1;
        var data = new long[v.Length * numClasses];
        for (int i = 0; i < v.Length; i++)
        {
            if (v[i] < 0 || v[i] >= numClasses) throw new ArgumentException($"one_hot: class {v[i]} is outside [0, {numClasses})");
            data[(long)i * numClasses + v[i]] = 1;
        }
        var shape = ShapeRef.Append(numClasses).ToArray();
        using var t = FromArray(data, shape);
        return t.To(dtype);
    }
}
