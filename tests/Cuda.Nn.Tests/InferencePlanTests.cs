// InferencePlan (the compiled inference path) against the eager eval-mode forward of the same model, on every zoo
// family the exporter covers; its fusions; its weight snapshot; and values-only max pooling (F.MaxPool2d without
// autograd) against the indices kernel.
using Cuda.Nn.Autograd;
using Cuda.Nn.Inference;
using Cuda.Nn.Onnx;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

public unsafe class InferencePlanTests
{
    // The exporter's model list: resnet20, resnet18, mlp, mobilenet_v3_small (depthwise and grouped convs: fused steps
    // that run eagerly), efficientnet_b0 and two ViTs.
    [Theory]
    [MemberData(nameof(OnnxExportTests.Models), MemberType = typeof(OnnxExportTests))]
    public void PlanMatchesTheEagerForward(string name, int[] inputShape, int classes)
    {
        using var model = OnnxTestModels.Create(name, inputShape, classes);
        using var plan = InferencePlan.Compile(model, inputShape);
        // 1: tiles split over threads; 3 and 4: images over threads. The second round of each batch writes the fused
        // convs' outputs into the memory plan the first round made for that shape.
        foreach (int batch in new[] { 1, 3, 4, 1, 3, 4 })
        {
            using var scope = new DisposeScope();
            var x = Tensor.Randn([batch, .. inputShape], new Generator((ulong)(20 + batch)));
            Tensor expected;
            using (AutogradMode.NoGrad()) expected = model.Forward(x);
            var actual = plan.Run(x);
            Assert.False(actual.RequiresGrad);
            double diff = OnnxTestModels.MaxAbsDiff(actual, expected);
            Assert.True(diff <= 1e-4, $"{name} batch {batch}: max |plan - eager| = {diff:E3}");
        }
    }

    [Fact]
    public void EverySiluOfEfficientNetIsOneStep()
    {
        // The exporter writes SiLU as Mul(x, Sigmoid(x)); squeeze-excitation's gate is Mul(x, Sigmoid(s)) of another
        // value and must stay two nodes. (PlanMatchesTheEagerForward checks the values.)
        using var model = OnnxTestModels.Create("efficientnet_b0", [3, 32, 32], 10);
        var proto = OnnxExporter.Build(model, [3, 32, 32]);
        int silus = proto.Graph.Node.Count(n => n.OpType == "Sigmoid" && proto.Graph.Node.Any(m => m.OpType == "Mul" && m.Input.Contains(n.Output[0]) && m.Input.Contains(n.Input[0])));
        int gates = proto.Graph.Node.Count(n => n.OpType == "Sigmoid") - silus;
        Assert.True(silus > 10 && gates > 10, $"efficientnet_b0 exported {silus} SiLUs and {gates} other sigmoids");
        using var plan = InferencePlan.Compile(model, [3, 32, 32]);
        Assert.Equal(silus, plan.StepNames.Count(s => s.StartsWith("silu ", StringComparison.Ordinal)));
        Assert.Equal(gates, plan.StepNames.Count(s => s.EndsWith("(Sigmoid)", StringComparison.Ordinal)));
    }

    [Fact]
    public void MemoryPlanSharesBuffersBetweenOutputsThatAreNotAliveTogether()
    {
        if (!PackedConv2d.Supported) Assert.Skip("the memory plan holds the frozen convs' outputs, which need AVX-512");
        using var model = OnnxTestModels.Create("resnet20", [1, 28, 28], 10);
        using var plan = InferencePlan.Compile(model, [1, 28, 28]);
        using var scope = new DisposeScope();
        var x = Tensor.Randn([1, 1, 28, 28], new Generator(3));
        Assert.Null(plan.MemoryPlanFor([1, 1, 28, 28]));
        var first = plan.Run(x).ToFloatArray();
        var memory = plan.MemoryPlanFor([1, 1, 28, 28]);
        Assert.NotNull(memory);
        // ResNet-20's 21 convs all run frozen at batch 1; the last one's output reaches the result through nodes that
        // are not fused convs (any of which could return a view of it), so it alone stays out of the arena.
        Assert.Equal(20, memory.Value.Values);
        // Residual blocks keep at most three 16x28x28 maps alive at once (block input, conv1 output, conv2 output), held
        // channel-blocked between the convs (16 channels x 30 x 30 cells with the zero border).
        long map = BlockedLayout.ImageFloats(16, 28, 28);
        Assert.InRange(memory.Value.Floats, 2 * map, 3 * map);
        Assert.True(memory.Value.UnsharedFloats >= 4 * memory.Value.Floats, $"{memory.Value.UnsharedFloats} floats unshared, {memory.Value.Floats} planned");
        // Runs through the arena give the first run's result exactly, also after another shape ran in between. The
        // arena is poisoned first: the run must write every planned output there (no NaN left) and read nothing stale.
        var arena = plan.ArenaFor([1, 1, 28, 28])!;
        arena.Fill_(double.NaN);
        Assert.Equal(first, plan.Run(x).ToFloatArray());
        Assert.DoesNotContain(arena.ToFloatArray(), float.IsNaN);
        plan.Run(Tensor.Randn([2, 1, 28, 28], new Generator(4)));
        Assert.Equal(first, plan.Run(x).ToFloatArray());
    }

