// Initialisers matching torch.nn.init (the formulas, drawn from our Philox generator).
using Cuda.Nn.Autograd;

namespace Cuda.Nn.Modules;

public static class Init
{
    /// <summary>fan_in and fan_out of a weight [out, in, k...] as torch computes them.</summary>
    public static (int FanIn, int FanOut) Fans(int[] shape)
    {
        if (shape.Length < 2) throw new ArgumentException($"fan in/out need at least 2 dims, got {shape.Length}");
        int receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>kaiming_normal_(mode, nonlinearity relu): N(0, gain / sqrt(fan)), gain = sqrt(2).</summary>
    public static void KaimingNormal(Tensor w, bool fanOut = false, double gain = 1.4142135623730951, Generator? g = null)
    {
        var (fi, fo) = Fans(w.ShapeRef);
        double std = gain / Math.Sqrt(fanOut ? fo : fi);
        using var r = Tensor.Randn(w.ShapeRef, g, w.DType, w.Device, 0, std);
        Assign(w, r);
    }

    /// <summary>U(-bound, bound) with bound = 1/sqrt(fan_in): what kaiming_uniform_(a=sqrt(5)) gives, PyTorch's Linear/Conv default.</summary>
    public static void DefaultUniform(Tensor w, Generator? g = null)
    {
        var (fi, _) = Fans(w.ShapeRef);
        Uniform(w, 1.0 / Math.Sqrt(fi), g);
    }

    public static void Uniform(Tensor t, double bound, Generator? g = null)
    {
        using var r = Tensor.Rand(t.ShapeRef, g, t.DType, t.Device, -bound, bound);
        Assign(t, r);
    }

    public static void Normal(Tensor t, double mean, double std, Generator? g = null)
    {
        using var r = Tensor.Randn(t.ShapeRef, g, t.DType, t.Device, mean, std);
        Assign(t, r);
    }

    /// <summary>trunc_normal_(std, a=-2, b=2) by rejection: redraw values outside [a, b] (timm's ViT init).</summary>
    public static void TruncNormal(Tensor t, double std = 0.02, double a = -2, double b = 2, Generator? g = null)
    {
        var gen = g ?? Generator.Default;
        var v = new float[t.Numel];
        for (int i = 0; i < v.Length; i++)
        {
            double x;
            do
            {
                double u1 = 1 - gen.NextDouble(), u2 = gen.NextDouble();
                x = std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            } while (x < a || x > b);
            v[i] = (float)x;
        }
        using var r = Tensor.FromArray(v, t.ShapeRef);
        Assign(t, r);
    }

    public static void Constant(Tensor t, double value)
    {
        using var noGrad = AutogradMode.NoGrad();
        t.Fill_(value);
    }

    private static void Assign(Tensor t, Tensor value)
    {
        using var noGrad = AutogradMode.NoGrad();
        t.CopyFrom(value);
    }
}
