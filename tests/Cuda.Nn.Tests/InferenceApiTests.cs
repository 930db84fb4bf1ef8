// The inference API a product embeds (InferenceModel): every way in to a prediction (file, stream, decoded pixels,
// ReadInputs) prepares the same floats; Predict from several threads at once gives what one thread gives; cancellation,
// disposal and wrong inputs are clear errors.
using Cuda.Nn.Inference;
using Cuda.Nn.Plot;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public class InferenceApiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cudann-inference-api").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A resnet20 on 3x32x32 with non-trivial weights, saved as a checkpoint naming 4 classes' worth of weights.</summary>
    private InferenceModel Model()
    {
        var path = Path.Combine(_dir, "model.safetensors");
        if (!File.Exists(path))
            using (var trained = OnnxTestModels.Create("resnet20", [3, 32, 32], 4))
                Checkpoint.SaveModel(path, trained, new Dictionary<string, string> { ["model"] = "resnet20" });
        return InferenceModel.Load(path, new InferenceOptions(Size: 32));
    }

    private static byte[] Rgb(int w, int h, int seed)
    {
        var rgb = new byte[w * h * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)((i * (5 + seed) + i / (3 * w) * 11) % 256);
        return rgb;
    }

    [Fact]
    public void FileStreamPixelsAndReadInputsPrepareTheSameFloats()
    {
        using var model = Model();
        var rgb = Rgb(45, 37, 1);
        var png = Path.Combine(_dir, "photo.png");
        File.WriteAllBytes(png, Png.Encode(rgb, 45, 37));
        var fromFile = model.PrepareImage(png);
        InferenceInput fromStream;
        using (var stream = File.OpenRead(png)) fromStream = model.PrepareImage(stream, "upload");
        var fromPixels = model.PreparePixels(rgb, 45, 37, 3);
        var fromReadInputs = model.ReadInputs(png).Single();
        Assert.Equal(3 * 32 * 32, fromFile.Pixels.Length);
        Assert.Equal(fromReadInputs.Pixels, fromFile.Pixels);
        Assert.Equal(fromFile.Pixels, fromStream.Pixels);
        Assert.Equal(fromFile.Pixels, fromPixels.Pixels);
        Assert.Equal("upload", fromStream.Name);
        // A grey buffer feeds the colour model as three equal channels, as a grey file does.
        var grey = new byte[45 * 37];
        for (int i = 0; i < grey.Length; i++) grey[i] = rgb[3 * i];
        var g = model.PreparePixels(grey, 45, 37, 1).Pixels;
        Assert.Equal(g.AsSpan(0, 1024).ToArray(), g.AsSpan(2048, 1024).ToArray());
        Assert.Equal(model.Predict(fromFile, top: 4).Select(p => p.Index), model.Predict([fromPixels], top: 4, cancel: TestContext.Current.CancellationToken)[0].Select(p => p.Index));
    }

    [Fact]
    public void PredictFromSeveralThreadsAtOnceGivesWhatOneThreadGives()
    {
        using var model = Model();
        var inputs = Enumerable.Range(0, 8).Select(s => model.PreparePixels(Rgb(32 + s, 32, s), 32 + s, 32, 3, $"image {s}")).ToList();
        // What thread t asks for: one image at a time or batches of 3, each thread in its own order. (A batch may run
        // other kernels than single images, so each call is compared with the same call made alone.)
        Prediction[][] Call(int t) => t % 2 == 0
            ? inputs.Select((_, i) => model.Predict(inputs[(i + t) % 8], top: 4)).ToArray()
            : model.Predict([.. inputs.Skip(t).Concat(inputs.Take(t))], top: 4, batchSize: 3, cancel: TestContext.Current.CancellationToken).ToArray();
        var alone = Enumerable.Range(0, 8).Select(Call).ToArray();
        var together = new Prediction[8][][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = TestContext.Current.CancellationToken }, t => together[t] = Call(t));
        for (int t = 0; t < 8; t++)
            for (int i = 0; i < 8; i++)
                Assert.Equal(alone[t][i], together[t][i]);
    }

    [Fact]
    public void CancellationDisposalAndWrongInputsAreClearErrors()
    {
        var model = Model();
        var x = model.PreparePixels(Rgb(32, 32, 3), 32, 32, 3);
        using (var cts = new CancellationTokenSource())
        {
            cts.Cancel();
            Assert.Throws<OperationCanceledException>(() => model.Predict([x], cancel: cts.Token));
        }
        var shortInput = new InferenceInput("cropped", new float[100], null);
        var wrong = Assert.Throws<ArgumentException>(() => model.Predict(shortInput));
        Assert.Contains("input 0 ('cropped') has 100 values; the model takes [3, 32, 32] = 3072", wrong.Message);
        var badBuffer = Assert.Throws<ArgumentException>(() => model.PreparePixels(new byte[10], 4, 4, 3, "camera"));
        Assert.Contains("camera: 10 bytes do not make a 4x4 image of 3 channel(s)", badBuffer.Message);
        var notImage = Assert.Throws<InvalidDataException>(() => model.PrepareImage(new MemoryStream([1, 2, 3, 4]), "upload"));
        Assert.StartsWith("upload: ", notImage.Message);
        model.Dispose();
        model.Dispose(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => model.Predict(x));
    }
}
