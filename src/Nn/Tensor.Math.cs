// Elementwise math with broadcasting, and its gradients.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn;

public sealed partial class Tensor
{
    // ---------- unary ----------

    /// <summary>Integer inputs of float functions compute in F32 (torch's promotion for exp, log, ...).</summary>
    private Tensor FloatInput() => DType.IsFloatingPoint() ? this : To(DType.F32);

    internal Tensor UnaryOpWithGrad(UnaryOp op, double alpha = 0)
    {
        var x = FloatInput();
        try
        {
            var y = Empty(x.ShapeRef, x.DType, x.Device);
            x.Backend.Unary(op, x.Storage, x.Layout, y.Storage, alpha);
            if (AutogradMode.ShouldRecord(x))
            {
                var xs = x.Alias();
                AutogradMode.Record(y, op.ToString().ToLowerInvariant(), [x], g =>
                {
                    var gx = Empty(xs.ShapeRef, g.DType, g.Device);
                    g.Backend.UnaryBackward(op, xs.Storage, xs.Layout, g.Storage, g.Layout, gx.Storage, alpha);
                    return [gx];
                }, xs);
            }
            return y;
        }
        finally { if (!ReferenceEquals(x, this)) x.Dispose(); }
    }

    public Tensor Neg()
    {
        if (!DType.IsFloatingPoint()) return MulScalarRaw(-1);
        return UnaryOpWithGrad(UnaryOp.Neg);
    }

    public Tensor Abs() => UnaryOpWithGrad(UnaryOp.Abs);
    public Tensor Exp() => UnaryOpWithGrad(UnaryOp.Exp);
    public Tensor Log() => UnaryOpWithGrad(UnaryOp.Log);
    public Tensor Sqrt() => UnaryOpWithGrad(UnaryOp.Sqrt);
    public Tensor Rsqrt() => UnaryOpWithGrad(UnaryOp.Rsqrt);
    public Tensor Square() => UnaryOpWithGrad(UnaryOp.Square);
    public Tensor Reciprocal() => UnaryOpWithGrad(UnaryOp.Reciprocal);
    public Tensor Sign() => UnaryOpWithGrad(UnaryOp.Sign);
    public Tensor Erf() => UnaryOpWithGrad(UnaryOp.Erf);
    public Tensor Sigmoid() => UnaryOpWithGrad(UnaryOp.Sigmoid);
    public Tensor Tanh() => UnaryOpWithGrad(UnaryOp.Tanh);
    public Tensor Relu() => UnaryOpWithGrad(UnaryOp.Relu);
    public Tensor LeakyRelu(double negativeSlope = 0.01) => UnaryOpWithGrad(UnaryOp.LeakyRelu, negativeSlope);
    public Tensor Silu() => UnaryOpWithGrad(UnaryOp.Silu);
    /// <summary>GELU, exact (erf) form by default; approximateTanh selects the tanh form.</summary>
    public Tensor Gelu(bool approximateTanh = false) => UnaryOpWithGrad(approximateTanh ? UnaryOp.GeluTanh : UnaryOp.Gelu);
    /// <summary>softplus with beta 1 and threshold 20 (PyTorch's defaults).</summary>
    public Tensor Softplus() => UnaryOpWithGrad(UnaryOp.Softplus);
    public Tensor Hardswish() => UnaryOpWithGrad(UnaryOp.Hardswish);
    public Tensor Hardsigmoid() => UnaryOpWithGrad(UnaryOp.Hardsigmoid);
    public Tensor Pow(double exponent) => UnaryOpWithGrad(UnaryOp.PowScalar, exponent);

    /// <summary>Rounds every value through IEEE binary16 (fp16 emulation); gradients pass straight through.</summary>
    public Tensor RoundToHalf() => UnaryOpWithGrad(UnaryOp.RoundToHalf);

    // ---------- binary ----------

