// The GPU checker, exercised where there is no GPU: its op comparisons on ILGPU's CPU accelerator, a training
// comparison of two steps, and the no-GPU path that must say why nothing ran.
using Cuda.Nn.Data;
using Cuda.Nn.Diagnostics;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class GpuCheckTests
{
    [Fact]
    public void OpChecksPassOnTheIlgpuCpuAccelerator()
    {
        var log = new StringWriter();
        var ops = GpuCheck.CheckOps(IlgpuDevices.Device(IlgpuDevices.CpuName), log);
        Assert.Equal(9, ops.Count);
        Assert.All(ops, o => Assert.True(o.Passed, $"{o.Op}: {o.MaxAbsDiff:E2} over {o.Tolerance:E0}"));
        Assert.Contains("conv2d 3x3", log.ToString());
    }

    [Fact]
    public void TrainingCheckComparesLossCurvesAndReportsMemory()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        var t = GpuCheck.CheckTraining(IlgpuDevices.Get(IlgpuDevices.CpuName), ImageClassificationSet.DefaultFashionMnistDir, 2, 4, TextWriter.Null);
        Assert.Equal(2, t.DeviceLosses.Length);
        Assert.True(t.Passed, $"loss curves differ by {t.MaxRelativeDiff:E2}");
        Assert.True(t.PeakDeviceBytes > 0, "peak device memory should be measured");
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
