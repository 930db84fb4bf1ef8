// Embedding Cuda.Nn in an app: make a small class-per-folder photo set, train on it for two steps, save the model,
// then load it the way a product would and classify one photo. Usage: Embedding WORK_FOLDER [MODEL [SIZE]]
// (default: the MLP at 16 px; scripts/aot-vs-ort.sh trains resnet18 at 64 px for a model of realistic cost).
using Cuda.Nn.Inference;
using Cuda.Nn.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

string work = args.Length > 0 ? args[0] : Directory.CreateTempSubdirectory("cudann-embedding").FullName;
string photos = Path.Combine(work, "photos"), run = Path.Combine(work, "run");
string modelName = args.Length > 1 ? args[1] : "mlp";
int size = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0; // 0: the photos' own

// Two classes of 16x16 photos: reddish and bluish, with noise. train/ holds 8 of each, test/ 4.
var rng = new Random(1);
foreach (var (split, count) in new[] { ("train", 8), ("test", 4) })
    foreach (var (name, red) in new[] { ("red", true), ("blue", false) })
    {
        var dir = Directory.CreateDirectory(Path.Combine(photos, split, name)).FullName;
        for (int i = 0; i < count; i++)
        {
            using var image = new Image<Rgb24>(16, 16);
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++)
                {
                    byte hi = (byte)rng.Next(150, 256), lo = (byte)rng.Next(0, 100);
                    image[x, y] = red ? new Rgb24(hi, lo, lo) : new Rgb24(lo, lo, hi);
                }
            image.SaveAsPng(Path.Combine(dir, $"{i}.png"));
        }
    }

// 16 training photos at batch 8: two SGD steps. Trainer writes the run folder (best.safetensors, report.json, ...).
var config = new TrainConfig { Data = photos, Model = modelName, ImageSize = size, Epochs = 1, BatchSize = 8, Lr = 0.05, Threads = 2, Workers = 0, Out = run, Seed = 7 };
var report = new Trainer(config).Run();
Console.WriteLine($"trained: {report.History.Count} epoch, test accuracy {report.TestAccuracy:P0}");

// A product loads the saved model once and predicts; the file carries class names and preprocessing.
using var model = InferenceModel.Load(Path.Combine(run, "best.safetensors"));
var photo = Path.Combine(photos, "test", "red", "0.png");
var top = model.Predict(model.ReadInputs(photo), top: 2)[0];
Console.WriteLine($"prediction for {Path.GetFileName(photo)}: {string.Join(", ", top.Select(p => $"{p.Class} {p.Probability:F4}"))}");

// The GPU pieces (ILGPU, the CUDA bindings) must cost a CPU-only app nothing at run time.
var loaded = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").Where(n => n.StartsWith("ILGPU", StringComparison.Ordinal)).ToList();
Console.WriteLine($"ILGPU assemblies loaded: {(loaded.Count == 0 ? "none" : string.Join(", ", loaded))}");
return loaded.Count == 0 && model.ClassNames.SequenceEqual(["blue", "red"]) ? 0 : 1;
