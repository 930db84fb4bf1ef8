// Pruning: exact unstructured sparsity with masks that survive training steps, and channel pruning that
// removes parameters while leaving the function unchanged when the removed channels were dead.
using Cuda.Nn.Autograd;
using Cuda.Nn.Compression;
using Cuda.Nn.Functional;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;
using Cuda.Nn.Tests.Support;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public class PruningTests
{
    private static Module Mlp() => ModelRegistry.Create("mlp", new ModelOptions(10, 1, 8, new Generator(3)));

    [Fact]
    public void GlobalMagnitudePruningHitsTheAmountAndMasksSurviveTraining()
    {
        using var model = Mlp();
        using var masks = Pruning.Magnitude(model, 0.6, global: true);
        var total = Pruning.Sparsity(model)[^1];
        Assert.Equal(Math.Floor(0.6 * total.Elements), total.Zeros);
        using var opt = new Sgd(model.Parameters(), 0.1, 0.9);
        using (var scope = new DisposeScope())
        {
            var x = Tensor.Randn([4, 1, 8, 8], new Generator(1));
            var y = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 4);
            F.CrossEntropy(model.Forward(x), y).Backward();
        }
        opt.Step();
        Assert.True(Pruning.Sparsity(model)[^1].Zeros < total.Zeros, "a plain SGD step should revive pruned weights before the masks are applied");
        masks.Apply(model);
        Assert.Equal(total.Zeros, Pruning.Sparsity(model)[^1].Zeros);
    }

    [Fact]
    public void PerLayerMagnitudePruningPrunesEachLayerByTheAmount()
    {
        using var model = Mlp();
        using var masks = Pruning.Magnitude(model, 0.3, global: false);
        foreach (var layer in Pruning.Sparsity(model).SkipLast(1)) Assert.Equal(Math.Floor(0.3 * layer.Elements), layer.Zeros);
    }

    /// <summary>Kills half of conv1's channels in every ResNet-20 block: zero filters and a negative BN shift, so ReLU outputs 0.</summary>
    private static void KillHalfTheBlockChannels(Module model)
    {
        using var noGrad = AutogradMode.NoGrad();
        foreach (var g in Pruning.ChannelGroups(model))
        {
            var conv = (Conv2d)g.ProducerModule;
            int n = conv.OutChannels;
            var w = conv.Weight.ToFloatArray();
            int per = w.Length / n;
            var bias = g.Norm!.Bias.ToFloatArray();
            for (int o = 1; o < n; o += 2)
            {
                Array.Clear(w, o * per, per);
                bias[o] = -1;
            }
            using var nw = Tensor.FromArray(w, conv.Weight.Shape);
            conv.Weight.CopyFrom(nw);
            using var nb = Tensor.FromArray(bias, n);
            g.Norm.Bias.CopyFrom(nb);
        }
    }

    [Fact]
    public void ChannelPruningOfDeadChannelsShrinksResNet20WithoutChangingItsOutput()
    {
        using var model = ResNet.ResNet20(10, 1, new Generator(2));
        model.Eval();
        KillHalfTheBlockChannels(model);
        using var scope = new DisposeScope();
        var x = Tensor.Randn([2, 1, 28, 28], new Generator(5));
        Tensor before;
        using (AutogradMode.NoGrad()) before = model.Forward(x);
        long paramsBefore = model.ParameterCount();
        var widths = Pruning.Channels(model, 0.5);
        Assert.Equal(9, widths.Count); // one group per basic block
        Assert.All(widths, kv => Assert.True(kv.Value is 8 or 16 or 32, $"{kv.Key} kept {kv.Value}"));
        Assert.True(model.ParameterCount() < paramsBefore * 0.6, $"{model.ParameterCount()} of {paramsBefore} parameters left");
        Tensor after;
        using (AutogradMode.NoGrad()) after = model.Forward(x);
        TensorAssert.AssertClose(after, before, 1e-5, 1e-5, "logits after removing dead channels");

        // The pruned model saves with its widths and rebuilds from the file alone.
        var path = Path.Combine(Directory.CreateTempSubdirectory("prune").FullName, "pruned.safetensors");
        Checkpoint.SaveModel(path, model, new Dictionary<string, string> { ["model"] = "resnet20", [Pruning.WidthsMetadataKey] = Pruning.WidthsToJson(widths) });
        using var rebuilt = Checkpoint.CreateFromFile(path, new ModelOptions(10, 1, 28));
        rebuilt.Eval();
        Tensor again;
        using (AutogradMode.NoGrad()) again = rebuilt.Forward(x);
        TensorAssert.AssertBitExact(again, after, "rebuilt pruned model");
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }

    [Fact]
    public void ChannelPruningCutsHiddenUnitsOfLinearChainsAndBottlenecks()
    {
        using var mlp = Mlp();
        var widths = Pruning.Channels(mlp, 0.75);
        Assert.Equal(64, Assert.Single(widths).Value);
        using var scope = new DisposeScope();
        Assert.Equal([3, 10], mlp.Forward(Tensor.Randn([3, 1, 8, 8], new Generator(1))).Shape);

        using var r50 = ResNet.ResNet50(10, 3, new Generator(1));
        Assert.Equal(32, Pruning.ChannelGroups(r50).Count); // 16 bottlenecks x (conv1, conv2)
    }

    [Fact]
    public void BadAmountsAndUnprunableModelsAreNamed()
    {
        using var model = Mlp();
        Assert.Contains("[0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() => Pruning.Magnitude(model, 1.0)).Message);
        using var flat = new Sequential(new Flatten());
        Assert.Contains("no channel groups", Assert.Throws<ArgumentException>(() => Pruning.Channels(flat, 0.5)).Message);
    }
}

