// cudann demo: the main job until `cudann train` exists. A two-layer MLP learns to classify points of
// three interleaved spirals (generated from the seed), trained with plain SGD through our autograd.
using System.Diagnostics;
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Cli;

public static class DemoCommand
{
    public static int Run(Options o)
    {
        int steps = o.Int("steps", 600, 1, 1_000_000);
        int threads = o.Int("threads", Environment.ProcessorCount, 1, 1024);
        ulong seed = (ulong)o.Int("seed", 0, 0);
        using var threadScope = CpuKernelOptions.UseThreads(threads);
        var gen = new Generator(seed);
        const int classes = 3, perClass = 200, hidden = 64;
        var (x, y) = Spirals(classes, perClass, gen);
        using var _x = x;
        using var _y = y;
        using var w1 = Init([hidden, 2], gen);
        using var b1 = Tensor.Zeros([hidden]).RequiresGrad_();
        using var w2 = Init([hidden, hidden], gen);
        using var b2 = Tensor.Zeros([hidden]).RequiresGrad_();
        using var w3 = Init([classes, hidden], gen);
        using var b3 = Tensor.Zeros([classes]).RequiresGrad_();
        Tensor[] parameters = [w1, b1, w2, b2, w3, b3];
        Console.WriteLine($"demo: MLP 2-{hidden}-{hidden}-{classes} on {classes * perClass} spiral points, SGD lr 0.5 momentum 0.9, {steps} steps, {threads} threads");
        var velocity = parameters.Select(p => DisposeScope.Detach(Tensor.ZerosLike(p))).ToArray();
        var sw = Stopwatch.StartNew();
        double loss = 0, acc = 0;
        for (int step = 1; step <= steps; step++)
        {
            using var scope = new DisposeScope();
            var h1 = F.Linear(x, w1, b1).Relu();
            var h2 = F.Linear(h1, w2, b2).Relu();
            var logits = F.Linear(h2, w3, b3);
            var l = F.CrossEntropy(logits, y);
            l.Backward();
            using (AutogradMode.NoGrad())
            {
                for (int i = 0; i < parameters.Length; i++)
                {
                    var p = parameters[i];
                    velocity[i].CopyFrom(velocity[i].Mul(0.9).Add(p.Grad!));
                    p.CopyFrom(p.Sub(velocity[i].Mul(0.5)));
                    p.ZeroGrad();
                }
            }
            if (step == 1 || step % Math.Max(1, steps / 10) == 0 || step == steps)
            {
                loss = l.Item();
                acc = Accuracy(logits, y);
                Console.WriteLine($"step {step,6}  loss {loss,8:F4}  train accuracy {acc * 100,6:F2}%");
            }
        }
        foreach (var v in velocity) v.Dispose();
        Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:F1} s: final loss {loss:F4}, accuracy {acc * 100:F2}%");
        return 0;
    }

    private static Tensor Init(int[] shape, Generator g)
    {
        // Kaiming-normal for ReLU layers: std = sqrt(2 / fan_in)
        var t = Tensor.Randn(shape, g, std: Math.Sqrt(2.0 / shape[1]));
        return DisposeScope.Detach(t).RequiresGrad_();
    }

    private static double Accuracy(Tensor logits, Tensor y)
    {
        using var pred = logits.ArgMax(1);
        using var eq = pred.Eq(y);
        using var s = eq.Sum();
        return s.Item() / y.Numel;
    }

    /// <summary>Points on `classes` spiral arms with angular noise.</summary>
    public static (Tensor X, Tensor Y) Spirals(int classes, int perClass, Generator g)
    {
        var xs = new float[classes * perClass * 2];
        var ys = new long[classes * perClass];
        for (int c = 0; c < classes; c++)
            for (int i = 0; i < perClass; i++)
            {
                int k = c * perClass + i;
                double r = (double)i / perClass;
                double t = c * 4.0 + 4.0 * r + 0.2 * (g.NextDouble() * 2 - 1);
                xs[2 * k] = (float)(r * Math.Sin(t));
                xs[2 * k + 1] = (float)(r * Math.Cos(t));
                ys[k] = c;
            }
        return (DisposeScope.Detach(Tensor.FromArray(xs, classes * perClass, 2)), DisposeScope.Detach(Tensor.FromArray(ys, classes * perClass)));
    }
}
