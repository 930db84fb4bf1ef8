using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Tests;

/// <summary>Export, import with OnnxImporter, and compare with the original model; the imported graph trains.</summary>
public class OnnxImportTests
{
    public static TheoryData<string, int[], int> Models => OnnxExportTests.Models;

    [Theory]
    [MemberData(nameof(Models))]
    public void RoundTripGivesTheOriginalOutputsAndStateDictNames(string name, int[] inputShape, int classes)
    {
        using var model = OnnxTestModels.Create(name, inputShape, classes);
        var path = Path.Combine(Path.GetTempPath(), $"cudann-onnx-rt-{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            OnnxExporter.Export(model, inputShape, path);
            using var imported = OnnxImporter.Load(path);
            imported.Eval();
            Assert.Equal(inputShape, imported.InputShape);
            Assert.Equal(model.StateDict().Keys.Order(), imported.StateDict().Keys.Order());
            Assert.Equal(model.NamedParameters().Select(p => p.Key).Order(), imported.NamedParameters().Select(p => p.Key).Order());
            foreach (int batch in new[] { 1, 3 })
            {
                using var scope = new DisposeScope();
                using var noGrad = AutogradMode.NoGrad();
                var x = Tensor.Randn([batch, .. inputShape], new Generator((ulong)(21 + batch)));
                double diff = OnnxTestModels.MaxAbsDiff(imported.Forward(x), model.Forward(x));
                Assert.True(diff <= 1e-4, $"{name} batch {batch}: max |imported - original| = {diff:E3}");
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ImportedGraphFineTunesWithSgd()
    {
        using var model = OnnxTestModels.Create("resnet20", [1, 16, 16], 10);
        using var imported = OnnxImporter.FromProto(OnnxExporter.Build(model, [1, 16, 16]));
        imported.Train();
        using var opt = new Sgd(imported.Parameters(), lr: 0.05);
        var x = Tensor.Randn([4, 1, 16, 16], new Generator(5));
        var target = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 4);
        double Loss()
        {
            using var scope = new DisposeScope();
            using var noGrad = AutogradMode.NoGrad();
            return F.CrossEntropy(imported.Forward(x), target).Item();
        }
        double before = Loss();
        var running = imported.StateDict()["bn1.running_mean"].ToFloatArray();
        using (var scope = new DisposeScope())
        {
            opt.ZeroGrad();
            F.CrossEntropy(imported.Forward(x), target).Backward();
            Assert.All(imported.Parameters(), p => Assert.NotNull(p.Grad));
            opt.Step();
        }
        double after = Loss();
        Assert.True(after < before, $"loss {before} -> {after}");
        Assert.NotEqual(running, imported.StateDict()["bn1.running_mean"].ToFloatArray()); // batch statistics were used and tracked

        // The fine-tuned graph exports with its new weights and runs in ONNX Runtime.
        imported.Eval();
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(OnnxExporter.Build(imported, [1, 16, 16])), options);
        using (var scope = new DisposeScope())
        using (AutogradMode.NoGrad())
        {
            double diff = OnnxTestModels.MaxAbsDiff(OnnxTestModels.RunOrt(session, x), imported.Forward(x));
            Assert.True(diff <= 1e-4, $"re-exported fine-tuned graph: max |ORT - ours| = {diff:E3}");
        }
        x.Dispose();
        target.Dispose();
    }

    [Fact]
    public void UnsupportedOperatorsAreAllListed()
    {
        var g = new OnnxGraphBuilder();
        var y = g.Node("Relu", [OnnxExporter.InputName], "a");
        y = g.Node("FancyOp", [y], "b");
        y = g.Node("OtherOp", [y], "c");
        g.Node("FancyOp", [y], "d");
        g.Graph.Input.Add(new ValueInfoProto { Name = OnnxExporter.InputName });
        g.Graph.Output.Add(new ValueInfoProto { Name = g.Graph.Node[^1].Output[0] });
        var m = new ModelProto { IrVersion = OnnxExporter.IrVersion, Graph = g.Graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Version = OnnxExporter.Opset });
        var e = Assert.Throws<NotSupportedException>(() => OnnxImporter.FromProto(m, "bad.onnx"));
        Assert.Contains("bad.onnx", e.Message);
        Assert.Contains("unsupported ONNX operators: FancyOp, OtherOp (", e.Message);
    }

    [Fact]
    public void NonOnnxFileIsRejectedNamingIt()
    {
        var path = Path.Combine(Path.GetTempPath(), $"cudann-not-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [0xff, 0xff, 0xff, 0xff, 0x01]);
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => OnnxImporter.Load(path));
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
