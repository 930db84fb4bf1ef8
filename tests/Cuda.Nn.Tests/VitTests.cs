using Cuda.Nn.Models;

namespace Cuda.Nn.Tests;

public class VitTests
{
    [Fact]
    public void VitB16HasThePublishedParameterCountAndTorchvisionNames()
    {
        using var m = new VisionTransformer(224, 16, layers: 12, heads: 12, dim: 768, mlpDim: 3072, numClasses: 1000);
        Assert.Equal(86_567_656, m.ParameterCount());
        var names = m.StateDict().Keys.ToHashSet();
        foreach (var n in new[] { "class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding",
                     "encoder.layers.encoder_layer_0.ln_1.weight", "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
                     "encoder.layers.encoder_layer_0.self_attention.out_proj.bias", "encoder.layers.encoder_layer_11.mlp.3.weight",
                     "encoder.ln.bias", "heads.head.weight" })
            Assert.Contains(n, names);
    }

    [Fact]
    public void TinyVitTrainsOneStep()
    {
        using var m = new VisionTransformer(8, 4, layers: 2, heads: 2, dim: 16, mlpDim: 32, numClasses: 3, inChannels: 1, generator: new Generator(1));
        using var scope = new DisposeScope();
        var x = Tensor.Randn([2, 1, 8, 8], new Generator(2));
        var y = m.Forward(x);
        Assert.Equal([2, 3], y.Shape);
        Functional.F.CrossEntropy(y, Tensor.FromArray(new long[] { 0, 2 }, 2)).Backward();
        Assert.All(m.Parameters(), p => Assert.NotNull(p.Grad));
    }
}
