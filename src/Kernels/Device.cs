// Where a tensor's storage lives.
namespace Cuda.Nn.Kernels;

public enum DeviceKind : byte
{
    Cpu,
    Cuda,
    /// <summary>An ILGPU accelerator (its CPU emulator or a GPU through ILGPU).</summary>
    Ilgpu,
}

/// <summary>A device: the CPU, or CUDA device N.</summary>
public readonly record struct Device(DeviceKind Kind, int Index = 0)
{
    public static readonly Device Cpu = new(DeviceKind.Cpu);
    public static Device Cuda(int index = 0) => new(DeviceKind.Cuda, index);

    public static Device Ilgpu(int index = 0) => new(DeviceKind.Ilgpu, index);

    public override string ToString() => Kind switch
    {
        DeviceKind.Cpu => "cpu",
        DeviceKind.Ilgpu => $"ilgpu:{Index}",
        _ => $"cuda:{Index}",
    };

    /// <summary>Parses "cpu", "cuda", "cuda:N", "ilgpu" or "ilgpu:N".</summary>
    public static Device Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda") return Cuda();
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int i) && i >= 0) return Cuda(i);
        if (t == "ilgpu") return Ilgpu();
        if (t.StartsWith("ilgpu:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(6), out int j) && j >= 0) return Ilgpu(j);
        throw new FormatException($"unknown device '{text}': expected 'cpu', 'cuda', 'cuda:N', 'ilgpu' or 'ilgpu:N'");
    }
}
