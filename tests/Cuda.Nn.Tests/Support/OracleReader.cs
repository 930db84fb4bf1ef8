// Minimal test-only safetensors reader (8-byte LE header length, JSON header, raw LE data), used until the
// library's Cuda.Nn.IO.SafeTensorsFile is available on this branch.
using System.Text.Json;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Tests.Support;

internal sealed class OracleReader : IDisposable
{
    private sealed record Entry(string DType, int[] Shape, long Begin, long End);

    private readonly byte[] _data;
    private readonly long _dataStart;
    private readonly Dictionary<string, Entry> _entries = new();

    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IEnumerable<string> Names => _entries.Keys;

    private OracleReader(string path)
    {
        _data = File.ReadAllBytes(path);
        if (_data.Length < 8) throw new InvalidDataException($"{path}: shorter than the 8-byte header length");
        long n = BitConverter.ToInt64(_data, 0);
        if (n <= 0 || 8 + n > _data.Length) throw new InvalidDataException($"{path}: header length {n} does not fit the file ({_data.Length} bytes)");
        _dataStart = 8 + n;
        using var doc = JsonDocument.Parse(_data.AsMemory(8, (int)n));
        var meta = new Dictionary<string, string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString() ?? "";
                continue;
            }
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offs = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offs.Length != 2 || offs[0] > offs[1] || _dataStart + offs[1] > _data.Length)
                throw new InvalidDataException($"{path}: tensor {p.Name} has data offsets [{string.Join(",", offs)}] outside the data block");
            _entries[p.Name] = new Entry(p.Value.GetProperty("dtype").GetString()!, shape, offs[0], offs[1]);
        }
        Metadata = meta;
    }

    public static OracleReader Open(string path) => new(path);

    public bool Contains(string name) => _entries.ContainsKey(name);

    public Tensor Load(string name)
    {
        var e = _entries[name];
        var dtype = DTypeInfo.FromSafetensorsName(e.DType) ?? throw new NotSupportedException($"tensor {name}: dtype {e.DType}");
        long count = 1;
        foreach (var d in e.Shape) count *= d;
        if ((e.End - e.Begin) != count * dtype.SizeOf())
            throw new InvalidDataException($"tensor {name}: {e.End - e.Begin} bytes for {count} elements of {e.DType}");
        var bytes = _data.AsSpan((int)(_dataStart + e.Begin), (int)(e.End - e.Begin));
        return dtype switch
        {
            DType.F32 => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray(), e.Shape),
            DType.F64 => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes).ToArray(), e.Shape),
            DType.F16 => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes).ToArray(), e.Shape),
            DType.I64 => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(bytes).ToArray(), e.Shape),
            DType.I32 => Tensor.FromArray(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(bytes).ToArray(), e.Shape),
            _ => throw new NotSupportedException($"tensor {name}: dtype {e.DType}"),
        };
    }

    public void Dispose() { }
}
