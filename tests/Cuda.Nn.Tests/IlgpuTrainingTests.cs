// End to end on the ILGPU backend: the same MLP, data and SGD steps on the CPU and on ILGPU give the same losses.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public sealed class IlgpuTrainingTests
{
    public static TheoryData<string> Names => IlgpuDevices.Names;

    private static double[] Train(Device device, int steps)
    {
        using var model = new Sequential(
            new Linear(12, 32, generator: new Generator(5)), Activation.ReLU(),
            new Linear(32, 16, generator: new Generator(6)), new LayerNorm(16), new Activation("gelu", x => x.Gelu()),
            new Linear(16, 4, generator: new Generator(7)));
        model.To(device);
        using var x0 = TestInputs.Uniform(90, [24, 12]).To(DType.F32);
        using var x = x0.MoveTo(device);
        using var t0 = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (long)(i * 7 % 4)).ToArray(), 24);
        using var target = t0.MoveTo(device);
        var opt = new Sgd(model.Parameters(), lr: 0.1, momentum: 0.9, weightDecay: 1e-4);
        return SgdLosses(model, opt, x, target, steps);
    }

    [Theory, MemberData(nameof(Names))]
    public void Mlp_sgd_steps_give_the_cpu_losses(string backend)
    {
        var device = IlgpuDevices.Device(backend);
        var expected = Train(Device.Cpu, 4);
        var actual = Train(device, 4);
        AssertSameFallingLosses(expected, actual, 1e-5);
    }

    /// <summary>Cross-entropy losses of `steps` optimizer steps on one batch.</summary>
    internal static double[] SgdLosses(Module model, Optimizer opt, Tensor x, Tensor target, int steps)
    {
        var losses = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            using var logits = model.Forward(x);
            using var loss = F.CrossEntropy(logits, target);
            loss.Backward();
            opt.Step();
            losses[s] = loss.Item();
        }
        return losses;
    }

    internal static void AssertSameFallingLosses(double[] expected, double[] actual, double rtol)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= rtol * Math.Max(1, Math.Abs(expected[i])),
                $"step {i}: ILGPU loss {actual[i]:R}, CPU loss {expected[i]:R}");
        Assert.True(expected[^1] < expected[0], "the loss should fall over the steps");
    }
}
