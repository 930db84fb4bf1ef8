// The GPU checker, exercised where there is no GPU: the whole dry run on ILGPU's CPU accelerator at a size CI
// can afford, its bounds failing a result that is off by more than rounding, and the no-GPU path that must say
// why nothing ran.
using System.Text.Json;
using Cuda.Nn.Data;
using Cuda.Nn.Diagnostics;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests;

public class GpuCheckTests
{
    [Fact]
    public void DryRunPassesOnTheIlgpuCpuAccelerator()
    {
        var log = new StringWriter();
        bool data = Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir);
        var report = GpuCheck.Run(dryRun: true, trainSteps: 3, batch: 4, data ? ImageClassificationSet.DefaultFashionMnistDir : null, log);
        Assert.Equal(10, report.Ops.Count);
        Assert.All(report.Ops, o => Assert.True(o.Passed, $"{o.Op}: {o.MaxAbsDiff:E2}, bound up to {o.Tolerance:E2}\n{log}"));
        Assert.Contains("conv2d 3x3", log.ToString());
        if (data)
        {
            var t = report.Training!;
            Assert.Equal(3, t.DeviceLosses.Length);
            Assert.True(t.Passed, $"worst difference over its bound {t.WorstToBound:F3}\n{log}");
            // Each step starts from the CPU's state, so the losses agree to rounding, far inside the bound.
            Assert.True(t.MaxRelativeDiff < t.LossBound, $"loss differs by {t.MaxRelativeDiff:E2}, bound {t.LossBound:E2}");
            Assert.True(t.PeakDeviceBytes > 0, "peak device memory should be measured");
        }
        Assert.True(report.Passed, log.ToString());
        string path = Path.Combine(Path.GetTempPath(), $"gpu-check-{Guid.NewGuid():N}.json");
        try
        {
            GpuCheck.Write(report, path);
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            Assert.True(json.RootElement.GetProperty("passed").GetBoolean());
        }
        finally
        {
            File.Delete(path);
        }
        if (!data) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): the op checks ran, the training check did not");
    }

    // The bounds are worst-case rounding bounds, not a licence: a device result off by 1% of its magnitude fails.
    [Theory]
    [InlineData(0.0, true)]
    [InlineData(1e-2, false)]
    public void AResultOffByMoreThanRoundingFailsItsBound(double error, bool passes)
    {
        int calls = 0;
        Tensor F(Tensor[] t)
        {
            var y = t[0].MatMul(t[1]);
            return ++calls == 3 ? y * (1 + error) : y; // the first call sizes gy; the third is the "device" run
        }
        var check = GpuCheck.Compare("matmul", Device.Cpu, [[16, 24], [24, 8]], F, GpuCheck.Bound.Bilinear, 24, TextWriter.Null);
        Assert.Equal(passes, check.Passed);
    }

    [Fact]
    public void TrainingBoundsFollowDepthAndReductionLength()
    {
        using var model = Models.ResNet.ResNet20(10, 1, new Generator(0));
        var small = GpuCheck.TrainingBounds(model, 8, 28 * 28);
        var large = GpuCheck.TrainingBounds(model, 128, 28 * 28);
        Assert.Equal(small.Loss, large.Loss);           // the forward's dot products do not grow with the batch
        Assert.True(large.Gradient > small.Gradient);   // weight gradients sum over the batch
        Assert.InRange(small.Loss, 1e-4, 1e-2);         // 21 layers of 64x3x3 dot products: about 1.5e-3
    }

    [Fact]
    public void WithoutAGpuTheCheckSaysWhyAndChecksNothing()
    {
        if (Kernels.Ilgpu.IlgpuBackend.TryCreateCuda(0, out _) is { } gpu) { gpu.Dispose(); Assert.Skip("a GPU is present: the no-GPU path cannot be shown here"); }
        var r = GpuCheck.Run(dryRun: false, 10, 8, null, TextWriter.Null);
        Assert.False(r.Passed);
        Assert.Empty(r.Ops);
        Assert.Contains("no GPU", r.Skipped);
    }
}