    [Fact]
    public void ResNet18PlansTheBlockedPoolOutputWithTheConvs()
    {
        if (!PackedConv2d.Supported) Assert.Skip("the memory plan holds the frozen convs' outputs, which need AVX-512");
        using var model = OnnxTestModels.Create("resnet18", [3, 32, 32], 10);
        using var plan = InferencePlan.Compile(model, [3, 32, 32]);
        using var scope = new DisposeScope();
        var x = Tensor.Randn([1, 3, 32, 32], new Generator(5));
        var first = plan.Run(x).ToFloatArray();
        // 20 convs less the last (its output reaches the result through other nodes), plus the stem's max pool, whose
        // blocked output the first block's convs read.
        Assert.Equal(20, plan.MemoryPlanFor([1, 3, 32, 32])!.Value.Values);
        var arena = plan.ArenaFor([1, 3, 32, 32])!;
        arena.Fill_(double.NaN);
        Assert.Equal(first, plan.Run(x).ToFloatArray());
        Assert.DoesNotContain(arena.ToFloatArray(), float.IsNaN);
    }

    [Fact]
    public void ResNet18FusesEveryConvWithItsBatchNormResidualAndRelu()
    {
        using var model = OnnxTestModels.Create("resnet18", [3, 32, 32], 10);
        using var plan = InferencePlan.Compile(model, [3, 32, 32]);
        // 20 convs, each with its batch norm; 8 residual adds; the stem's relu and two per block.
        Assert.Equal((20, 20, 8, 17), (plan.Fusions.Convs, plan.Fusions.BatchNorms, plan.Fusions.Adds, plan.Fusions.Relus));
        using (new DisposeScope()) plan.Run(Tensor.Randn([1, 3, 32, 32], new Generator(1)));
        var lines = plan.Describe().ToList();
        Assert.Equal(20, lines.Count);
        if (PackedConv2d.Supported)
            Assert.Contains(lines, l => l.Contains("1 of 9 taps", StringComparison.Ordinal)); // the 1x1 last stage keeps its centre tap
    }

    [Fact]
    public void PlanIsASnapshotOfTheWeights()
    {
        using var model = OnnxTestModels.Create("resnet20", [1, 16, 16], 10);
        using var plan = InferencePlan.Compile(model, [1, 16, 16]);
        using var scope = new DisposeScope();
        var x = Tensor.Randn([2, 1, 16, 16], new Generator(5));
        var before = plan.Run(x).ToFloatArray();
        using (AutogradMode.NoGrad())
            foreach (var (_, t) in model.StateDict()) if (t.DType.IsFloatingPoint()) t.CopyFrom(t.Mul(0.5));
        Assert.Equal(before, plan.Run(x).ToFloatArray());
        using var recompiled = InferencePlan.Compile(model, [1, 16, 16]);
        Assert.NotEqual(before, recompiled.Run(x).ToFloatArray());
    }

    [Fact]
    public void WrongInputShapeNamesTheInput()
    {
        using var model = OnnxTestModels.Create("resnet20", [1, 16, 16], 10);
        using var plan = InferencePlan.Compile(model, [1, 16, 16]);
        using var scope = new DisposeScope();
        var e = Assert.Throws<ArgumentException>(() => plan.Run(Tensor.Zeros([1, 3, 16, 16])));
        Assert.Contains("[batch, 1, 16, 16]", e.Message);
    }

    // N, C, H, W, kernel, stride, padding, ceil mode
    public static TheoryData<int, int, int, int, int, int, int, bool> PoolShapes => new()
    {
        { 2, 3, 16, 16, 3, 2, 1, false },  // ResNet's stem pooling
        { 1, 4, 15, 37, 3, 2, 1, true },   // odd sizes, ceil mode, wide rows (vector windows and a masked tail)
        { 3, 2, 9, 10, 2, 2, 0, false },
        { 1, 5, 7, 11, 3, 1, 1, false },   // stride 1 (scalar windows)
        { 2, 2, 8, 9, 5, 3, 2, true },
    };

    [Theory]
    [MemberData(nameof(PoolShapes))]
    public void ValuesOnlyMaxPoolMatchesMaxPool2d(int n, int c, int h, int w, int k, int s, int p, bool ceil)
    {
        using var scope = new DisposeScope();
        var data = Tensor.Randn([n, c, h, w], new Generator(9)).ToFloatArray();
        data[5] = float.NaN; // a NaN wins its windows, as in PyTorch
        data[data.Length - 3] = float.NegativeInfinity;
        var x = Tensor.FromArray(data, n, c, h, w);
        float[] expected;
        // The indices kernel (what training runs) is the reference for the values-only one.
        var (withIndices, indices) = F.MaxPool2dWithIndices(x, (k, k), (s, s), (p, p), null, ceil);
        expected = withIndices.ToFloatArray();
        indices.Dispose();
        using (AutogradMode.NoGrad()) Assert.Equal(expected, F.MaxPool2d(x, (k, k), (s, s), (p, p), null, ceil).ToFloatArray());
        int oh = Pool2dGeometry.OutputSize(h, k, s, p, 1, ceil), ow = Pool2dGeometry.OutputSize(w, k, s, p, 1, ceil);
        var actual = new float[n * c * oh * ow];
        fixed (float* px = data, py = actual)
            CpuPool.MaxValues(px, py, n * c, h, w, CpuPool.WindowRanges(h, oh, k, s, p, 1), ow, k, s, p);
        Assert.Equal(expected, actual);
    }
}
