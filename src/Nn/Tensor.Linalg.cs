// Matrix products with batch broadcasting.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn;

public sealed partial class Tensor
{
    /// <summary>torch.matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast.</summary>
    public Tensor MatMul(Tensor other)
    {
        if (Rank == 0 || other.Rank == 0) throw new ArgumentException("matmul needs tensors of at least one dimension");
        if (Rank == 1 && other.Rank == 1)
        {
            using var a = Unsqueeze(0);
            using var b = other.Unsqueeze(1);
            using var r = a.MatMul(b);
            return r.Reshape([]);
        }
        if (Rank == 1)
        {
            using var a = Unsqueeze(0);
            using var r = a.MatMul(other);
            return r.Squeeze(-2);
        }
        if (other.Rank == 1)
        {
            using var b = other.Unsqueeze(1);
            using var r = MatMul(b);
            return r.Squeeze(-1);
        }
        if (Amp.Autocast.IsActive && DType == DType.F32 && other.DType == DType.F32)
        {
            // F16 inputs, F16 output (emulated by rounding), as torch.autocast does for matmul.
            using var a16 = Amp.Autocast.CastOperand(this);
            using var b16 = Amp.Autocast.CastOperand(other);
            using var r = MatMulNd(a16, b16);
            return Amp.Autocast.CastOperand(r);
        }
        var (x, w) = Promoted(this, other);
        try { return MatMulNd(x, w); }
        finally
        {
            if (!ReferenceEquals(x, this)) x.Dispose();
            if (!ReferenceEquals(w, other)) w.Dispose();
        }
    }

    private static Tensor MatMulNd(Tensor a, Tensor b)
    {
        int m = a.ShapeRef[^2], k = a.ShapeRef[^1], k2 = b.ShapeRef[^2], n = b.ShapeRef[^1];
        if (k != k2) throw new ArgumentException($"matmul: shapes {Layout.ShapeString(a.ShapeRef)} and {Layout.ShapeString(b.ShapeRef)} cannot be multiplied ({k} != {k2})");
        if (!a.DType.IsFloatingPoint()) throw new ArgumentException($"matmul needs floating-point tensors, got {a.DType}");
        int[] batch;
        try { batch = Layout.BroadcastShapes(a.ShapeRef[..^2], b.ShapeRef[..^2]); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"matmul: batch dimensions of shapes {Layout.ShapeString(a.ShapeRef)} and {Layout.ShapeString(b.ShapeRef)} cannot be broadcast together ({e.Message})", e);
        }
        var cShape = batch.Append(m).Append(n).ToArray();
        var la = a.Layout.BroadcastTo(batch.Append(m).Append(k).ToArray());
        var lb = b.Layout.BroadcastTo(batch.Append(k).Append(n).ToArray());
        var y = Empty(cShape, a.DType, a.Device);
        a.Backend.MatMul(a.Storage, la, b.Storage, lb, y.Storage, cShape);
        if (AutogradMode.ShouldRecord(a, b))
        {
            var sa = a.Alias();
            var sb = b.Alias();
            var aShape = a.ShapeRef;
            var bShape = b.ShapeRef;
            bool needA = a.RequiresGrad, needB = b.RequiresGrad;
            AutogradMode.Record(y, "matmul", [a, b], g =>
            {
                Tensor? ga = null, gb = null;
                if (needA)
                {
                    using var bt = sb.Transpose(-1, -2);
                    using var full = g.MatMul(bt);
                    ga = full.SumTo(aShape);
                }
                if (needB)
                {
                    using var at = sa.Transpose(-1, -2);
                    using var full = at.MatMul(g);
                    gb = full.SumTo(bShape);
                }
                return [ga, gb];
            }, sa, sb);
        }
        return y;
    }
}
