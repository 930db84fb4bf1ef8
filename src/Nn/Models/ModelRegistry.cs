// Create models by name ("resnet50", "vit_s_16", ...) with a class count and input channel count.
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

public sealed record ModelOptions(int NumClasses = 1000, int InChannels = 3, int ImageSize = 224, Generator? Generator = null);

public static class ModelRegistry
{
    private static readonly Dictionary<string, (string Description, Func<ModelOptions, Module> Create)> Models = new()
    {
        ["resnet18"] = ("ResNet-18 (torchvision)", o => ResNet.ResNet18(o.NumClasses, o.InChannels, o.Generator)),
        ["resnet34"] = ("ResNet-34 (torchvision)", o => ResNet.ResNet34(o.NumClasses, o.InChannels, o.Generator)),
        ["resnet50"] = ("ResNet-50 v1.5 (torchvision)", o => ResNet.ResNet50(o.NumClasses, o.InChannels, o.Generator)),
        ["resnet20"] = ("CIFAR-style ResNet-20 with projection shortcuts, for 28-32 px inputs", o => ResNet.ResNet20(o.NumClasses, o.InChannels, o.Generator)),
        ["mobilenet_v3_small"] = ("MobileNetV3-Small (torchvision)", o => MobileNetV3.SmallModel(o.NumClasses, o.InChannels, o.Generator)),
        ["efficientnet_b0"] = ("EfficientNet-B0 (torchvision)", o => EfficientNet.B(0, o.NumClasses, o.InChannels, o.Generator)),
        ["efficientnet_b1"] = ("EfficientNet-B1 (torchvision)", o => EfficientNet.B(1, o.NumClasses, o.InChannels, o.Generator)),
        ["efficientnet_b2"] = ("EfficientNet-B2 (torchvision)", o => EfficientNet.B(2, o.NumClasses, o.InChannels, o.Generator)),
        ["efficientnet_b3"] = ("EfficientNet-B3 (torchvision)", o => EfficientNet.B(3, o.NumClasses, o.InChannels, o.Generator)),
        ["vit_t_16"] = ("ViT-Tiny/16 (dim 192, 3 heads, 12 layers)", o => new VisionTransformer(o.ImageSize, 16, 12, 3, 192, 768, o.NumClasses, o.InChannels, generator: o.Generator)),
        ["vit_s_16"] = ("ViT-Small/16 (dim 384, 6 heads, 12 layers)", o => new VisionTransformer(o.ImageSize, 16, 12, 6, 384, 1536, o.NumClasses, o.InChannels, generator: o.Generator)),
        ["vit_b_16"] = ("ViT-Base/16 (torchvision)", o => new VisionTransformer(o.ImageSize, 16, 12, 12, 768, 3072, o.NumClasses, o.InChannels, generator: o.Generator)),
        ["vit_mini_4"] = ("a 4-layer ViT with 4x4 patches for 28-32 px inputs (dim 128, 4 heads)", o => new VisionTransformer(o.ImageSize, 4, 4, 4, 128, 256, o.NumClasses, o.InChannels, generator: o.Generator)),
        ["mlp"] = ("a two-layer perceptron on flattened pixels (hidden 256)", o => new Sequential(new Flatten(), new Linear(o.InChannels * o.ImageSize * o.ImageSize, 256, generator: o.Generator), Activation.ReLU(), new Linear(256, o.NumClasses, generator: o.Generator))),
    };

    public static IEnumerable<(string Name, string Description)> List() => Models.Select(kv => (kv.Key, kv.Value.Description)).OrderBy(x => x.Key);

    public static Module Create(string name, ModelOptions options)
    {
        if (!Models.TryGetValue(name, out var m))
            throw new ArgumentException($"unknown model '{name}'; available: {string.Join(", ", Models.Keys.Order())}");
        return m.Create(options);
    }
}
