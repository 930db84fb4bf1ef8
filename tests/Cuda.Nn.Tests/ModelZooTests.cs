using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Models;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class ModelZooTests
{
    [Theory]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet50", 25_557_032)]
    [InlineData("mobilenet_v3_small", 2_542_856)]
    [InlineData("efficientnet_b0", 5_288_548)]
    [InlineData("efficientnet_b3", 12_233_232)]
    public void ParameterCountsEqualThePublishedOnes(string name, long expected)
    {
        using var m = ModelRegistry.Create(name, new ModelOptions(1000, 3));
        Assert.Equal(expected, m.ParameterCount());
    }

    [Fact]
    public void ResNet20HasProjectionShortcutsAndTrainsOnSmallImages()
    {
        using var m = ModelRegistry.Create("resnet20", new ModelOptions(10, 1, Generator: new Generator(1)));
        Assert.Contains("layer2.0.downsample.0.weight", m.StateDict().Keys);
        using var scope = new DisposeScope();
        var y = m.Forward(Tensor.Randn([2, 1, 28, 28], new Generator(2)));
        Assert.Equal([2, 10], y.Shape);
        F.CrossEntropy(y, Tensor.FromArray(new long[] { 1, 7 }, 2)).Backward();
        Assert.All(m.Parameters(), p => Assert.NotNull(p.Grad));
    }

    [Fact]
    public void MobileNetV3LoadsTorchvisionWeightsAndMatchesTheFixtures()
    {
        using var weightsFile = Oracle.Open("mobilenet_v3_small.safetensors");
        using var io = Oracle.Open("mobilenet_v3_small_io.safetensors");
        var (arch, numClasses) = Oracle.Architecture(weightsFile);
        Assert.Equal("mobilenet_v3_small", arch);
        Assert.Equal(Oracle.Architecture(io), (arch, numClasses));
        using var model = MobileNetV3.SmallModel(numClasses: numClasses);
        Assert.Equal(long.Parse(weightsFile.Metadata["total_params"], System.Globalization.CultureInfo.InvariantCulture), model.ParameterCount());
        var state = TensorFile.Load(Path.Combine(Oracle.Directory!, "mobilenet_v3_small.safetensors"));
        var result = model.LoadStateDict(state);
        foreach (var t in state.Values) t.Dispose();
        Assert.True(result.IsClean, result.ToString());
        foreach (var c in Oracle.Cases(io))
        {
            var p = Oracle.Params(io, c);
            using var scope = new DisposeScope();
            switch (p.GetProperty("mode").GetString())
            {
                case "eval":
                    using (AutogradMode.NoGrad())
                    {
                        model.Eval();
                        Oracle.AssertRelNorm(model.Forward(Oracle.Load(io, $"{c}.x")), Oracle.Load(io, $"{c}.logits"), 1e-3, $"mobilenet {c} eval logits");
                    }
                    break;
                case "train":
                    {
                        // Batch statistics in BN; the fixture disables dropout, i.e. the classifier (which holds it) stays in eval.
                        Assert.StartsWith("disabled", p.GetProperty("dropout").GetString());
                        Assert.Equal("cross_entropy mean", p.GetProperty("loss").GetString());
                        model.Train();
                        foreach (var (name, m) in model.NamedModules()) if (name.StartsWith("classifier", StringComparison.Ordinal)) m.Eval();
                        var logits = model.Forward(Oracle.Load(io, $"{c}.x"));
                        Oracle.AssertRelNorm(logits, Oracle.Load(io, $"{c}.logits"), 1e-3, $"mobilenet {c} train logits");
                        var loss = F.CrossEntropy(logits, Oracle.Load(io, $"{c}.target"));
                        Oracle.AssertClose(loss, Oracle.Load(io, $"{c}.loss"), 1e-3, 1e-3, $"mobilenet {c} train loss");
                        loss.Backward();
                        var sd = model.StateDict();
                        foreach (var name in p.GetProperty("grads").EnumerateArray().Select(g => g.GetString()!))
                            Oracle.AssertRelNorm(sd[name].Grad!, Oracle.Load(io, $"{c}.grad.{name}"), 1e-3, $"mobilenet {c} grad {name}");
                        string bn = p.GetProperty("running_stats_after").GetString()!;
                        foreach (var stat in new[] { "running_mean", "running_var" })
                            Oracle.AssertRelNorm(sd[$"{bn}.{stat}"], Oracle.Load(io, $"{c}.after.{bn}.{stat}"), 1e-3, $"mobilenet {c} {bn} {stat}");
                        break;
                    }
                case var mode: throw new NotSupportedException($"mobilenet_v3_small_io.safetensors {c}: no mapping for mode '{mode}'");
            }
        }
    }
}

public class ModelSummaryTests
{
    [Fact]
    public void SummaryCountsLayersShapesAndMacs()
    {
        using var m = ModelRegistry.Create("resnet18", new ModelOptions(1000, 3));
        var s = ModelSummary.Of(m, [1, 3, 224, 224]);
        // torchvision lists ResNet-18 at 1.81 G multiply-adds for a 224x224 image
        Assert.InRange(s.TotalMacs, 1.80e9, 1.83e9);
        Assert.Equal(11_689_512, s.TotalParameters);
        var fc = s.Layers.Single(l => l.Name == "fc");
        Assert.Equal([1, 1000], fc.OutputShape);
        Assert.Equal(513_000, fc.Parameters);
        Assert.Equal([1, 64, 112, 112], s.Layers.First(l => l.Name == "conv1").OutputShape);
        Assert.Contains("layer4.1.conv2", s.ToString());
    }
}
