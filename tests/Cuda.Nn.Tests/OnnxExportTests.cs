using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Kernels;
using Google.Protobuf;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cuda.Nn.Tests;

/// <summary>Exported graphs run in ONNX Runtime (the reference implementation) and match our eval-mode forward.</summary>
public class OnnxExportTests
{
    public static TheoryData<string, int[], int> Models => new()
    {
        { "resnet20", [1, 16, 16], 10 },
        { "resnet18", [3, 32, 32], 10 },
        { "mlp", [1, 8, 8], 10 },
        { "mobilenet_v3_small", [3, 32, 32], 10 },
        { "efficientnet_b0", [3, 32, 32], 10 },
        { "vit_mini_4", [3, 16, 16], 10 },
        { "vit_t_16", [3, 32, 32], 10 },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ExportedModelRunsInOnnxRuntimeAndMatchesForward(string name, int[] inputShape, int classes)
    {
        using var model = OnnxTestModels.Create(name, inputShape, classes);
        var path = Path.Combine(Path.GetTempPath(), $"cudann-onnx-{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(model, inputShape, path);
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
            using var session = new InferenceSession(path, options);
            foreach (int batch in new[] { 1, 3 }) // batch 3 proves the symbolic batch axis
            {
                using var scope = new DisposeScope();
                var x = Tensor.Randn([batch, .. inputShape], new Generator((ulong)(7 + batch)));
                Tensor expected;
                using (AutogradMode.NoGrad()) expected = model.Forward(x);
                var actual = OnnxTestModels.RunOrt(session, x);
                Assert.Equal([batch, classes], actual.Shape);
                double diff = OnnxTestModels.MaxAbsDiff(actual, expected);
                Assert.True(diff <= 1e-4, $"{name} batch {batch}: max |ORT - ours| = {diff:E3}");
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ExportWritesStateDictInitializersAndASymbolicBatchAxis()
    {
        using var model = OnnxTestModels.Create("resnet20", [1, 16, 16], 10);
        var proto = OnnxExporter.Build(model, [1, 16, 16]);
        Assert.Equal(OnnxExporter.Opset, proto.OpsetImport.Single().Version);
        Assert.Equal(model.StateDict().Keys.Order(), proto.Graph.Initializer.Select(t => t.Name).Order());
        var dims = proto.Graph.Input.Single().Type.TensorType.Shape.Dim;
        Assert.Equal(OnnxExporter.BatchAxis, dims[0].DimParam);
        Assert.Equal([1L, 16, 16], dims.Skip(1).Select(d => d.DimValue));
        Assert.Equal(OnnxExporter.BatchAxis, proto.Graph.Output.Single().Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(OnnxExporter.OutputName, proto.Graph.Node[^1].Output.Single());
    }

    private sealed class Unmapped : Module
    {
        public override Tensor Forward(Tensor input) => input.Share();
    }

    [Fact]
    public void UnknownModuleFailsNamingItsPathAndType()
    {
        using var model = new Sequential(new Linear(4, 4), new Sequential(Activation.ReLU(), new Unmapped()));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.Build(model, [4]));
        Assert.Contains("'1.1'", e.Message);
        Assert.Contains(nameof(Unmapped), e.Message);
    }

    [Fact]
    public void ActivationsMatchOnnxRuntime()
    {
        Activation[] acts = [Activation.ReLU(), Activation.ReLU6(), Activation.LeakyReLU(0.2), Activation.GELU(), Activation.GELU(true),
            Activation.SiLU(), Activation.Sigmoid(), Activation.Tanh(), Activation.Hardswish(), Activation.Hardsigmoid(), Activation.Softplus()];
        foreach (var act in acts)
        {
            using var model = new Sequential(act);
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
            using var session = new InferenceSession(OnnxExporter.Build(model, [64]).ToByteArray(), options);
            using var scope = new DisposeScope();
            var x = Tensor.Randn([2, 64], new Generator(3)).Mul(4);
            var diff = OnnxTestModels.MaxAbsDiff(OnnxTestModels.RunOrt(session, x), model.Forward(x));
            Assert.True(diff <= 1e-5, $"{act.Name}: max diff {diff:E3}");
        }
    }
}

internal static class OnnxTestModels
{
    /// <summary>A registry model in eval mode with non-trivial batch-norm statistics, biases and heads (fresh models
    /// have zero means, unit variances and, for ViT, a zero head, which would hide mistakes).</summary>
    public static Module Create(string name, int[] inputShape, int classes)
    {
        var model = ModelRegistry.Create(name, new ModelOptions(classes, inputShape[0], inputShape.Length > 1 ? inputShape[^1] : 1, new Generator(11)));
        var g = new Generator(12);
        using (AutogradMode.NoGrad())
        using (var scope = new DisposeScope())
        {
            foreach (var (key, t) in model.StateDict())
            {
                if (!t.DType.IsFloatingPoint()) continue;
                if (key.EndsWith("running_var", StringComparison.Ordinal)) t.CopyFrom(Tensor.Rand(t.Shape, g).Add(0.5));
                else if (key.EndsWith("running_mean", StringComparison.Ordinal)) t.CopyFrom(Tensor.Randn(t.Shape, g).Mul(0.1));
                else if (key.StartsWith("heads.", StringComparison.Ordinal)) t.CopyFrom(Tensor.Randn(t.Shape, g).Mul(0.05));
                else if (t.Rank == 1) t.CopyFrom(t.Add(Tensor.Randn(t.Shape, g).Mul(0.1)));
            }
        }
        model.Eval();
        return model;
    }

    public static Tensor RunOrt(InferenceSession session, Tensor x)
    {
        var input = new DenseTensor<float>(x.ToFloatArray(), x.Shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExporter.InputName, input)]);
        var y = results.First().AsTensor<float>();
        return Tensor.FromArray(y.ToArray(), y.Dimensions.ToArray());
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        Assert.Equal(b.Shape, a.Shape);
        var x = a.ToFloatArray();
        var y = b.ToFloatArray();
        double m = 0;
        for (int i = 0; i < x.Length; i++) m = Math.Max(m, Math.Abs((double)x[i] - y[i]));
        return m;
    }
}