public class PruneJobTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PruneJobReportsAndFineTunesAPrunedModel(bool structured)
    {
        if (!Directory.Exists(Data.ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        var dir = Directory.CreateTempSubdirectory("prunejob").FullName;
        var train = new TrainConfig { Model = "mlp", Epochs = 1, BatchSize = 64, Lr = 0.05, TrainLimit = 2048, TestLimit = 500, Out = Path.Combine(dir, "run"), Threads = 2, Augment = false };
        new Trainer(train, (c, ch, k) => ModelRegistry.Create(c.Model, new ModelOptions(k, ch, 28, new Generator(c.Seed))), TextWriter.Null).Run(TestContext.Current.CancellationToken);
        var r = PruneJob.Run(new PruneOptions
        {
            Checkpoint = Path.Combine(dir, "run", "best.safetensors"), Out = Path.Combine(dir, "pruned"), Amount = 0.7, Structured = structured,
            FinetuneEpochs = 1, TrainLimit = 2048, TestLimit = 500, Threads = 2,
        }, TextWriter.Null, TestContext.Current.CancellationToken);
        Assert.True(r.Original.Accuracy > 0.6, $"original accuracy {r.Original.Accuracy}");
        if (structured)
        {
            Assert.True(r.Pruned.Parameters < r.Original.Parameters * 0.35, $"{r.Pruned.Parameters} of {r.Original.Parameters} parameters left");
            Assert.True(r.Pruned.FileBytes < r.Original.FileBytes * 0.4, "the pruned file should shrink with the model");
        }
        else
        {
            Assert.Equal(r.Original.Parameters, r.Pruned.Parameters);
            Assert.InRange(r.FineTuned.NonZeroWeights, 0, (long)(r.Original.NonZeroWeights * 0.31));
        }
        Assert.True(r.FineTuned.Accuracy > 0.6, $"fine-tuned accuracy {r.FineTuned.Accuracy}");
        Assert.True(File.Exists(Path.Combine(dir, "pruned", "prune_report.json")));
        using var reloaded = Checkpoint.CreateFromFile(Path.Combine(dir, "pruned", "pruned-finetuned.safetensors"), new ModelOptions(10, 1, 28));
        Assert.Equal(r.FineTuned.Parameters, reloaded.ParameterCount());
        Directory.Delete(dir, true);
    }
}
