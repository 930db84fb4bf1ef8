// Int8 inference: the GEMM's integers against a plain loop (VPDPBUSD and scalar paths), batch-norm folding
// that leaves the function unchanged, int8 conv/linear close to float, and trained nets losing under a point.
using Cuda.Nn.Autograd;
using Cuda.Nn.Compression;
using Cuda.Nn.Data;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Tests.Support;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

[Collection("Int8GemmPath")]
public class QuantizationTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 17, 9)]
    [InlineData(33, 64, 147)]
    [InlineData(130, 10, 256)]
    public void Int8GemmEqualsThePlainIntegerProduct(int m, int n, int k)
    {
        var rng = new Random(m * 1000 + n * 10 + k);
        int lda = (k + 3) & ~3;
        var a = new byte[m * lda];
        for (int r = 0; r < m; r++) for (int i = 0; i < lda; i++) a[r * lda + i] = (byte)rng.Next(256); // padding too: it must not count
        var w = new sbyte[n * k];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)rng.Next(-127, 128);
        var expected = new int[m * n];
        for (int r = 0; r < m; r++) for (int o = 0; o < n; o++) for (int i = 0; i < k; i++) expected[r * n + o] += a[r * lda + i] * w[o * k + i];
        var packed = new PackedInt8Weights(w, n, k);
        foreach (bool scalar in new[] { false, true })
        {
            using (CpuKernelOptions.Use(CpuKernelOptions.Current with { Int8ForceScalar = scalar }))
            {
                var c = new int[m * n];
                Int8Gemm.Multiply(a, m, lda, packed, c);
                Assert.Equal(expected, c);
            }
        }
    }

    [Fact]
    public void FoldingBatchNormsLeavesResNet20Unchanged()
    {
        using var model = ResNet.ResNet20(10, 1, new Generator(4));
        // Non-trivial running statistics, as after training.
        using (AutogradMode.NoGrad())
        using (var s = new DisposeScope())
        {
            model.Train();
            for (int i = 0; i < 3; i++) model.Forward(Tensor.Randn([8, 1, 28, 28], new Generator((ulong)i)));
        }
        model.Eval();
        using var scope = new DisposeScope();
        var x = Tensor.Randn([2, 1, 28, 28], new Generator(9));
        Tensor before, after;
        using (AutogradMode.NoGrad()) before = model.Forward(x);
        Assert.Equal(21, Quantization.FoldBatchNorms(model)); // stem + 2 per block x 9 + 2 downsamples
        using (AutogradMode.NoGrad()) after = model.Forward(x);
        TensorAssert.AssertClose(after, before, 1e-4, 1e-4, "logits after folding");
        Assert.Throws<InvalidOperationException>(() => { model.Train(); using var s2 = new DisposeScope(); model.Forward(x); });
    }

    [Fact]
    public void Int8ConvAndLinearStayCloseToFloat()
    {
        using var net = new Sequential(new Conv2d(3, 8, 3, 2, 1, generator: new Generator(1)), Activation.ReLU(), new Flatten(), new Linear(8 * 5 * 6, 4, generator: new Generator(2)));
        net.Eval();
        using var scope = new DisposeScope();
        var x = Tensor.Randn([3, 3, 9, 11], new Generator(3));
        Tensor reference;
        using (AutogradMode.NoGrad()) reference = net.Forward(x);
        var summary = Quantization.QuantizeStatic(net, [x]);
        Assert.Equal((1, 1), (summary.Int8Convs, summary.Int8Linears));
        Tensor q;
        using (AutogradMode.NoGrad()) q = net.Forward(x);
        TensorAssert.AssertRelNorm(q, reference, 0.03, "int8 output against float");
    }

    [Fact]
    public void QdqExportRunsInOnnxRuntimeAndMatchesTheInt8Forward()
    {
        using var net = SmallCnn(new TrainConfig(), 1, 10);
        using (AutogradMode.NoGrad())
        using (var s = new DisposeScope())
            for (int i = 0; i < 3; i++) net.Forward(Tensor.Randn([8, 1, 28, 28], new Generator((ulong)i))); // running statistics
        net.Eval();
        using var scope = new DisposeScope();
        var calibration = Tensor.Randn([16, 1, 28, 28], new Generator(20));
        Quantization.QuantizeStatic(net, [calibration]);
        var path = Path.Combine(Path.GetTempPath(), $"cudann-qdq-{Guid.NewGuid():N}.onnx");
        try
        {
            Onnx.OnnxExporter.Export(net, [1, 28, 28], path);
            var model = Onnx.Proto.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var ops = model.Graph.Node.Select(n => n.OpType).ToList();
            Assert.Contains("QuantizeLinear", ops);
            Assert.Contains("DynamicQuantizeLinear", ops);
            Assert.DoesNotContain("BatchNormalization", ops);
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { LogSeverityLevel = Microsoft.ML.OnnxRuntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path, options);
            var x = Tensor.Randn([3, 1, 28, 28], new Generator(21));
            Tensor ours;
            using (AutogradMode.NoGrad()) ours = net.Forward(x);
            var ort = OnnxTestModels.RunOrt(session, x);
            Assert.True(OnnxTestModels.MaxAbsDiff(ort, ours) <= 1e-3, $"max |ORT - ours| = {OnnxTestModels.MaxAbsDiff(ort, ours):E3}");
        }
        finally { File.Delete(path); }
    }

    private static Module SmallCnn(TrainConfig c, int channels, int classes) => new Sequential(
        new Conv2d(channels, 16, 3, 1, 1, bias: false, generator: new Generator(c.Seed)), new BatchNorm2d(16), Activation.ReLU(), new MaxPool2d(2),
        new Conv2d(16, 32, 3, 1, 1, bias: false, generator: new Generator(c.Seed + 1)), new BatchNorm2d(32), Activation.ReLU(), new MaxPool2d(2),
        new Flatten(), new Linear(32 * 7 * 7, classes, generator: new Generator(c.Seed + 2)));

    [Fact]
    public void StaticInt8LosesUnderAPointOnFashionMnist()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir)) Assert.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        var dir = Directory.CreateTempSubdirectory("quant").FullName;
        var cfg = new TrainConfig { Epochs = 2, BatchSize = 64, Lr = 0.1, TrainLimit = 6000, TestLimit = 1000, Out = dir, Threads = 2, Augment = false };
        new Trainer(cfg, SmallCnn, TextWriter.Null).Run(TestContext.Current.CancellationToken);
        using var model = SmallCnn(cfg, 1, 10);
        Checkpoint.LoadModel(Path.Combine(dir, "best.safetensors"), model);
        var test = ImageClassificationSet.FromIdxDirectory(ImageClassificationSet.DefaultFashionMnistDir, train: false, ImageClassificationSet.FashionMnistClasses);
        var normalize = new Normalize(Trainer.FashionMnistMean, Trainer.FashionMnistStd);
        var loader = new DataLoader(test, 250, shuffle: false, normalize, subset: Enumerable.Range(0, 1000).ToArray());
        double floatAcc = Metrics.Evaluation.Run(model, loader, test.ClassNames, TestContext.Current.CancellationToken).Accuracy;
        // Calibrate on training images, never on the test set.
        var train = ImageClassificationSet.FromIdxDirectory(ImageClassificationSet.DefaultFashionMnistDir, train: true);
        var calibration = new DataLoader(train, 128, shuffle: false, normalize, subset: Enumerable.Range(10000, 512).ToArray()).Epoch(0, TestContext.Current.CancellationToken).ToList();
        Quantization.QuantizeStatic(model, calibration.Select(b => b.Images));
        calibration.ForEach(b => b.Dispose());
        double int8Acc = Metrics.Evaluation.Run(model, loader, test.ClassNames, TestContext.Current.CancellationToken).Accuracy;
        Assert.True(floatAcc > 0.75, $"float accuracy {floatAcc}");
        Assert.True(int8Acc >= floatAcc - 0.01, $"int8 accuracy {int8Acc:P2} is more than a point under float {floatAcc:P2}");
        Directory.Delete(dir, true);
    }
}

[CollectionDefinition("Int8GemmPath", DisableParallelization = true)]
public sealed class Int8GemmPathCollection;
