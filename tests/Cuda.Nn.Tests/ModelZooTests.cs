using Cuda.Nn.Functional;
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

    /// <summary>mobilenet_v3_small_io against the weights file it names; its logits are small (~0.05), so the README's norm form.</summary>
    [Fact]
    public void MobileNetV3LoadsTorchvisionWeightsAndMatchesTheFixtures() =>
        OracleModelCases.Run("mobilenet_v3_small_io.safetensors", "mobilenet_v3_small", n => MobileNetV3.SmallModel(numClasses: n),
            (a, r, what) => Oracle.AssertRelNorm(a, r, 1e-3, what));
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