    private static (Tensor A, Tensor B) Promoted(Tensor a, Tensor b)
    {
        if (a.Device != b.Device) throw new ArgumentException($"operands are on different devices: {a.Device} and {b.Device}");
        if (a.DType == b.DType) return (a, b);
        var dt = DTypeInfo.Promote(a.DType, b.DType);
        return (a.DType == dt ? a : a.To(dt), b.DType == dt ? b : b.To(dt));
    }

    internal static Tensor BinaryOpWithGrad(BinaryOp op, Tensor a0, Tensor b0)
    {
        var (a, b) = Promoted(a0, b0);
        try
        {
            if (op == BinaryOp.Div && !a.DType.IsFloatingPoint())
            {
                // true division of integers gives floats, like torch.div
                using var af = a.To(DType.F32);
                using var bf = b.To(DType.F32);
                return BinaryOpWithGrad(op, af, bf);
            }
            var shape = Layout.BroadcastShapes(a.ShapeRef, b.ShapeRef);
            var y = Empty(shape, op.IsComparison() ? DType.Bool : a.DType, a.Device);
            a.Backend.Binary(op, a.Storage, a.Layout.BroadcastTo(shape), b.Storage, b.Layout.BroadcastTo(shape), y.Storage);
            if (!op.IsComparison() && AutogradMode.ShouldRecord(a, b)) RecordBinary(op, a, b, y);
            return y;
        }
        finally
        {
            if (!ReferenceEquals(a, a0)) a.Dispose();
            if (!ReferenceEquals(b, b0)) b.Dispose();
        }
    }

    private static void RecordBinary(BinaryOp op, Tensor a, Tensor b, Tensor y)
    {
        var aShape = a.ShapeRef;
        var bShape = b.ShapeRef;
        bool needA = a.RequiresGrad, needB = b.RequiresGrad;
        switch (op)
        {
            case BinaryOp.Add:
                AutogradMode.Record(y, "add", [a, b], g => [needA ? g.SumTo(aShape) : null, needB ? g.SumTo(bShape) : null]);
                return;
            case BinaryOp.Sub:
                AutogradMode.Record(y, "sub", [a, b], g => [needA ? g.SumTo(aShape) : null, needB ? g.Neg().SumTo(bShape) : null]);
                return;
        }
        var sa = a.Alias();
        var sb = b.Alias();
        switch (op)
        {
            case BinaryOp.Mul:
                AutogradMode.Record(y, "mul", [a, b], g => [needA ? g.Mul(sb).SumTo(aShape) : null, needB ? g.Mul(sa).SumTo(bShape) : null], sa, sb);
                return;
            case BinaryOp.Div:
                AutogradMode.Record(y, "div", [a, b], g =>
                    [needA ? g.Div(sb).SumTo(aShape) : null,
                     needB ? g.Mul(sa).Div(sb.Square()).Neg().SumTo(bShape) : null], sa, sb);
                return;
            case BinaryOp.Pow:
                AutogradMode.Record(y, "pow", [a, b], g =>
                {
                    Tensor? ga = null, gb = null;
                    if (needA)
                    {
                        // d/da a^b = b a^(b-1); where b == 0 the term is 0 even at a == 0
                        using var bm1 = sb.Sub(1);
                        using var p = sa.PowT(bm1);
                        using var zero = sb.Eq(0);
                        ga = Where(zero, ZerosLike(p), g.Mul(sb).Mul(p)).SumTo(aShape);
                    }
                    if (needB)
                    {
                        // d/db a^b = a^b log a, taken as 0 where a == 0 and b >= 0 (PyTorch's convention)
                        using var ab = sa.PowT(sb);
                        using var la = sa.Log();
                        using var mask = sa.Eq(0).LogicalAnd(sb.Ge(0));
                        gb = Where(mask, ZerosLike(ab), g.Mul(ab).Mul(la)).SumTo(bShape);
                    }
                    return [ga, gb];
                }, sa, sb);
                return;
            case BinaryOp.Maximum:
            case BinaryOp.Minimum:
                AutogradMode.Record(y, op == BinaryOp.Maximum ? "maximum" : "minimum", [a, b], g =>
                {
                    // The winner takes the gradient; ties split it in half (PyTorch's rule).
                    using var aWins = op == BinaryOp.Maximum ? sa.Gt(sb) : sa.Lt(sb);
                    using var tie = sa.Eq(sb);
                    using var half = g.Mul(0.5);
                    using var zero = ZerosLike(g);
                    using var ga = Where(aWins, g, Where(tie, half, zero));
                    using var bWins = aWins.LogicalNot().LogicalAnd(tie.LogicalNot());
                    using var gb = Where(bWins, g, Where(tie, half, zero));
                    return [needA ? ga.SumTo(aShape) : null, needB ? gb.SumTo(bShape) : null];
                }, sa, sb);
                return;
            default:
                sa.Dispose();
                sb.Dispose();
                throw new NotSupportedException($"no gradient for {op}");
        }
    }

