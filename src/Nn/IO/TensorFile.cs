// Tensors to and from safetensors files (state dicts, checkpoints), on top of the format layer in this folder.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.IO;

public static class TensorFile
{
    /// <summary>Writes named tensors (any dtype, any device, any layout) atomically.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensorsWriter.Write(path, Items(tensors), metadata);

    public static byte[] ToBytes(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        SafeTensorsWriter.ToBytes(Items(tensors), metadata);

    /// <summary>SHA-256 (hex) over the tensors in name order: each name, dtype, shape and raw bytes. Two runs that
    /// end with this hash ended with the same bits (report.json's weights_sha256).</summary>
    public static string Sha256(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        using var h = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var item in Items(tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal)))
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"{item.Name}|{item.DType}|{string.Join(",", item.Shape)}|"));
            h.AppendData(item.Data.Span);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    private static IEnumerable<SafeTensorsWriter.Item> Items(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        foreach (var (name, t) in tensors)
        {
            using var cpu = t.Device == Device.Cpu ? t.Contiguous() : t.MoveTo(Device.Cpu);
            var bytes = new byte[(long)cpu.Numel * cpu.DType.SizeOf()];
            CopyOut(cpu, bytes);
            yield return new SafeTensorsWriter.Item(name, t.DType, t.Shape, bytes);
        }
    }

    private static unsafe void CopyOut(Tensor contiguous, byte[] dst)
    {
        var s = (CpuStorage)contiguous.Storage;
        new ReadOnlySpan<byte>(s.Pointer + (long)contiguous.Layout.Offset * contiguous.DType.SizeOf(), dst.Length).CopyTo(dst);
    }

    /// <summary>Reads every tensor into new CPU tensors (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> Load(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        using var f = SafeTensorsFile.Open(path);
        metadata = f.Metadata;
        var d = new Dictionary<string, Tensor>();
        foreach (var e in f.Entries) d[e.Name] = ToTensor(f, e.Name, e.DType, e.Shape);
        return d;
    }

    public static Dictionary<string, Tensor> Load(string path) => Load(path, out _);

    internal static unsafe Tensor ToTensor(SafeTensorsFile f, string name, DType dtype, int[] shape)
    {
        var t = DisposeScope.Detach(Tensor.Empty(shape, dtype));
        var bytes = f.GetBytes(name);
        var s = (CpuStorage)t.Storage;
        bytes.CopyTo(new Span<byte>(s.Pointer, bytes.Length));
        return t;
    }
}
