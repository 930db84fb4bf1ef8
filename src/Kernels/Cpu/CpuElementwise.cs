// Elementwise kernels over contiguous spans. TensorPrimitives supplies most vectorised paths, Vector<T> loops the
// hard activations; the remaining activations run a scalar loop over ScalarMath, the same formulas the tests use.
using System.Numerics;
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuElementwise
{
    /// <summary>Below this many elements a kernel runs on the calling thread only.</summary>
    internal const int ParallelThreshold = 1 << 15;

    public static void UnaryFloat<T>(UnaryOp op, T* x, T* y, int n, double alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(n, ParallelThreshold, (s, e) => UnaryFloatRange(op, x + s, y + s, e - s, alpha));
    }

    private static void UnaryFloatRange<T>(UnaryOp op, T* x, T* y, int n, double alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xs = new ReadOnlySpan<T>(x, n);
        var ys = new Span<T>(y, n);
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(xs, ys); return;
            case UnaryOp.Abs: TensorPrimitives.Abs(xs, ys); return;
            case UnaryOp.Exp: TensorPrimitives.Exp(xs, ys); return;
            case UnaryOp.Log: TensorPrimitives.Log(xs, ys); return;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(xs, ys); return;
            case UnaryOp.Rsqrt: TensorPrimitives.ReciprocalSqrt(xs, ys); return;
            case UnaryOp.Square: TensorPrimitives.Multiply(xs, xs, ys); return;
            case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(xs, ys); return;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(xs, ys); return;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(xs, ys); return;
            case UnaryOp.Relu: TensorPrimitives.Max(xs, T.Zero, ys); return; // NaN propagates, like torch.relu
            case UnaryOp.Silu:
                TensorPrimitives.Sigmoid(xs, ys);
                TensorPrimitives.Multiply(xs, ys, ys);
                return;
            case UnaryOp.PowScalar: TensorPrimitives.Pow(xs, T.CreateChecked(alpha), ys); return;
            case UnaryOp.Hardswish: Hard(x, y, n, swish: true); return;
            case UnaryOp.Hardsigmoid: Hard(x, y, n, swish: false); return;
            case UnaryOp.Erf when typeof(T) == typeof(float): FastErf.Erf((float*)x, (float*)y, n); return;
            case UnaryOp.Gelu when typeof(T) == typeof(float): FastErf.Gelu((float*)x, (float*)y, n); return;
            case UnaryOp.LeakyRelu:
                {
                    var a = T.CreateChecked(alpha);
                    for (int i = 0; i < n; i++) { var v = xs[i]; ys[i] = v > T.Zero ? v : a * v; }
                    return;
                }
            default:
                for (int i = 0; i < n; i++) ys[i] = T.CreateTruncating(ScalarMath.Apply(op, double.CreateTruncating(xs[i]), alpha));
                return;
        }
    }

    /// <summary>hardswish x * clamp(x + 3, 0, 6) / 6 (swish) or hardsigmoid clamp(x + 3, 0, 6) / 6, in T as
    /// PyTorch computes them (MobileNetV3's activations: the scalar loop over ScalarMath cost 1 ns per element).
    /// NaN propagates (Vector.Min/Max do, as ScalarMath's Math.Clamp).</summary>
    private static void Hard<T>(T* x, T* y, int n, bool swish) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T three = T.CreateChecked(3), six = T.CreateChecked(6);
        var three_ = new Vector<T>(three);
        var six_ = new Vector<T>(six);
        int i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
        {
            var v = Vector.Load(x + i);
            var r = Vector.Min(Vector.Max(v + three_, Vector<T>.Zero), six_);
            (swish ? v * r / six_ : r / six_).Store(y + i);
        }
        for (; i < n; i++)
        {
            T v = x[i], r = T.Min(T.Max(v + three, T.Zero), six);
            y[i] = swish ? v * r / six : r / six;
        }
    }

    /// <summary>The gradients of Hard (ScalarMath's rules, libtorch's: hardswish 0 at x &lt;= -3, gy at x &gt;= 3,
    /// gy (x/3 + 1/2) between; hardsigmoid gy/6 strictly inside (-3, 3), else 0).</summary>
    private static void HardBackward<T>(T* x, T* gy, T* gx, int n, bool swish) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T three = T.CreateChecked(3), half = T.CreateChecked(0.5), sixth = T.CreateChecked(1.0 / 6);
        var three_ = new Vector<T>(three);
        var minusThree = new Vector<T>(-three);
        var half_ = new Vector<T>(half);
        var sixth_ = new Vector<T>(sixth);
        int i = 0, w = Vector<T>.Count;
        for (; i <= n - w; i += w)
        {
            var v = Vector.Load(x + i);
            var g = Vector.Load(gy + i);
            Vector<T> r = swish
                ? Vector.ConditionalSelect(Vector.LessThanOrEqual(v, minusThree), Vector<T>.Zero,
                    Vector.ConditionalSelect(Vector.GreaterThanOrEqual(v, three_), g, g * (v / three_ + half_)))
                : Vector.ConditionalSelect(Vector.GreaterThan(v, minusThree) & Vector.LessThan(v, three_), g * sixth_, Vector<T>.Zero);
            r.Store(gx + i);
        }
        for (; i < n; i++)
        {
            T v = x[i], g = gy[i];
            gx[i] = swish ? (v <= -three ? T.Zero : v >= three ? g : g * (v / three + half)) : (v > -three && v < three ? g * sixth : T.Zero);
        }
    }

    public static void UnaryBackwardFloat<T>(UnaryOp op, T* x, T* gy, T* gx, int n, double alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(n, ParallelThreshold, (s, e) => UnaryBackwardRange(op, x + s, gy + s, gx + s, e - s, alpha));
    }

    private static void UnaryBackwardRange<T>(UnaryOp op, T* x, T* gy, T* gx, int n, double alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Relu:
                {
                    // gx = x > 0 ? gy : 0, a vector compare-and-select per Vector<T> lanes
                    int i = 0, w = System.Numerics.Vector<T>.Count;
                    for (; i <= n - w; i += w)
                    {
                        var xv = System.Numerics.Vector.Load(x + i);
                        var mask = System.Numerics.Vector.GreaterThan(xv, System.Numerics.Vector<T>.Zero);
                        System.Numerics.Vector.ConditionalSelect(mask, System.Numerics.Vector.Load(gy + i), System.Numerics.Vector<T>.Zero).Store(gx + i);
                    }
                    for (; i < n; i++) gx[i] = x[i] > T.Zero ? gy[i] : T.Zero;
                    return;
                }
            case UnaryOp.Neg:
                TensorPrimitives.Negate(new ReadOnlySpan<T>(gy, n), new Span<T>(gx, n));
                return;
            case UnaryOp.Hardswish: HardBackward(x, gy, gx, n, swish: true); return;
            case UnaryOp.Hardsigmoid: HardBackward(x, gy, gx, n, swish: false); return;
            case UnaryOp.Erf when typeof(T) == typeof(float): FastErf.ErfBackward((float*)x, (float*)gy, (float*)gx, n); return;
            case UnaryOp.Gelu when typeof(T) == typeof(float): FastErf.GeluBackward((float*)x, (float*)gy, (float*)gx, n); return;
            case UnaryOp.Sigmoid:
                for (int i = 0; i < n; i++)
                {
                    var s = T.One / (T.One + T.Exp(-x[i]));
                    gx[i] = gy[i] * s * (T.One - s);
                }
                return;
            case UnaryOp.Tanh:
                for (int i = 0; i < n; i++) { var t = T.Tanh(x[i]); gx[i] = gy[i] * (T.One - t * t); }
                return;
            default:
                for (int i = 0; i < n; i++)
                    gx[i] = gy[i] * T.CreateTruncating(ScalarMath.Derivative(op, double.CreateTruncating(x[i]), alpha));
                return;
        }
    }

    public static void BinaryFloat<T>(BinaryOp op, T* a, T* b, T* d, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(n, ParallelThreshold, (s, e) => BinaryRun(op, a + s, b + s, d + s, e - s));
    }

    /// <summary>One contiguous run of a op b (single-threaded).</summary>
    public static void BinaryRun<T>(BinaryOp op, T* a, T* b, T* d, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var xa = new ReadOnlySpan<T>(a, n);
        var xb = new ReadOnlySpan<T>(b, n);
        var y = new Span<T>(d, n);
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(xa, xb, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(xa, xb, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(xa, xb, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(xa, xb, y); break;
            case BinaryOp.Pow: TensorPrimitives.Pow(xa, xb, y); break;
            case BinaryOp.Maximum: TensorPrimitives.Max(xa, xb, y); break;
            case BinaryOp.Minimum: TensorPrimitives.Min(xa, xb, y); break;
            default: throw new ArgumentException($"{op} does not produce {typeof(T).Name}");
        }
    }

    /// <summary>a op s, or s op a when scalarFirst.</summary>
    public static void BinaryScalarFloat<T>(BinaryOp op, T* a, T s, bool scalarFirst, T* d, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(n, ParallelThreshold, (st, e) => BinaryScalarRun(op, a + st, s, d + st, e - st, scalarFirst));
    }

    /// <summary>One contiguous run of a op s (or s op a), single-threaded.</summary>
    public static void BinaryScalarRun<T>(BinaryOp op, T* a, T s, T* d, int n, bool scalarFirst = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = new ReadOnlySpan<T>(a, n);
        var y = new Span<T>(d, n);
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, s, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(x, s, y); break;
            case BinaryOp.Sub: if (scalarFirst) TensorPrimitives.Subtract(s, x, y); else TensorPrimitives.Subtract(x, s, y); break;
            case BinaryOp.Div: if (scalarFirst) TensorPrimitives.Divide(s, x, y); else TensorPrimitives.Divide(x, s, y); break;
            case BinaryOp.Pow: if (scalarFirst) TensorPrimitives.Pow(s, x, y); else TensorPrimitives.Pow(x, s, y); break;
            case BinaryOp.Maximum: TensorPrimitives.Max(x, s, y); break;
            case BinaryOp.Minimum: TensorPrimitives.Min(x, s, y); break;
            default: throw new ArgumentException($"{op} does not produce {typeof(T).Name}");
        }
    }

    /// <summary>Arithmetic on integer dtypes (no vectorisation needed: indices and counts are small).</summary>
    public static void BinaryInt<T>(BinaryOp op, T* a, T* b, T* d, int n) where T : unmanaged, IBinaryInteger<T>
    {
        for (int i = 0; i < n; i++) d[i] = ApplyInt(op, a[i], b[i]);
    }

    public static void BinaryScalarInt<T>(BinaryOp op, T* a, T s, bool scalarFirst, T* d, int n) where T : unmanaged, IBinaryInteger<T>
    {
        for (int i = 0; i < n; i++) d[i] = scalarFirst ? ApplyInt(op, s, a[i]) : ApplyInt(op, a[i], s);
    }

    private static T ApplyInt<T>(BinaryOp op, T x, T y) where T : IBinaryInteger<T> => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Sub => x - y,
        BinaryOp.Mul => x * y,
        BinaryOp.Div => y == T.Zero ? throw new DivideByZeroException("integer division by zero in a tensor op") : x / y,
        BinaryOp.Maximum => T.Max(x, y),
        BinaryOp.Minimum => T.Min(x, y),
        BinaryOp.Pow => IntPow(x, y),
        _ => throw new ArgumentException($"{op} is not arithmetic"),
    };

    private static T IntPow<T>(T x, T y) where T : IBinaryInteger<T>
    {
        if (y < T.Zero) throw new ArgumentException("integer tensors cannot be raised to negative integer powers");
        T r = T.One;
        for (T i = T.Zero; i < y; i++) r *= x;
        return r;
    }

    /// <summary>Comparison of two contiguous runs, writing Bool bytes.</summary>
    public static void Compare<T>(BinaryOp op, T* a, T* b, byte* d, int n) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++) d[i] = CompareOne(op, a[i], b[i]) ? (byte)1 : (byte)0;
    }

    public static void CompareScalar<T>(BinaryOp op, T* a, T s, bool scalarFirst, byte* d, int n) where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < n; i++) d[i] = (scalarFirst ? CompareOne(op, s, a[i]) : CompareOne(op, a[i], s)) ? (byte)1 : (byte)0;
    }

    private static bool CompareOne<T>(BinaryOp op, T x, T y) where T : INumber<T> => op switch
    {
        BinaryOp.Eq => x == y,
        BinaryOp.Ne => x != y,
        BinaryOp.Lt => x < y,
        BinaryOp.Le => x <= y,
        BinaryOp.Gt => x > y,
        BinaryOp.Ge => x >= y,
        _ => throw new ArgumentException($"{op} is not a comparison"),
    };

    public static void Where<T>(byte* c, T* a, T* b, T* d, int n) where T : unmanaged
    {
        for (int i = 0; i < n; i++) d[i] = c[i] != 0 ? a[i] : b[i];
    }
}
