// Float64 central-difference gradient check: autograd of sum(f(x) * r) (r random, fixed) against
// (L(x + h e_j) - L(x - h e_j)) / 2h for every element j of every input.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests.Support;

public static class GradCheck
{
    public const double Step = 1e-6;
    public const double Atol = 1e-6;
    public const double Rtol = 1e-5;

    /// <summary>
    /// Checks the gradient of f with respect to every input (all must be floating point; they are used as F64
    /// copies). Constants (targets, indices, masks) belong in f's closure, not in inputs.
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check("f", f, inputs);

    public static void Check(string op, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(op, f, Atol, Rtol, inputs);

    public static void Check(string op, Func<Tensor[], Tensor> f, double atol, double rtol, params Tensor[] inputs)
    {
        if (inputs.Length == 0) throw new ArgumentException("gradcheck needs at least one input");
        var values = new double[inputs.Length][];
        var shapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].DType.IsFloatingPoint())
                throw new ArgumentException($"gradcheck {op}: input {i} is {inputs[i].DType}; pass constants through the closure");
            values[i] = inputs[i].ToDoubleArray();
            shapes[i] = inputs[i].Shape;
        }

        // Analytic: autograd of sum(f(x) * r).
        double[]? weights = null;
        int[]? outShape = null;
        var analytic = new double[inputs.Length][];
        using (var scope = new DisposeScope())
        {
            var leaves = new Tensor[inputs.Length];
            for (int i = 0; i < inputs.Length; i++)
                leaves[i] = Tensor.FromArray(values[i], shapes[i]).RequiresGrad_();
            var y = f(leaves);
            if (y.DType != DType.F64) throw new InvalidOperationException($"gradcheck {op}: output is {y.DType}, expected F64 (did the op drop to F32?)");
            outShape = y.Shape;
            var rng = new Random(12345);
            weights = new double[y.Numel];
            for (int k = 0; k < weights.Length; k++) weights[k] = rng.NextDouble() * 2 - 1;
            var r = Tensor.FromArray(weights, outShape);
            var loss = y.Mul(r).Sum();
            loss.Backward();
            for (int i = 0; i < inputs.Length; i++)
            {
                var g = leaves[i].Grad;
                if (g is not null && !g.Shape.AsSpan().SequenceEqual(shapes[i]))
                    throw new InvalidOperationException($"gradcheck {op}: gradient of input {i} has shape [{string.Join(",", g.Shape)}], input has [{string.Join(",", shapes[i])}]");
                analytic[i] = g?.ToDoubleArray() ?? new double[values[i].Length];
                if (g is not null && g.DType != DType.F64)
                    throw new InvalidOperationException($"gradcheck {op}: gradient of input {i} is {g.DType}, expected F64");
            }
        }

        // Numeric: central differences, one element at a time, with recording off.
        using var noGrad = AutogradMode.NoGrad();
        var failures = new List<string>();
        double worst = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            for (int j = 0; j < values[i].Length; j++)
            {
                double orig = values[i][j];
                values[i][j] = orig + Step;
                double lp = Evaluate(f, values, shapes, weights!, outShape!, op);
                values[i][j] = orig - Step;
                double lm = Evaluate(f, values, shapes, weights!, outShape!, op);
                values[i][j] = orig;
                double numeric = (lp - lm) / (2 * Step);
                double a = analytic[i][j];
                double err = Math.Abs(a - numeric), tol = atol + rtol * Math.Abs(numeric);
                if (!(err <= tol))
                {
                    if (failures.Count < 8)
                        failures.Add($"input {i} [{string.Join(",", shapes[i])}] index {j} ({IndexString(shapes[i], j)}): autograd {a:R}, numeric {numeric:R}, |diff| {err:E3} > tol {tol:E3}");
                    else if (failures.Count == 8) failures.Add("...");
                }
                worst = Math.Max(worst, err / tol);
            }
        }
        if (failures.Count > 0)
            Assert.Fail($"gradcheck {op}: {failures.Count(s => s != "...")}+ mismatches (worst err/tol {worst:G3}, h {Step}, atol {atol}, rtol {rtol}):\n  " + string.Join("\n  ", failures));
    }

    private static double Evaluate(Func<Tensor[], Tensor> f, double[][] values, int[][] shapes, double[] weights, int[] outShape, string op)
    {
        using var scope = new DisposeScope();
        var xs = new Tensor[values.Length];
        for (int i = 0; i < values.Length; i++) xs[i] = Tensor.FromArray(values[i], shapes[i]);
        var y = f(xs);
        if (!y.Shape.AsSpan().SequenceEqual(outShape)) throw new InvalidOperationException($"gradcheck {op}: output shape changed between evaluations");
        var v = y.ToDoubleArray();
        double s = 0;
        for (int k = 0; k < v.Length; k++) s += v[k] * weights[k];
        return s;
    }

    internal static string IndexString(int[] shape, long flat)
    {
        if (shape.Length == 0) return "scalar";
        var idx = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = flat % Math.Max(1, shape[d]);
            flat /= Math.Max(1, shape[d]);
        }
        return "[" + string.Join(",", idx) + "]";
    }

    /// <summary>A deterministic F64 input outside any dispose scope (the caller disposes it).</summary>
    public static Tensor Input(int[] shape, ulong seed, double scale = 1) =>
        DisposeScope.Detach(Tensor.Randn(shape, new Generator(seed), DType.F64, std: scale));
}
