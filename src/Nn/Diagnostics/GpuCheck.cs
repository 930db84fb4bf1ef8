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
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Diagnostics;

/// <summary>One op family: the largest device-CPU difference and the largest elementwise bound it was held to.</summary>
public sealed record OpCheck(string Op, double MaxAbsDiff, double Tolerance, bool Passed);

/// <summary>Per-step losses (each step from the CPU's state), and the worst difference over its bound (pass: at most 1).</summary>
public sealed record TrainingCheck(int Steps, int Batch, double[] CpuLosses, double[] DeviceLosses, double MaxRelativeDiff, bool Passed,
    double DeviceImagesPerSecond, double CpuImagesPerSecond, long PeakDeviceBytes)
{
    public double WorstToBound { get; init; }
    public double LossBound { get; init; }
    public double GradientBound { get; init; }
}

public sealed record GpuCheckReport(string Device, bool IsGpu, IReadOnlyList<OpCheck> Ops, TrainingCheck? Training, bool Passed, string? Skipped);

public static class GpuCheck
{
    /// <summary>Runs the check on the CUDA accelerator, or (dryRun) on ILGPU's CPU accelerator. Without a GPU and
    /// without dryRun it returns a report that says why nothing ran.</summary>
    public static GpuCheckReport Run(bool dryRun, int trainSteps, int batch, string? fashionMnistDir, TextWriter log)
    {
        string why = "";
        IlgpuBackend? backend = dryRun ? IlgpuBackend.CreateCpu(FreeIlgpuOrdinal()) : IlgpuBackend.TryCreateCuda(0, out why);
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

    // Registering replaces whatever backend holds a device, so a dry run inside a process that already uses ILGPU
    // devices (the test suite, which creates ordinals 0-9 ad hoc) takes a high ordinal nobody holds rather than
    // unplugging theirs mid-test.
    private static int FreeIlgpuOrdinal()
    {
        int ordinal = 100;
        while (Backends.Available.Contains(new Device(DeviceKind.Ilgpu, ordinal))) ordinal++;
        return ordinal;
    }

    /// <summary>F32 unit roundoff (2^-24).</summary>
    public const double Unit = 1.0 / (1 << 24);

    /// <summary>Higham's gamma_n = n u / (1 - n u): the relative error bound of a sum or dot product of n terms in F32, in any order.</summary>
    public static double Gamma(long n) => n * Unit / (1 - n * Unit);

    /// <summary>How an op's rounding error is bounded (see <see cref="CheckOps"/>).</summary>
    public enum Bound
    {
        /// <summary>Sums of products (matmul, linear, conv): per element |fl - exact| &lt;= gamma_n sum|a||b|, and sum|a||b| is the op on |inputs|.</summary>
        Bilinear,
        /// <summary>Selection (max pool): the output is exact; the gradient sums at most n routed values, bounded by the op's backward of |gy|.</summary>
        Selection,
        /// <summary>Normalisations and elementary functions: first-order normwise gamma_n times the largest reference value.</summary>
        Normwise,
    }

    /// <summary>
    /// One op family: f on the CPU and on the device from the same inputs, outputs and input gradients compared. The
    /// tolerance is the sum of both sides' error bounds (2 gamma_n times the magnitude), never a fixed number, so it
    /// grows with the reduction length n and the data instead of failing a correct device on larger shapes.
    /// </summary>
    internal static OpCheck Compare(string name, Device device, int[][] shapes, Func<Tensor[], Tensor> f, Bound bound, long n, TextWriter log)
    {
        using var scope = new DisposeScope();
        var cpuIn = shapes.Select((s, i) => Tensor.Randn(s, new Generator((ulong)(100 + i))).RequiresGrad_()).ToArray();
        var devIn = cpuIn.Select(t => t.Detach().MoveTo(device).RequiresGrad_()).ToArray();
        var gy = Tensor.Randn(f(cpuIn.Select(t => t.Detach()).ToArray()).ShapeRef.ToArray(), new Generator(99));
        var (yc, gc) = Run(f, cpuIn, gy);
        var (yd, gd) = Run(f, devIn, gy.MoveTo(device));
        // The magnitudes, in F64 on the CPU: the op on |inputs| with |gy| for sums of products, on the inputs for selection.
        var magIn = cpuIn.Select(t => (bound == Bound.Bilinear ? t.Detach().Abs() : t.Detach()).To(DType.F64).RequiresGrad_()).ToArray();
        var (ym, gm) = Run(f, magIn, gy.Abs().To(DType.F64));
        double worst = 0, maxDiff = 0, maxTol = 0;
        void Judge(Tensor d, Tensor c, Tensor magnitude, bool forward)
        {
            var (x, y, m) = (d.ToDoubleArray(), c.ToDoubleArray(), magnitude.ToDoubleArray());
            double scale = bound == Bound.Normwise ? m.Select(Math.Abs).Append(y.Select(Math.Abs).DefaultIfEmpty(0).Max()).Max() : 0;
            for (int i = 0; i < x.Length; i++)
            {
                double diff = Math.Abs(x[i] - y[i]);
                // Both sides round: each is within gamma_n (or one ulp for an exact selection) of the exact value.
                double tol = bound switch
                {
                    Bound.Bilinear => 2 * Gamma(n) * Math.Abs(m[i]),
                    Bound.Selection when forward => 2 * Unit * Math.Abs(y[i]),
                    Bound.Selection => 2 * Gamma(n) * Math.Abs(m[i]),
                    _ => 2 * Gamma(n) * scale,
                };
                maxDiff = Math.Max(maxDiff, diff);
                maxTol = Math.Max(maxTol, tol);
                worst = Math.Max(worst, diff == 0 ? 0 : tol == 0 ? double.PositiveInfinity : diff / tol);
            }
        }
        Judge(yd, yc, ym, forward: true);
        for (int i = 0; i < cpuIn.Length; i++) Judge(gd[i], gc[i], gm[i], forward: false);
        var check = new OpCheck(name, maxDiff, maxTol, worst <= 1);
        log.WriteLine($"  {(check.Passed ? "ok  " : "FAIL")} {name,-28} max |device - cpu| {maxDiff:E2}, worst diff/bound {worst:F3} ({bound}, n = {n})");
        return check;
    }

    private static (Tensor Y, Tensor[] Grads) Run(Func<Tensor[], Tensor> f, Tensor[] inputs, Tensor gy)
    {
        var y = f(inputs);
        y.Backward(gy);
        return (y.Detach(), inputs.Select(t => t.Grad!).ToArray());
    }

    // Elementary functions (exp, erf, rsqrt, log) count as this many roundings each in the normwise bounds: the CPU's
    // F32 versions are within a few ulps (erf: 1.5e-7 absolute, about 2.5 ulps near 1), the device's are F64.
    private const int ElementaryUlps = 8;

    /// <summary>
    /// Every op family, each with the error bound its arithmetic allows: n is the longest reduction in its forward or
    /// backward pass (plus <see cref="ElementaryUlps"/> per elementary function on the path).
    /// </summary>
    public static List<OpCheck> CheckOps(Device device, TextWriter log) =>
    [
        // matmul: forward sums 96 products, dA sums 80 and dB 64.
        Compare("matmul 64x96 @ 96x80", device, [[64, 96], [96, 80]], t => t[0].MatMul(t[1]), Bound.Bilinear, 96, log),
        Compare("linear", device, [[16, 48], [32, 48], [32]], t => F.Linear(t[0], t[1], t[2]), Bound.Bilinear, 49, log),
        // gelu after a 48-term linear: the dot product, then erf and its derivative.
        Compare("linear + gelu", device, [[16, 48], [32, 48], [32]], t => F.Linear(t[0], t[1], t[2]).Gelu(), Bound.Normwise, 49 + 2 * ElementaryUlps, log),
        // conv: forward 8*3*3 = 72 terms, weight gradient 2*12*12 = 288, input gradient 16*3*3 = 144.
        Compare("conv2d 3x3 s1 p1", device, [[2, 8, 12, 12], [16, 8, 3, 3]], t => F.Conv2d(t[0], t[1], null, (1, 1), (1, 1), (1, 1), 1), Bound.Bilinear, 288, log),
        // depthwise: forward 9 terms, weight gradient 2*7*6 = 84.
        Compare("conv2d depthwise s2", device, [[2, 8, 13, 11], [8, 1, 3, 3]], t => F.Conv2d(t[0], t[1], null, (2, 2), (1, 1), (1, 1), 8), Bound.Bilinear, 84, log),
        // batch norm over 4*5*5 = 100 values per channel: mean, variance, rsqrt, and the three-term input gradient.
        Compare("batch_norm2d (train)", device, [[4, 6, 5, 5], [6], [6]], t =>
        {
            using var rm = Tensor.Zeros([6], t[0].DType, t[0].Device);
            using var rv = Tensor.Ones([6], t[0].DType, t[0].Device);
            return F.BatchNorm2d(t[0], rm, rv, t[1], t[2], true, 0.1, 1e-5);
        }, Bound.Normwise, 3 * 100 + ElementaryUlps, log),
        // 3x3 windows at stride 2 overlap: an input element receives at most 4 gradients.
        Compare("max_pool2d 3x3 s2", device, [[2, 4, 9, 9]], t => F.MaxPool2d(t[0], (3, 3), (2, 2), (1, 1)), Bound.Selection, 4, log),
        Compare("softmax", device, [[8, 33]], t => F.Softmax(t[0], -1), Bound.Normwise, 2 * 33 + ElementaryUlps, log),
        Compare("layer_norm", device, [[8, 40], [40], [40]], t => F.LayerNorm(t[0], [40], t[1], t[2]), Bound.Normwise, 3 * 40 + ElementaryUlps, log),
        // log-softmax over 10 classes, smoothing, then the mean over 16 rows.
        Compare("cross_entropy", device, [[16, 10]], t =>
        {
            using var y = Tensor.FromArray(Enumerable.Range(0, 16).Select(i => (long)(i % 10)).ToArray(), 16).MoveTo(t[0].Device);
            return F.CrossEntropy(t[0], y, labelSmoothing: 0.1);
        }, Bound.Normwise, 2 * 10 + 16 + 2 * ElementaryUlps, log),
    ];

    /// <summary>
    /// ResNet-20 SGD steps on the CPU and the device. Free-running curves part by the training dynamics' amplification
    /// of rounding (about 20x per step at batch 8, lr 0.05: 5e-7 at step 3, 3e-3 at step 5), which no fixed tolerance
    /// separates from a bug. So every step starts the device from the CPU's state (weights, buffers, momentum) and
    /// compares that one step: the loss within the forward pass's bound, the gradients and the update within the
    /// backward pass's. <see cref="TrainingBounds"/> derives both from the model's depth and reduction lengths.
    /// </summary>
    public static TrainingCheck CheckTraining(IlgpuBackend backend, string dataDir, int steps, int batch, TextWriter log)
    {
        var set = ImageClassificationSet.FromIdxDirectory(dataDir, train: true);
        var loader = new DataLoader(set, batch, shuffle: false, new Normalize([0.2860f], [0.3530f]), workers: 0, subset: Enumerable.Range(0, steps * batch).ToArray());
        const double lr = 0.05, momentum = 0.9, weightDecay = 5e-4;
        using var cpuModel = ResNet.ResNet20(10, 1, new Generator(0));
        using var devModel = ResNet.ResNet20(10, 1, new Generator(0));
        devModel.To(backend.Device);
        using var cpuOpt = new Sgd(cpuModel.Parameters(), lr, momentum, 0, weightDecay, nesterov: true);
        using var devOpt = new Sgd(devModel.Parameters(), lr, momentum, 0, weightDecay, nesterov: true);
        var bounds = TrainingBounds(cpuModel, batch, set.Height * set.Width);
        var cpuParams = cpuModel.Parameters().ToList();
        var devParams = devModel.Parameters().ToList();
        var (cpuLosses, devLosses) = (new List<double>(), new List<double>());
        double worst = 0;
        var (cpuTime, devTime) = (new Stopwatch(), new Stopwatch());
        backend.ResetPeakMemory();
        foreach (var b in loader.Epoch(0))
            using (b)
            using (var scope = new DisposeScope())
            {
                devModel.LoadStateDict(cpuModel.StateDict());
                var optState = cpuOpt.StateDict(); // copies (momentum buffers, step counts), unlike the model's
                devOpt.LoadStateDict(optState);
                foreach (var t in optState.Values) t.Dispose();
                var before = cpuParams.Select(p => p.Detach().ToDoubleArray()).ToList();
                bool timed = cpuLosses.Count > 0; // the first step pays kernel compilation
                double Forward(Module model, Device device, Stopwatch sw)
                {
                    if (timed) sw.Start();
                    var loss = F.CrossEntropy(model.Forward(b.Images.MoveTo(device)), b.Labels.MoveTo(device));
                    loss.Backward();
                    double value = loss.Item();
                    sw.Stop();
                    return value;
                }
                double lc = Forward(cpuModel, Device.Cpu, cpuTime), ld = Forward(devModel, backend.Device, devTime);
                cpuLosses.Add(lc);
                devLosses.Add(ld);
                worst = Math.Max(worst, Math.Abs(ld - lc) / Math.Max(1e-30, bounds.Loss * Math.Abs(lc)));
                for (int i = 0; i < cpuParams.Count; i++)
                {
                    var (g, gd) = (cpuParams[i].Grad!.ToDoubleArray(), devParams[i].Grad!.ToDoubleArray());
                    double gMax = g.Max(Math.Abs);
                    worst = Math.Max(worst, MaxDiff(gd, g) / Math.Max(1e-30, bounds.Gradient * gMax));
                }
                cpuOpt.Step();
                devOpt.Step();
                for (int i = 0; i < cpuParams.Count; i++)
                {
                    // The update is linear in the gradient: lr (1 + momentum) times its error, plus the rounding of p - lr d.
                    var (p, pd) = (cpuParams[i].Detach().ToDoubleArray(), devParams[i].Detach().ToDoubleArray());
                    double gMax = cpuParams[i].Grad!.ToDoubleArray().Max(Math.Abs);
                    double tol = lr * (1 + momentum) * bounds.Gradient * gMax + 4 * Unit * Math.Max(p.Max(Math.Abs), before[i].Max(Math.Abs));
                    worst = Math.Max(worst, MaxDiff(pd, p) / Math.Max(1e-30, tol));
                }
                cpuOpt.ZeroGrad();
                devOpt.ZeroGrad();
            }
        double Rate(Stopwatch sw) => (cpuLosses.Count - 1) * batch / Math.Max(1e-9, sw.Elapsed.TotalSeconds);
        double maxRelative = cpuLosses.Zip(devLosses, (a, d) => Math.Abs(a - d) / Math.Max(1, Math.Abs(a))).DefaultIfEmpty(0).Max();
        var check = new TrainingCheck(steps, batch, [.. cpuLosses], [.. devLosses], maxRelative, worst <= 1, Rate(devTime), Rate(cpuTime), backend.PeakLiveBytes)
        {
            WorstToBound = worst, LossBound = bounds.Loss, GradientBound = bounds.Gradient,
        };
        log.WriteLine($"  {(check.Passed ? "ok  " : "FAIL")} resnet20 {steps} SGD steps at batch {batch}, each from the CPU's state: max relative loss difference {maxRelative:E2}" +
            $" (bound {bounds.Loss:E1}), worst loss/gradient/update diff over its bound {worst:F3}; device {check.DeviceImagesPerSecond:F0} images/s, CPU {check.CpuImagesPerSecond:F0} images/s," +
            $" peak device memory {check.PeakDeviceBytes / 1048576.0:F1} MiB");
        return check;
    }

    private static double MaxDiff(double[] a, double[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    /// <summary>
    /// First-order bounds for one training step of a plain F32 network (Higham's accumulation of gamma_K per layer,
    /// with batch-normalised activations keeping each layer's condition near 1): the loss's relative error within
    /// D gamma_K over its D weight layers (K: the longest forward dot product, in channels x kernel area); each
    /// gradient, relative to its largest element, within 2 D gamma_K' (the backward pass crosses the same layers, and
    /// a weight gradient sums over batch x spatial positions, K' up to batch x the input's area). Both sides round,
    /// so the difference is allowed twice the bound.
    /// </summary>
    public static (double Loss, double Gradient) TrainingBounds(Module model, int batch, int inputArea)
    {
        var weights = model.Parameters().Where(p => p.Rank >= 2).ToList();
        int depth = weights.Count;
        long forward = weights.Max(w => (long)w.Numel / w.ShapeRef[0]);
        long backward = Math.Max(forward, (long)batch * inputArea);
        return (2 * depth * Gamma(forward + ElementaryUlps), 2 * 2 * depth * Gamma(backward + ElementaryUlps));
    }

    public static void Write(GpuCheckReport report, string path) =>
        IO.AtomicFile.WriteAllText(path, IO.JsonText.Serialize(report, Training.TrainConfig.Json));
}
