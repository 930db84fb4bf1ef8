// Convolution, pooling, batch norm, resampling and padding on the ILGPU backend against the CPU backend,
// forward and backward through autograd (so both backward kernels of each op run), on strided inputs.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public sealed class IlgpuConvTests
{
    public static TheoryData<string> Names => IlgpuDevices.Names;

    private static Tensor Input(int seed, int[] shape, DType dt = DType.F32, double lo = -2, double hi = 2)
    {
        using var x = TestInputs.Uniform(seed, shape, lo, hi);
        return x.To(dt);
    }

    /// <summary>f on CPU and on the device from the same leaves; compares the output and every input gradient
    /// under a random upstream gradient.</summary>
    private static void Check(Device dev, string what, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var cpu = inputs.Select(t => { var c = t.Clone(); c.RequiresGrad = true; return c; }).ToArray();
        var onDev = inputs.Select(t => { var c = t.MoveTo(dev); c.RequiresGrad = true; return c; }).ToArray();
        try
        {
            using var y = f(cpu);
            using var yd = f(onDev);
            double atol = y.DType == DType.F64 ? 1e-11 : 2e-5, rtol = y.DType == DType.F64 ? 1e-10 : 1e-5;
            using (var back = yd.MoveTo(Device.Cpu)) TensorAssert.AssertClose(back, y, atol, rtol, what);
            using var g = Input(999, y.Shape, y.DType);
            using var gd = g.MoveTo(dev);
            using (var l = y.Mul(g).Sum()) l.Backward();
            using (var l = yd.Mul(gd).Sum()) l.Backward();
            for (int i = 0; i < cpu.Length; i++)
            {
                using var gi = onDev[i].Grad!.MoveTo(Device.Cpu);
                TensorAssert.AssertClose(gi, cpu[i].Grad!, atol * 4, rtol, $"{what}: gradient of input {i}");
            }
        }
        finally
        {
            foreach (var t in cpu.Concat(onDev)) { t.Grad?.Dispose(); t.Dispose(); }
        }
    }

    /// <summary>An NCHW view of NHWC data: every conv-family kernel sees a strided input.</summary>
    private static Tensor Nchw(Tensor nhwc) => nhwc.Permute(0, 3, 1, 2);

    [Theory, MemberData(nameof(Names))]
    public void Conv2d_forward_and_both_backwards_match_cpu(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        foreach (var dt in new[] { DType.F32, DType.F64 })
        {
            Check(dev, $"conv2d 3x3 pad 1 {dt}", t => F.Conv2d(Nchw(t[0]), t[1], t[2], padding: 1), Input(1, [2, 6, 7, 3], dt), Input(2, [4, 3, 3, 3], dt), Input(3, [4], dt));
            Check(dev, $"conv2d stride 2 dilation 2 {dt}", t => F.Conv2d(Nchw(t[0]), t[1], null, stride: 2, padding: 2, dilation: 2), Input(4, [2, 9, 8, 3], dt), Input(5, [5, 3, 3, 3], dt));
        }
        Check(dev, "conv2d groups 2", t => F.Conv2d(Nchw(t[0]), t[1], t[2], stride: 1, padding: 1, groups: 2), Input(6, [1, 5, 6, 4]), Input(7, [6, 2, 3, 3]), Input(8, [6]));
        Check(dev, "conv2d depthwise", t => F.Conv2d(Nchw(t[0]), t[1], null, stride: 2, padding: 1, groups: 4), Input(9, [2, 7, 7, 4]), Input(10, [4, 1, 3, 3]));
    }

    [Theory, MemberData(nameof(Names))]
    public void Pooling_matches_cpu(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        using var x = Input(20, [2, 7, 9, 3]);
        Check(dev, "max_pool2d k3 s2 p1", t => F.MaxPool2d(Nchw(t[0]), 3, 2, 1), x);
        Check(dev, "max_pool2d k2 dilation 2 ceil", t => F.MaxPool2d(Nchw(t[0]), (2, 2), (2, 2), (0, 0), (2, 2), ceilMode: true), x);
        Check(dev, "avg_pool2d k3 s2 p1", t => F.AvgPool2d(Nchw(t[0]), 3, 2, 1), x);
        Check(dev, "avg_pool2d no pad count", t => F.AvgPool2d(Nchw(t[0]), 3, 2, 1, countIncludePad: false), x);
        Check(dev, "avg_pool2d divisor", t => F.AvgPool2d(Nchw(t[0]), 2, 2, 0, divisorOverride: 3), x);
        Check(dev, "adaptive_avg_pool2d", t => F.AdaptiveAvgPool2d(Nchw(t[0]), (4, 2)), x);
        Check(dev, "adaptive_max_pool2d", t => F.AdaptiveMaxPool2d(Nchw(t[0]), (3, 5)), x);
    }

    [Theory, MemberData(nameof(Names))]
    public void Batch_norm_matches_cpu_in_training_and_eval(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        foreach (var dt in new[] { DType.F32, DType.F64 })
        {
            using var x = Input(30, [3, 5, 6, 4], dt, -1, 3);
            using var w = Input(31, [4], dt, 0.5, 1.5);
            using var b = Input(32, [4], dt);
            Check(dev, $"batch norm training {dt}", t => F.BatchNorm2d(Nchw(t[0]), null, null, t[1], t[2], training: true), x, w, b);
            using var rm = Input(33, [4], dt);
            using var rv = Input(34, [4], dt, 0.5, 2);
            using var rmd = rm.MoveTo(dev);
            using var rvd = rv.MoveTo(dev);
            Check(dev, $"batch norm eval {dt}", t => F.BatchNorm2d(Nchw(t[0]), t[0].Device == Device.Cpu ? rm : rmd, t[0].Device == Device.Cpu ? rv : rvd, t[1], t[2]), x, w, b);
        }
        // Running statistics are updated in place on the device as on the CPU.
        using var xr = Input(35, [4, 3, 5, 5]);
        using var m1 = Tensor.Zeros([3]); using var v1 = Tensor.Ones([3]);
        using var m2 = Tensor.Zeros([3], device: dev); using var v2 = Tensor.Ones([3], device: dev);
        using var xrd = xr.MoveTo(dev);
        using (F.BatchNorm2d(xr, m1, v1, training: true)) { }
        using (F.BatchNorm2d(xrd, m2, v2, training: true)) { }
        using (var a = m2.MoveTo(Device.Cpu)) TensorAssert.AssertClose(a, m1, 1e-6, 1e-5, "running mean");
        using (var a = v2.MoveTo(Device.Cpu)) TensorAssert.AssertClose(a, v1, 1e-6, 1e-5, "running var");
    }

    [Theory, MemberData(nameof(Names))]
    public void Interpolate_and_pad_match_cpu(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        using var x = Input(40, [2, 5, 6, 3]);
        Check(dev, "nearest", t => F.Interpolate(Nchw(t[0]), size: (8, 13)), x);
        Check(dev, "bilinear", t => F.Interpolate(Nchw(t[0]), size: (9, 4), mode: "bilinear", alignCorners: false), x);
        Check(dev, "bilinear align corners", t => F.Interpolate(Nchw(t[0]), scaleFactor: (2.0, 1.5), mode: "bilinear", alignCorners: true), x);
        foreach (var mode in new[] { "constant", "reflect", "replicate" })
            Check(dev, $"pad {mode}", t => F.Pad(Nchw(t[0]), [1, 2, 3, 1], mode, 0.5), x);
    }

    private static double[] TrainConvNet(Device device, int steps)
    {
        using var model = new Sequential(
            new Conv2d(3, 6, 3, padding: 1, generator: new Generator(11)), new BatchNorm2d(6), Activation.ReLU(), new MaxPool2d(2),
            new Conv2d(6, 8, 3, stride: 2, padding: 1, generator: new Generator(12)), Activation.ReLU(), new AdaptiveAvgPool2d(1, 1),
            new Flatten(), new Linear(8, 3, generator: new Generator(13)));
        model.To(device);
        using var x0 = TestInputs.Uniform(91, [6, 3, 8, 8]).To(DType.F32);
        using var x = x0.MoveTo(device);
        using var t0 = Tensor.FromArray(new long[] { 0, 1, 2, 2, 1, 0 }, 6);
        using var target = t0.MoveTo(device);
        var opt = new Sgd(model.Parameters(), lr: 0.05, momentum: 0.9);
        return IlgpuTrainingTests.SgdLosses(model, opt, x, target, steps);
    }

    [Theory, MemberData(nameof(Names))]
    public void Small_conv_net_sgd_steps_give_the_cpu_losses(string backend)
    {
        var device = IlgpuDevices.Device(backend);
        var expected = TrainConvNet(Device.Cpu, 3);
        var actual = TrainConvNet(device, 3);
        IlgpuTrainingTests.AssertSameFallingLosses(expected, actual, 2e-5);
    }
}
