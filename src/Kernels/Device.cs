// Where a tensor's storage lives.
namespace Cuda.Nn.Kernels;

public enum DeviceKind : byte
{
    Cpu,
    Cuda,
}

/// <summary>A device: the CPU, or CUDA device N.</summary>
public readonly record struct Device(DeviceKind Kind, int Index = 0)
{
    public static readonly Device Cpu = new(DeviceKind.Cpu);
    public static Device Cuda(int index = 0) => new(DeviceKind.Cuda, index);

    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : $"cuda:{Index}";

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda") return Cuda();
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out int i) && i >= 0) return Cuda(i);
        throw new FormatException($"unknown device '{text}': expected 'cpu', 'cuda' or 'cuda:N'");
    }
}