    /// <summary>Sums a broadcast gradient back to the given (broadcastable) shape.</summary>
    public Tensor SumTo(int[] shape)
    {
        if (ShapeRef.AsSpan().SequenceEqual(shape)) return Share();
        int lead = Rank - shape.Length;
        if (lead < 0) throw new ArgumentException($"cannot sum shape {Layout.ShapeString(ShapeRef)} to the larger shape {Layout.ShapeString(shape)}");
        var dims = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && ShapeRef[i] != 1)) dims.Add(i);
        using var s = Sum([.. dims], keepDim: true);
        return s.Reshape(shape);
    }

    internal Tensor ScalarOpWithGrad(BinaryOp op, double scalar, bool scalarFirst)
    {
        var x = this;
        bool toFloat = !DType.IsFloatingPoint() && (op == BinaryOp.Div || op == BinaryOp.Pow || scalar != Math.Floor(scalar)) && !op.IsComparison();
        if (toFloat) x = To(DType.F32);
        try
        {
            var y = Empty(x.ShapeRef, op.IsComparison() ? DType.Bool : x.DType, x.Device);
            x.Backend.BinaryScalar(op, x.Storage, x.Layout, scalar, scalarFirst, y.Storage);
            if (op.IsComparison() || !AutogradMode.ShouldRecord(x)) return y;
            switch (op)
            {
                case BinaryOp.Add: AutogradMode.Record(y, "add_scalar", [x], g => [g.Alias()]); break;
                case BinaryOp.Sub: AutogradMode.Record(y, "sub_scalar", [x], g => [scalarFirst ? g.Neg() : g.Alias()]); break;
                case BinaryOp.Mul: AutogradMode.Record(y, "mul_scalar", [x], g => [g.Mul(scalar)]); break;
                case BinaryOp.Div:
                    if (!scalarFirst) AutogradMode.Record(y, "div_scalar", [x], g => [g.Mul(1.0 / scalar)]);
                    else
                    {
                        var xs = x.Alias();
                        AutogradMode.Record(y, "rdiv_scalar", [x], g => [g.Mul(-scalar).Div(xs.Square())], xs);
                    }
                    break;
                case BinaryOp.Pow:
                    {
                        var xs = x.Alias();
                        if (!scalarFirst) AutogradMode.Record(y, "pow_scalar", [x], g => [g.Mul(xs.Pow(scalar - 1)).Mul(scalar)], xs);
                        else AutogradMode.Record(y, "rpow_scalar", [x], g => [g.Mul(Math.Log(scalar)).Mul(ScalarPow(scalar, xs))], xs);
                        break;
                    }
                case BinaryOp.Maximum:
                case BinaryOp.Minimum:
                    {
                        var xs = x.Alias();
                        AutogradMode.Record(y, op.ToString().ToLowerInvariant(), [x], g =>
                        {
                            using var pass = op == BinaryOp.Maximum ? xs.Gt(scalar) : xs.Lt(scalar);
                            using var tie = xs.Eq(scalar);
                            using var half = g.Mul(0.5);
                            using var zero = ZerosLike(g);
                            using var inner = Where(tie, half, zero);
                            return [Where(pass, g, inner)];
                        }, xs);
                        break;
                    }
            }
            return y;
        }
        finally { if (!ReferenceEquals(x, this)) x.Dispose(); }
    }

    private static Tensor ScalarPow(double b, Tensor x)
    {
        var y = Empty(x.ShapeRef, x.DType, x.Device);
        x.Backend.BinaryScalar(BinaryOp.Pow, x.Storage, x.Layout, b, true, y.Storage);
        return y;
    }

    private Tensor MulScalarRaw(double s)
    {
        var y = Empty(ShapeRef, DType, Device);
        Backend.BinaryScalar(BinaryOp.Mul, Storage, Layout, s, false, y.Storage);
        return y;
    }

    public Tensor Add(Tensor other) => BinaryOpWithGrad(BinaryOp.Add, this, other);
    public Tensor Sub(Tensor other) => BinaryOpWithGrad(BinaryOp.Sub, this, other);
    public Tensor Mul(Tensor other) => BinaryOpWithGrad(BinaryOp.Mul, this, other);
    public Tensor Div(Tensor other) => BinaryOpWithGrad(BinaryOp.Div, this, other);
    public Tensor PowT(Tensor exponent) => BinaryOpWithGrad(BinaryOp.Pow, this, exponent);
    public Tensor Maximum(Tensor other) => BinaryOpWithGrad(BinaryOp.Maximum, this, other);
    public Tensor Minimum(Tensor other) => BinaryOpWithGrad(BinaryOp.Minimum, this, other);

    public Tensor Add(double s) => ScalarOpWithGrad(BinaryOp.Add, s, false);
    public Tensor Sub(double s) => ScalarOpWithGrad(BinaryOp.Sub, s, false);
    public Tensor Mul(double s) => ScalarOpWithGrad(BinaryOp.Mul, s, false);
    public Tensor Div(double s) => ScalarOpWithGrad(BinaryOp.Div, s, false);
    public Tensor RSub(double s) => ScalarOpWithGrad(BinaryOp.Sub, s, true);
    public Tensor RDiv(double s) => ScalarOpWithGrad(BinaryOp.Div, s, true);
    public Tensor Maximum(double s) => ScalarOpWithGrad(BinaryOp.Maximum, s, false);
    public Tensor Minimum(double s) => ScalarOpWithGrad(BinaryOp.Minimum, s, false);

    /// <summary>Clamps to [min, max]; the gradient passes where min &lt;= x &lt;= max (torch.clamp).</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        using var noGrad = AutogradMode.NoGrad();
        var lo = min is { } a ? ScalarOpWithGrad(BinaryOp.Maximum, a, false) : Share();
        var y = max is { } b ? lo.ScalarOpWithGrad(BinaryOp.Minimum, b, false) : lo.Share();
        lo.Dispose();
        noGrad.Dispose();
        if (AutogradMode.ShouldRecord(this))
        {
            var xs = Alias();
            AutogradMode.Record(y, "clamp", [this], g =>
            {
                using var okLo = min is { } a2 ? xs.Ge(a2) : OnesLike(xs).To(DType.Bool);
                using var okHi = max is { } b2 ? xs.Le(b2) : OnesLike(xs).To(DType.Bool);
                using var ok = okLo.LogicalAnd(okHi);
                using var zero = ZerosLike(g);
                return [Where(ok, g, zero)];
            }, xs);
        }
        return y;
    }

    // ---------- comparisons and logic (no gradients) ----------

    public Tensor Eq(Tensor o) => BinaryOpWithGrad(BinaryOp.Eq, this, o);
    public Tensor Ne(Tensor o) => BinaryOpWithGrad(BinaryOp.Ne, this, o);
    public Tensor Lt(Tensor o) => BinaryOpWithGrad(BinaryOp.Lt, this, o);
    public Tensor Le(Tensor o) => BinaryOpWithGrad(BinaryOp.Le, this, o);
    public Tensor Gt(Tensor o) => BinaryOpWithGrad(BinaryOp.Gt, this, o);
    public Tensor Ge(Tensor o) => BinaryOpWithGrad(BinaryOp.Ge, this, o);
    public Tensor Eq(double s) => ScalarOpWithGrad(BinaryOp.Eq, s, false);
    public Tensor Ne(double s) => ScalarOpWithGrad(BinaryOp.Ne, s, false);
    public Tensor Lt(double s) => ScalarOpWithGrad(BinaryOp.Lt, s, false);
    public Tensor Le(double s) => ScalarOpWithGrad(BinaryOp.Le, s, false);
    public Tensor Gt(double s) => ScalarOpWithGrad(BinaryOp.Gt, s, false);
    public Tensor Ge(double s) => ScalarOpWithGrad(BinaryOp.Ge, s, false);

    public Tensor LogicalAnd(Tensor o)
    {
        using var a = To(DType.U8);
        using var b = o.To(DType.U8);
        using var m = BinaryOpWithGrad(BinaryOp.Minimum, a, b);
        return m.To(DType.Bool);
    }

    public Tensor LogicalOr(Tensor o)
    {
        using var a = To(DType.U8);
        using var b = o.To(DType.U8);
        using var m = BinaryOpWithGrad(BinaryOp.Maximum, a, b);
        return m.To(DType.Bool);
    }

    public Tensor LogicalNot() => Eq(0);

    /// <summary>cond ? a : b, all three broadcast together; gradients flow to the chosen side.</summary>
    public static Tensor Where(Tensor condition, Tensor a0, Tensor b0)
    {
        var (a, b) = Promoted(a0, b0);
        try
        {
            var shape = Layout.BroadcastShapes(Layout.BroadcastShapes(condition.ShapeRef, a.ShapeRef), b.ShapeRef);
            using var c = condition.DType == DType.Bool ? condition.Alias() : condition.Ne(0);
            var y = Empty(shape, a.DType, a.Device);
            a.Backend.Where(c.Storage, c.Layout.BroadcastTo(shape), a.Storage, a.Layout.BroadcastTo(shape), b.Storage, b.Layout.BroadcastTo(shape), y.Storage);
            if (AutogradMode.ShouldRecord(a, b))
            {
                var cs = c.Alias();
                var aShape = a.ShapeRef;
                var bShape = b.ShapeRef;
                bool needA = a.RequiresGrad, needB = b.RequiresGrad;
                AutogradMode.Record(y, "where", [a, b], g =>
                {
                    using var zero = ZerosLike(g);
                    return [needA ? Where(cs, g, zero).SumTo(aShape) : null, needB ? Where(cs, zero, g).SumTo(bShape) : null];
                }, cs);
            }
            return y;
        }
        finally
        {
            if (!ReferenceEquals(a, a0)) a.Dispose();
            if (!ReferenceEquals(b, b0)) b.Dispose();
        }
    }

    /// <summary>Fills positions where mask is true with value (out of place).</summary>
    public Tensor MaskedFill(Tensor mask, double value)
    {
        using var v = Full([], value, DType, Device);
        return Where(mask, v, this);
    }

    // ---------- operators ----------

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator -(Tensor a) => a.Neg();
    public static Tensor operator +(Tensor a, double s) => a.Add(s);
    public static Tensor operator +(double s, Tensor a) => a.Add(s);
    public static Tensor operator -(Tensor a, double s) => a.Sub(s);
    public static Tensor operator -(double s, Tensor a) => a.RSub(s);
    public static Tensor operator *(Tensor a, double s) => a.Mul(s);
    public static Tensor operator *(double s, Tensor a) => a.Mul(s);
    public static Tensor operator /(Tensor a, double s) => a.Div(s);
    public static Tensor operator /(double s, Tensor a) => a.RDiv(s);
}
