// Shape, strides and offset of a tensor view over a storage: the candle idea of storage + layout.
// Every view op (reshape, permute, narrow, expand, squeeze) is a new Layout over the same storage.
namespace Cuda.Nn.Kernels;

/// <summary>Immutable view description: element strides (may be 0 for broadcast dims) and a start offset.</summary>
public sealed class Layout
{
    public int[] Shape { get; }
    public int[] Strides { get; }
    public int Offset { get; }
    public int Rank => Shape.Length;
    public int Numel { get; }

    public Layout(int[] shape, int[] strides, int offset)
    {
        if (shape.Length != strides.Length) throw new ArgumentException($"shape {ShapeString(shape)} and strides of rank {strides.Length} differ in rank");
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"shape {ShapeString(shape)} has more than 2^31-1 elements");
        }
        Shape = shape;
        Strides = strides;
        Offset = offset;
        Numel = (int)n;
    }

    /// <summary>A contiguous row-major layout of the given shape.</summary>
    public static Layout Contiguous(ReadOnlySpan<int> shape, int offset = 0) => new(shape.ToArray(), ContiguousStrides(shape), offset);

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            s[i] = acc;
            acc *= Math.Max(shape[i], 1);
        }
        return s;
    }

    /// <summary>True when elements are laid out row-major without gaps (size-1 dims may have any stride; a tensor
    /// with no elements always is, as in PyTorch).</summary>
    public bool IsContiguous
    {
        get
        {
            if (Numel == 0) return true;
            int expected = 1;
            for (int i = Rank - 1; i >= 0; i--)
            {
                if (Shape[i] == 1) continue;
                if (Strides[i] != expected) return false;
                expected *= Shape[i];
            }
            return true;
        }
    }

    public int NormalizeDim(int dim) => NormalizeDim(dim, Rank, Shape);

    public static int NormalizeDim(int dim, int rank, int[] shapeForMessage)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} is out of range for shape {ShapeString(shapeForMessage)}");
        return d;
    }

    /// <summary>Row-major reshape without copying; null when the strides cannot express it.</summary>
    public Layout? TryReshape(int[] newShape)
    {
        if (IsContiguous) return new Layout(newShape, ContiguousStrides(newShape), Offset);
        // General case: merge groups of old dims that are contiguous among themselves (PyTorch's computeStride).
        var newStrides = new int[newShape.Length];
        int viewD = newShape.Length - 1;
        int chunkBaseStride = Strides.Length > 0 ? Strides[^1] : 1;
        long tensorNumel = 1, viewNumel = 1;
        for (int tensorD = Rank - 1; tensorD >= 0; tensorD--)
        {
            tensorNumel *= Shape[tensorD];
            if (tensorD == 0 || (Shape[tensorD - 1] != 1 && Strides[tensorD - 1] != tensorNumel * chunkBaseStride))
            {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1))
                {
                    newStrides[viewD] = (int)(viewNumel * chunkBaseStride);
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (tensorD > 0)
                {
                    chunkBaseStride = Strides[tensorD - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return new Layout(newShape, newStrides, Offset);
    }

    public Layout Permute(ReadOnlySpan<int> dims)
    {
        if (dims.Length != Rank) throw new ArgumentException($"permute needs {Rank} dims for shape {ShapeString(Shape)}, got {dims.Length}");
        var seen = new bool[Rank];
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            int d = NormalizeDim(dims[i]);
            if (seen[d]) throw new ArgumentException($"permute: dimension {d} repeated");
            seen[d] = true;
            shape[i] = Shape[d];
            strides[i] = Strides[d];
        }
        return new Layout(shape, strides, Offset);
    }

    public Layout Transpose(int dim0, int dim1)
    {
        int a = NormalizeDim(dim0), b = NormalizeDim(dim1);
        var shape = (int[])Shape.Clone();
        var strides = (int[])Strides.Clone();
        (shape[a], shape[b]) = (shape[b], shape[a]);
        (strides[a], strides[b]) = (strides[b], strides[a]);
        return new Layout(shape, strides, Offset);
    }

    public Layout Narrow(int dim, int start, int length)
    {
        int d = NormalizeDim(dim);
        if (start < 0 || length < 0 || start + length > Shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow({dim}, {start}, {length}) is outside shape {ShapeString(Shape)}");
        var shape = (int[])Shape.Clone();
        shape[d] = length;
        return new Layout(shape, (int[])Strides.Clone(), Offset + start * Strides[d]);
    }

    /// <summary>Broadcast to a larger shape (numpy rules); new and size-1 dims get stride 0.</summary>
    public Layout BroadcastTo(int[] target)
    {
        if (target.Length < Rank) throw new ArgumentException($"cannot broadcast shape {ShapeString(Shape)} to {ShapeString(target)}");
        var strides = new int[target.Length];
        int lead = target.Length - Rank;
        for (int i = 0; i < target.Length; i++)
        {
            if (i < lead) { strides[i] = 0; continue; }
            int s = Shape[i - lead];
            if (s == target[i]) strides[i] = Strides[i - lead];
            else if (s == 1) strides[i] = 0;
            else throw new ArgumentException($"cannot broadcast shape {ShapeString(Shape)} to {ShapeString(target)}");
        }
        return new Layout((int[])target.Clone(), strides, Offset);
    }

    public Layout Squeeze(int dim)
    {
        int d = NormalizeDim(dim);
        if (Shape[d] != 1) return this;
        return new Layout(Remove(Shape, d), Remove(Strides, d), Offset);
    }

    public Layout Unsqueeze(int dim)
    {
        int d = dim < 0 ? dim + Rank + 1 : dim;
        if (d < 0 || d > Rank) throw new ArgumentOutOfRangeException(nameof(dim), $"unsqueeze({dim}) is out of range for shape {ShapeString(Shape)}");
        int stride = d < Rank ? Shape[d] * Strides[d] : 1;
        return new Layout(Insert(Shape, d, 1), Insert(Strides, d, stride), Offset);
    }

    /// <summary>The broadcast shape of two shapes, or an error naming both.</summary>
    public static int[] BroadcastShapes(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da == db || db == 1) r[i] = da;
            else if (da == 1) r[i] = db;
            else throw new ArgumentException($"shapes {ShapeString(a)} and {ShapeString(b)} cannot be broadcast together (dimension {i}: {da} vs {db})");
        }
        return r;
    }

    public static string ShapeString(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    public override string ToString() => $"shape {ShapeString(Shape)} strides {ShapeString(Strides)} offset {Offset}";

    private static int[] Remove(int[] a, int i)
    {
        var r = new int[a.Length - 1];
        Array.Copy(a, 0, r, 0, i);
        Array.Copy(a, i + 1, r, i, a.Length - i - 1);
        return r;
    }

    private static int[] Insert(int[] a, int i, int v)
    {
        var r = new int[a.Length + 1];
        Array.Copy(a, 0, r, 0, i);
        r[i] = v;
        Array.Copy(a, i, r, i + 1, a.Length - i);
        return r;
    }
}
