// The production CUDA C kernels (native/cuda/*.cu and their headers), embedded in this assembly so the
// library can compile them with NVRTC for whatever GPU it finds, plus the list of kernels each file must
// export: launch code and the PTX tests read the same list.

namespace Cuda.Nn.Kernels.CudaNative;

public static class NativeKernelSources
{
    private const string ResourcePrefix = "cudann.native.";

    /// <summary>The storage dtypes each dtype-generic kernel is instantiated for (the entry-name suffix).</summary>
    public static readonly IReadOnlyList<string> DTypeSuffixes = ["f32", "f16", "bf16"];

    private static IEnumerable<string> PerDType(params string[] stems) =>
        stems.SelectMany(s => DTypeSuffixes.Select(d => $"{s}_{d}"));

    /// <summary>Every production kernel file and the extern "C" __global__ entries it must define.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Kernels = new Dictionary<string, IReadOnlyList<string>>
    {
        ["bias_act.cu"] = [.. PerDType("bias_act_forward", "bias_act_backward", "bias_grad")],
        ["softmax_xent.cu"] = [.. PerDType("softmax_forward", "softmax_backward", "cross_entropy_forward", "cross_entropy_backward")],
        ["layernorm.cu"] = [.. PerDType("layernorm_forward", "layernorm_backward", "layernorm_backward_params")],
        // Suffix = gradient dtype; parameters and optimizer state are F32.
        ["optim.cu"] = [.. PerDType("adam_step", "sgd_step")],
        ["amp.cu"] = [.. PerDType("unscale_check"), "update_scale"],
    };

    /// <summary>The text of an embedded kernel file or header (e.g. "softmax_xent.cu", "common.cuh").</summary>
    public static string Read(string fileName)
    {
        using var stream = typeof(NativeKernelSources).Assembly.GetManifestResourceStream(ResourcePrefix + fileName)
            ?? throw new FileNotFoundException($"CUDA source '{fileName}' is not embedded in {typeof(NativeKernelSources).Assembly.GetName().Name}; embedded: {string.Join(", ", EmbeddedFiles())}", fileName);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static IEnumerable<string> EmbeddedFiles() =>
        typeof(NativeKernelSources).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..]);

    /// <summary>Compiles an embedded kernel file to PTX (headers resolved from the embedded set).</summary>
    public static NvrtcResult Compile(NvrtcCompiler compiler, string fileName, string arch)
    {
        var source = Read(fileName);
        var headers = NvrtcCompiler.CollectHeaders(source, name => EmbeddedFiles().Contains(name) ? Read(name) : null);
        return compiler.CompileToPtx(source, fileName, arch, headers);
    }

}
