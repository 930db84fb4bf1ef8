// Opens any dataset kind by what the path holds: a folder of IDX files, a CIFAR binary folder, a label list
// (.csv/.json) or a class-per-folder image tree (its "test" or "train" subfolder when present).
namespace Cuda.Nn.Data;

public static class AnyDataset
{
    /// <summary>Loads the test (or, when train is true, the train) split, images sized to the given shape for image files.</summary>
    public static ImageClassificationSet Load(string path, bool train, int channels, int height, int width, string[]? classNames = null)
    {
        string split = train ? "train" : "test";
        if (File.Exists(path))
            return ImageFolder.FromList(LabelList.Read(path), Options(channels, height, width), path).Set;
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"data path not found: {path}");
        if (Directory.EnumerateFiles(path, "*idx3-ubyte*").Any())
            return ImageClassificationSet.FromIdxDirectory(path, train, classNames);
        if (File.Exists(Path.Combine(path, "test_batch.bin")) || File.Exists(Path.Combine(path, "test.bin")))
            return Cifar.FromDirectory(path, train);
        var sub = Path.Combine(path, split);
        return ImageFolder.Load(Directory.Exists(sub) ? sub : path, Options(channels, height, width)).Set;
    }

    private static ImageLoadOptions Options(int channels, int height, int width) =>
        new() { Width = width, Height = height, Grayscale = channels == 1 };
}
