// The photo-folder workflow as a user runs it: the cudann command as a child process on a class-per-folder tree made
// from Fashion-MNIST. Every command reads the same classes and split, and eval, predict and the exported ONNX file
// (run in ONNX Runtime) reproduce training's preprocessing from what the model file stores.
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Cuda.Nn.Tests;

public class PhotoWorkflowTests
{
    [Fact]
    public void EveryCommandReadsTheTreeAlikeAndReproducesTrainingsPreprocessing()
    {
        ImageFixtures.FashionOrSkip();
        var work = Directory.CreateTempSubdirectory("photo-workflow").FullName;
        var tree = Path.Combine(work, "tree");
        var run = Path.Combine(work, "run");
        CudannProcess.Ok("images", "--out", tree, "--size", "32", "--train-limit", "400", "--test-limit", "120");
        var classes = Directory.GetDirectories(Path.Combine(tree, "train")).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(10, classes.Length);
        Assert.NotEmpty(Directory.GetFiles(tree, "*.jpg", SearchOption.AllDirectories));
        Assert.NotEmpty(Directory.GetFiles(tree, "*.png", SearchOption.AllDirectories));

        CudannProcess.Ok("train", "--data", tree, "--model", "mlp", "--epochs", "2", "--batch-size", "50", "--lr", "0.05", "--threads", "2", "--workers", "0", "--out", run);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var data = report.RootElement.GetProperty("data");
        Assert.Equal(classes, data.GetProperty("class_names").EnumerateArray().Select(e => e.GetString()).ToArray());
        Assert.Equal(400, data.GetProperty("train_samples").GetInt32());
        Assert.Equal(120, data.GetProperty("test_samples").GetInt32());
        using var split = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "split.json")));
        Assert.Equal(120, split.RootElement.GetProperty("test").GetArrayLength());
        double best = report.RootElement.GetProperty("best_test_accuracy").GetDouble();

        // eval: no data or preprocessing flags; the file says what it was trained on.
        var evalDir = Path.Combine(work, "eval");
        var evalOut = CudannProcess.Ok("eval", "--checkpoint", Path.Combine(run, "best.safetensors"), "--out", evalDir);
        Assert.Contains("120 images", evalOut);
        using var eval = JsonDocument.Parse(File.ReadAllText(Path.Combine(evalDir, "eval.json")));
        Assert.InRange(eval.RootElement.GetProperty("accuracy").GetDouble(), best - 1.0 / 120 - 1e-9, best + 1.0 / 120 + 1e-9);

        // export, then ONNX Runtime on the inputs predict prepares: the same top-1 class for every image.
        var onnx = Path.Combine(work, "model.onnx");
        CudannProcess.Ok("export", "--checkpoint", Path.Combine(run, "best.safetensors"), "--out", onnx);
        using var session = new InferenceSession(onnx);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal(classes, JsonSerializer.Deserialize<string[]>(meta["class_names"]));
        using var model = Inference.InferenceModel.Load(onnx);
        var inputs = model.ReadInputs(tree, limit: 30);
        Assert.Equal(30, inputs.Count);
        var ours = model.Predict(inputs, top: 1, cancel: TestContext.Current.CancellationToken);
        var predicted = JsonDocument.Parse(CudannProcess.Ok("predict", "--model", onnx, tree, "--json", "--limit", "30", "--top", "1")).RootElement;
        string inputName = session.InputMetadata.Keys.First();
        for (int i = 0; i < inputs.Count; i++)
        {
            Assert.Contains(inputs[i].Label, classes);
            var x = new DenseTensor<float>(inputs[i].Pixels, [1, 3, 32, 32]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, x)]);
            var logits = results.First().AsEnumerable<float>().ToArray();
            int ort = Array.IndexOf(logits, logits.Max());
            Assert.Equal(ort, ours[i][0].Index);
            Assert.Equal(classes[ort], predicted[i].GetProperty("predictions")[0].GetProperty("class").GetString());
            Assert.Equal(inputs[i].Label, predicted[i].GetProperty("label").GetString());
        }

        // dataset, audit and kfold see the same classes and split.
        var dataset = CudannProcess.Ok("dataset", tree);
        Assert.Contains("train: 400 images; test: 120 images", dataset);
        var audit = JsonDocument.Parse(CudannProcess.Ok("audit", tree, "--json")).RootElement;
        Assert.Contains("test", audit.ToString());
        var kfoldDir = Path.Combine(work, "kfold");
        CudannProcess.Ok("kfold", "--data", tree, "--folds", "2", "--model", "mlp", "--epochs", "1", "--threads", "2", "--workers", "0", "--out", kfoldDir);
        using var kfold = JsonDocument.Parse(File.ReadAllText(Path.Combine(kfoldDir, "kfold.json")));
        Assert.Equal(400, kfold.RootElement.GetProperty("results").EnumerateArray().Sum(r => r.GetProperty("eval_samples").GetInt32()));
        Directory.Delete(work, true);
    }

    [Fact]
    public void BadPhotoFoldersAreOneLineErrorsThatNameTheFileAndWriteNothing()
    {
        var root = Directory.CreateTempSubdirectory("photo-bad").FullName;
        DatasetResolverTests.WriteClasses(Path.Combine(root, "train"), ["a", "b"], 4);
        DatasetResolverTests.WriteClasses(Path.Combine(root, "test"), ["a", "c"], 2);
        var run = Path.Combine(root, "run");
        var (code, _, err) = CudannProcess.Run("train", "--data", root, "--model", "mlp", "--epochs", "1", "--out", run);
        Assert.Equal(1, code);
        Assert.StartsWith("cudann train: ", err);
        Assert.Contains("not in train: c", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(run), "a failed run wrote its folder");

        Directory.Delete(Path.Combine(root, "test"), true);
        DatasetResolverTests.WriteClasses(Path.Combine(root, "test"), ["a", "b"], 2);
        var bad = Path.Combine(root, "test", "b", "001.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 0, 16]);
        (code, _, err) = CudannProcess.Run("train", "--data", root, "--model", "mlp", "--epochs", "1", "--out", run);
        Assert.Equal(1, code);
        Assert.Contains(bad, err);
        Assert.False(Directory.Exists(run));
        (code, var o, err) = CudannProcess.Run("train", "--data", root, "--model", "mlp", "--epochs", "1", "--out", run, "--skip-bad", "true", "--threads", "1", "--workers", "0");
        Assert.True(code == 0, err);
        Assert.Contains("1 skipped", o);
        using (var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json"))))
            Assert.Contains(bad, report.RootElement.GetProperty("data").GetProperty("skipped").ToString());

        // A configured crop larger than the photos fails before training, naming the smallest photo.
        var config = Path.Combine(root, "crop.json");
        File.WriteAllText(config, """{"train_transforms": [{"name": "RandomCrop", "size": 48}, {"name": "ToTensor"}]}""");
        var run2 = Path.Combine(root, "run2");
        (code, _, err) = CudannProcess.Run("train", "--data", root, "--config", config, "--model", "mlp", "--size", "48", "--epochs", "1", "--out", run2, "--skip-bad", "true");
        Assert.Equal(1, code);
        Assert.Contains("too small for the train transforms", err);
        Assert.Contains(Path.Combine(root, "train"), err);
        Assert.False(Directory.Exists(run2));
        File.WriteAllText(config, """{"train_transforms": [{"name": "ColorJitter", "brightnes": 0.2}]}""");
        (code, _, err) = CudannProcess.Run("train", "--data", root, "--config", config, "--model", "mlp", "--epochs", "1", "--out", run2, "--skip-bad", "true");
        Assert.Equal(1, code);
        Assert.Contains("train_transforms[0] (ColorJitter): unknown parameter 'brightnes'", err);
        Assert.False(Directory.Exists(run2));
        Directory.Delete(root, true);
    }
}
