// Whole models from the zoo on the ILGPU backend: forward and backward in training mode give the CPU's logits
// and parameter gradients, which also proves no layer mixes CPU and device storages.
using Cuda.Nn.Kernels;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public sealed class IlgpuModelTests
{
    public static TheoryData<string, string> Cases
    {
        get
        {
            var d = new TheoryData<string, string>();
            foreach (var b in new[] { IlgpuDevices.CpuName, IlgpuDevices.CudaName })
                foreach (var m in new[] { "resnet20", "vit_mini_4" }) d.Add(b, m);
            return d;
        }
    }

    private static (float[] Logits, Dictionary<string, float[]> Grads) Run(Module model, Tensor x)
    {
        foreach (var p in model.Parameters()) { p.Grad?.Dispose(); p.Grad = null; }
        Generator.ManualSeed(5); // dropout masks: the same Philox stream on both backends
        using var logits = model.Forward(x);
        using (var l = logits.Square().Mean()) l.Backward();
        var grads = model.NamedParameters().Where(kv => kv.Value.Grad != null).ToDictionary(kv => kv.Key, kv => kv.Value.Grad!.ToFloatArray());
        return (logits.ToFloatArray(), grads);
    }

    [Theory, MemberData(nameof(Cases))]
    public void Model_forward_and_backward_match_cpu(string backend, string name)
    {
        var dev = IlgpuDevices.Device(backend);
        // 8 px images: every layer runs at that size, and ILGPU's CPU emulator pays per launch (MobileNetV3-Small
        // matched too, in eval mode, but took ~35 s here, so it is not part of the suite).
        int size = 8, channels = name == "resnet20" ? 1 : 3;
        using var model = ModelRegistry.Create(name, new ModelOptions(10, channels, size, new Generator(3)));
        model.Train();
        using var x = TestInputs.Uniform(7, [2, channels, size, size]).To(DType.F32);
        var (expected, expectedGrads) = Run(model, x);
        model.To(dev);
        using var xd = x.MoveTo(dev);
        var (actual, actualGrads) = Run(model, xd);
        TensorAssert.AssertClose(Tensor.FromArray(actual, actual.Length), Tensor.FromArray(expected, expected.Length), 1e-4, 1e-4, $"{name} logits");
        Assert.Equal(expectedGrads.Keys.Order(), actualGrads.Keys.Order());
        foreach (var (k, g) in expectedGrads)
            TensorAssert.AssertRelNorm(Tensor.FromArray(actualGrads[k], g.Length), Tensor.FromArray(g, g.Length), 1e-4, $"{name} gradient of {k}");
    }
}
