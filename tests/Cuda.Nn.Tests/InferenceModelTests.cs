using Cuda.Nn.Data;
using Cuda.Nn.Inference;
using Cuda.Nn.Onnx;
using Cuda.Nn.Plot;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

/// <summary>What cudann export / predict do: checkpoint -> model with shape and class names -> ONNX -> same predictions.</summary>
public class InferenceModelTests
{
    [Fact]
    public void CheckpointAndItsOnnxExportPredictTheSame()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"cudann-infer-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(dir, "images", "sub"));
        try
        {
            using (var trained = OnnxTestModels.Create("resnet20", [1, 28, 28], 10))
                Checkpoint.SaveModel(Path.Combine(dir, "best.safetensors"), trained, new Dictionary<string, string> { ["model"] = "resnet20", ["config"] = new TrainConfig().ToJson() });
            // Two images of other sizes, one gray-looking and one colourful: predict resizes and converts them.
            File.WriteAllBytes(Path.Combine(dir, "images", "a.png"), Png.Encode(Pixels(40, 30, 1), 40, 30));
            File.WriteAllBytes(Path.Combine(dir, "images", "sub", "b.png"), Png.Encode(Pixels(64, 64, 2), 64, 64));

            using var fromCheckpoint = InferenceModel.Load(Path.Combine(dir, "best.safetensors"));
            Assert.Equal("resnet20", fromCheckpoint.Name);
            Assert.Equal([1, 28, 28], fromCheckpoint.InputShape);
            Assert.Equal(ImageClassificationSet.FashionMnistClasses, fromCheckpoint.ClassNames);

            var onnx = Path.Combine(dir, "model.onnx");
            OnnxExporter.Export(fromCheckpoint.Model, fromCheckpoint.InputShape, onnx, fromCheckpoint.Metadata());
            using var fromOnnx = InferenceModel.Load(onnx);
            Assert.Equal("resnet20", fromOnnx.Name);
            Assert.Equal(fromCheckpoint.InputShape, fromOnnx.InputShape);
            Assert.Equal(fromCheckpoint.ClassNames, fromOnnx.ClassNames);
            Assert.Equal(fromCheckpoint.Mean, fromOnnx.Mean);
            // Both predict through a compiled plan: every conv of resnet20 fused (its batch norm folded already).
            Assert.Equal(21, fromCheckpoint.Plan!.Fusions.Convs);
            Assert.Equal(21, fromOnnx.Plan!.Fusions.Convs);

            var inputs = fromOnnx.ReadInputs(Path.Combine(dir, "images"));
            Assert.Equal(["a.png", "b.png"], inputs.Select(i => Path.GetFileName(i.Name)));
            var expected = fromCheckpoint.Predict(inputs, top: 3, cancel: TestContext.Current.CancellationToken);
            var actual = fromOnnx.Predict(inputs, top: 3, cancel: TestContext.Current.CancellationToken);
            for (int i = 0; i < inputs.Count; i++)
            {
                Assert.Equal(expected[i].Select(p => p.Index), actual[i].Select(p => p.Index));
                for (int k = 0; k < 3; k++) Assert.Equal(expected[i][k].Probability, actual[i][k].Probability, 1e-5);
            }
            Assert.True(actual[0][0].Probability >= actual[0][1].Probability);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void IdxFolderInputsCarryTheirLabels()
    {
        if (!Directory.Exists(ImageClassificationSet.DefaultFashionMnistDir))
            Assert.Skip($"Fashion-MNIST not installed at {ImageClassificationSet.DefaultFashionMnistDir}");
        var dir = Path.Combine(Path.GetTempPath(), $"cudann-infer-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            using (var trained = OnnxTestModels.Create("mlp", [1, 28, 28], 10))
                Checkpoint.SaveModel(Path.Combine(dir, "w.safetensors"), trained, new Dictionary<string, string> { ["model"] = "mlp", ["config"] = new TrainConfig().ToJson() });
            using var model = InferenceModel.Load(Path.Combine(dir, "w.safetensors"));
            Assert.Equal([1, 28, 28], model.InputShape); // from the first layer's 784 inputs
            var inputs = model.ReadInputs(ImageClassificationSet.DefaultFashionMnistDir, limit: 3);
            Assert.Equal(3, inputs.Count);
            Assert.Equal("Ankle boot", inputs[0].Label); // the first t10k image
            Assert.All(model.Predict(inputs, top: 10, cancel: TestContext.Current.CancellationToken), p => Assert.Equal(1.0, p.Sum(x => x.Probability), 1e-4));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static byte[] Pixels(int w, int h, int seed)
    {
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(y * w + x) * 3 + c] = (byte)((x * (7 + seed * c) + y * (3 + c)) % 256);
        return rgb;
    }
}
