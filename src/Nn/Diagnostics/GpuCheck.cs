// The GPU check: every op family on a device backend against the CPU (forward and gradients), then a short
// ResNet-20 training run on both with the loss curves compared, the device's images/s and peak memory.
// On a GPU machine the device is ILGPU's CUDA accelerator; --dry-run uses ILGPU's CPU accelerator so the
// checker itself is tested where there is no GPU. The PyTorch half lives in scripts/gpu_check_torch.py.
using System.Diagnostics;
using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Data;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Ilgpu;
using Cuda.Nn.Models;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Diagnostics;

public sealed record OpCheck(string Op, double MaxAbsDiff, double Tolerance, bool Passed);

public sealed record TrainingCheck(int Steps, int Batch, double[] CpuLosses, double[] DeviceLosses, double MaxRelativeDiff, bool Passed,
    double DeviceImagesPerSecond, double CpuImagesPerSecond, long PeakDeviceBytes);

public sealed record GpuCheckReport(string Device, bool IsGpu, IReadOnlyList<OpCheck> Ops, TrainingCheck? Training, bool Passed, string? Skipped);

public static class GpuCheck
{
    /// <summary>Runs the check on the CUDA accelerator, or (dryRun) on ILGPU's CPU accelerator. Without a GPU and
    /// without dryRun it returns a report that says why nothing ran.</summary>
    public static GpuCheckReport Run(bool dryRun, int trainSteps, int batch, string? fashionMnistDir, TextWriter log)
    {
        string why = "";
        IlgpuBackend? backend = dryRun ? IlgpuBackend.CreateCpu(7) : IlgpuBackend.TryCreateCuda(0, out why);
        if (backend is null)
        {
            string reason = $"no GPU: {why}; nothing was checked (run with --dry-run to exercise the checker on ILGPU's CPU accelerator)";
            log.WriteLine(reason);
            return new GpuCheckReport("none", false, [], null, false, reason);
        }
        using (backend)
        {
            Backends.Register(backend);
            log.WriteLine($"checking {backend.Name} ({backend.Device}) against the CPU backend");
            var ops = CheckOps(backend.Device, log);
            TrainingCheck? training = fashionMnistDir is not null && Directory.Exists(fashionMnistDir) && trainSteps > 0
                ? CheckTraining(backend, fashionMnistDir, trainSteps, batch, log)
                : null;
            if (training is null) log.WriteLine("training check skipped: Fashion-MNIST not found or no steps requested");
            bool passed = ops.All(o => o.Passed) && (training?.Passed ?? true);
            return new GpuCheckReport(backend.Device.ToString(), !dryRun, ops, training, passed, null);
        }
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        var x = a.ToFloatArray();
        var y = b.ToFloatArray();
        if (x.Length != y.Length) return double.PositiveInfinity;
        double m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs((double)x[i] - y[i]));
        return m;
    }

    /// <summary>One op family: f on the CPU and on the device from the same inputs; outputs and input gradients compared.</summary>
    private static OpCheck Compare(string name, Device device, int[][] shapes, Func<Tensor[], Tensor> f, double tol, TextWriter log)
    {
        using var scope = new DisposeScope();
        var cpuIn = shapes.Select((s, i) => Tensor.Randn(s, new Generator((ulong)(100 + i))).RequiresGrad_()).ToArray();
        var devIn = cpuIn.Select(t => t.Detach().MoveTo(device).RequiresGrad_()).ToArray();
        var yc = f(cpuIn);
        var yd = f(devIn);
        double diff = MaxAbsDiff(yd, yc);
        using var gy = Tensor.Randn(yc.ShapeRef.ToArray(), new Generator(99));
        using var gyd = gy.MoveTo(device);
        yc.Backward(gy);
        yd.Backward(gyd);
        for (int i = 0; i < cpuIn.Length; i++) diff = Math.Max(diff, MaxAbsDiff(devIn[i].Grad!, cpuIn[i].Grad!));
        var check = new OpCheck(name, diff, tol, diff <= tol);
        log.WriteLine($"  {(check.Passed ? "ok  " : "FAIL")} {name,-28} max |device - cpu| {diff:E2} (tolerance {tol:E0})");
        return check;
    }

    public static List<OpCheck> CheckOps(Device device, TextWriter log) =>
    [
        Compare("matmul 64x96 @ 96x80", device, [[64, 96], [96, 80]], t => t[0].MatMul(t[1]), 1e-3, log),
        Compare("linear + gelu", device, [[16, 48], [32, 48], [32]], t => F.Linear(t[0], t[1], t[2]).Gelu(), 1e-4, log),
        Compare("conv2d 3x3 s1 p1", device, [[2, 8, 12, 12], [16, 8, 3, 3]], t => F.Conv2d(t[0], t[1], null, (1, 1), (1, 1), (1, 1), 1), 1e-3, log),
        Compare("conv2d depthwise s2", device, [[2, 8, 13, 11], [8, 1, 3, 3]], t => F.Conv2d(t[0], t[1], null, (2, 2), (1, 1), (1, 1), 8), 1e-4, log),
        Compare("batch_norm2d (train)", device, [[4, 6, 5, 5], [6], [6]], t =>
        {
            using var rm = Tensor.Zeros([6], device: t[0].Device);
            using var rv = Tensor.Ones([6], device: t[0].Device);
            return F.BatchNorm2d(t[0], rm, rv, t[1], t[2], true, 0.1, 1e-5);
        }, 1e-4, log),
        Compare("max_pool2d 3x3 s2", device, [[2, 4, 9, 9]], t => F.MaxPool2d(t[0], (3, 3), (2, 2), (1, 1)), 1e-5, log),
        Compare("softmax", device, [[8, 33]], t => F.Softmax(t[0], -1), 1e-5, log),
        Compare("layer_norm", device, [[8, 40], [40], [40]], t => F.LayerNorm(t[0], [40], t[1], t[2]), 1e-4, log),
        Compare("cross_entropy", device, [[16, 10]], t =>
        {
            using var y = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (long)(i % 10)).ToArray(), 16).MoveTo(t[0].Device);
            return F.CrossEntropy(t[0], y, labelSmoothing: 0.1);
        }, 1e-5, log),
    ];

    public static TrainingCheck CheckTraining(IlgpuBackend backend, string dataDir, int steps, int batch, TextWriter log)
    {
        var set = ImageClassificationSet.FromIdxDirectory(dataDir, train: true);
        var loader = new DataLoader(set, batch, shuffle: false, new Normalize([0.2860f], [0.3530f]), workers: 0, subset: Enumerable.Range(0, steps * batch).ToArray());

        (double[] Losses, double ImagesPerSecond) Train(Device device)
        {
            using var model = ResNet.ResNet20(10, 1, new Generator(0));
            model.To(device);
            using var opt = new Sgd(model.Parameters(), 0.05, 0.9, 0, 5e-4, nesterov: true);
            var losses = new List<double>();
            var sw = new Stopwatch();
            foreach (var b in loader.Epoch(0))
                using (b)
                using (var scope = new DisposeScope())
                {
                    var x = b.Images.MoveTo(device);
                    var y = b.Labels.MoveTo(device);
                    if (losses.Count == 1) sw.Start(); // the first step pays kernel compilation
                    var loss = F.CrossEntropy(model.Forward(x), y);
                    loss.Backward();
                    opt.Step();
                    opt.ZeroGrad();
                    losses.Add(loss.Item());
                }
            return ([.. losses], (losses.Count - 1) * batch / Math.Max(1e-9, sw.Elapsed.TotalSeconds));
        }

        var (cpu, cpuRate) = Train(Device.Cpu);
        backend.ResetPeakMemory();
        var (dev, devRate) = Train(backend.Device);
        double worst = cpu.Zip(dev, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(a))).DefaultIfEmpty(0).Max();
        // Float reassociation on the device compounds over steps: a few per cent after hundreds of steps is expected.
        double tol = Math.Max(1e-3, 2e-4 * steps);
        var check = new TrainingCheck(steps, batch, cpu, dev, worst, worst <= tol, devRate, cpuRate, backend.PeakLiveBytes);
        log.WriteLine($"  {(check.Passed ? "ok  " : "FAIL")} resnet20 {steps} SGD steps at batch {batch}: max relative loss difference {worst:E2} (tolerance {tol:E0});" +
            $" device {devRate:F0} images/s, CPU {cpuRate:F0} images/s, peak device memory {check.PeakDeviceBytes / 1048576.0:F1} MiB");
        return check;
    }

    public static void Write(GpuCheckReport report, string path) =>
        IO.AtomicFile.WriteAllText(path, IO.JsonText.Serialize(report, Training.TrainConfig.Json));
}
