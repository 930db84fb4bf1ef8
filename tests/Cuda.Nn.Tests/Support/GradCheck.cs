using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests.Support;

/// <summary>Central finite differences in float64 against autograd, for sum(f(inputs) * r) with a fixed random r.</summary>
public static class GradCheck
{
    public static void Check(string op, Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1e-6, double atol = 1e-6, double rtol = 1e-5)
    {
        foreach (var t in inputs) Assert.Equal(DType.F64, t.DType);
        double[] weights;
        using (var s = new DisposeScope())
        using (AutogradMode.NoGrad())
        {
            var y0 = f(inputs);
            weights = Tensor.Randn(y0.Shape, new Generator(99), DType.F64).ToDoubleArray();
        }
        double Objective()
        {
            using var s = new DisposeScope();
            using var ng = AutogradMode.NoGrad();
            var y = f(inputs).ToDoubleArray();
            double acc = 0;
            for (int i = 0; i < y.Length; i++) acc += y[i] * weights[i];
            return acc;
        }
        foreach (var t in inputs) { t.ZeroGrad(); t.RequiresGrad = true; }
        using (var s = new DisposeScope())
        {
            var y = f(inputs);
            var r = Tensor.FromArray(weights, y.Shape);
            y.Mul(r).Sum().Backward();
        }
        for (int k = 0; k < inputs.Length; k++)
        {
            var t = inputs[k];
            var analytic = t.Grad?.ToDoubleArray() ?? new double[t.Numel];
            var data = t.ToDoubleArray();
            for (int i = 0; i < data.Length; i++)
            {
                double orig = data[i];
                Set(t, data, i, orig + h);
                double plus = Objective();
                Set(t, data, i, orig - h);
                double minus = Objective();
                Set(t, data, i, orig);
                double numeric = (plus - minus) / (2 * h);
                double err = Math.Abs(numeric - analytic[i]);
                Assert.True(err <= atol + rtol * Math.Abs(numeric), $"{op}: d/d input{k}[{i}] autograd {analytic[i]:G10} vs finite difference {numeric:G10}");
            }
        }
    }

    private static void Set(Tensor t, double[] data, int i, double v)
    {
        data[i] = v;
        using var ng = AutogradMode.NoGrad();
        using var src = Tensor.FromArray(data, t.Shape);
        t.CopyFrom(src);
    }

    public static Tensor Input(int[] shape, ulong seed, double scale = 1) =>
        DisposeScope.Detach(Tensor.Randn(shape, new Generator(seed), DType.F64, std: scale));
}
