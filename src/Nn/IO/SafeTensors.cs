// safetensors: 8-byte little-endian header length N, N bytes of JSON (name -> {dtype, shape, data_offsets},
// optional "__metadata__" of strings), then the data block. The reader validates the whole header before
// any tensor is touched, maps the file instead of reading it, and reports every defect as a
// SafeTensorsFormatException naming the source and the field; it never allocates what a header merely claims.
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.IO;

public sealed class SafeTensorsFormatException(string message, Exception? inner = null) : IOException(message, inner);

public sealed record SafeTensorsEntry(string Name, DType DType, int[] Shape, long DataOffset, long ByteLength)
{
    public long Numel => Shape.Aggregate(1L, (a, d) => a * d);
}

public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Headers beyond this size are refused (real ones are kilobytes).</summary>
    public const long MaxHeaderBytes = 100L << 20;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly ReadOnlyMemory<byte> _memory;
    private readonly long _length;
    private readonly Dictionary<string, SafeTensorsEntry> _byName;
    private bool _disposed;

    public string Source { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }

    private SafeTensorsFile(string source, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, ReadOnlyMemory<byte> memory, long length)
    {
        Source = source;
        _map = map;
        _view = view;
        _base = basePtr;
        _memory = memory;
        _length = length;
        try { (Entries, Metadata) = ParseHeader(); }
        catch (InvalidOperationException e)
        {
            // System.Text.Json reports invalid UTF-8 inside names and strings only when they are read.
            throw new SafeTensorsFormatException($"{source}: header has invalid UTF-8 text ({e.Message})", e);
        }
        _byName = Entries.ToDictionary(e => e.Name);
    }

    /// <summary>Maps a file read-only and validates its header.</summary>
    public static SafeTensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        if (info.Length < 8) throw new SafeTensorsFormatException($"{path}: {info.Length} bytes is too short for a safetensors file (the 8-byte header length is missing)");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new SafeTensorsFile(path, map, view, p, default, info.Length);
        }
        catch
        {
            if (view is not null) { view.SafeMemoryMappedViewHandle.ReleasePointer(); view.Dispose(); }
            map.Dispose();
            throw;
        }
    }

    /// <summary>Validates and reads from memory (tests, fuzzing, embedded weights).</summary>
    public static SafeTensorsFile FromBytes(ReadOnlyMemory<byte> bytes, string sourceName)
    {
        if (bytes.Length < 8) throw new SafeTensorsFormatException($"{sourceName}: {bytes.Length} bytes is too short for a safetensors file (the 8-byte header length is missing)");
        return new SafeTensorsFile(sourceName, null, null, null, bytes, bytes.Length);
    }

    private ReadOnlySpan<byte> Span(long offset, long length)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(SafeTensorsFile), $"{Source} was closed");
        if (length > int.MaxValue) throw new SafeTensorsFormatException($"{Source}: a {length}-byte tensor is larger than one span can address");
        return _base != null ? new ReadOnlySpan<byte>(_base + offset, (int)length) : _memory.Span.Slice((int)offset, (int)length);
    }

    private (List<SafeTensorsEntry>, Dictionary<string, string>) ParseHeader()
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(Span(0, 8));
        if (n > (ulong)MaxHeaderBytes) throw new SafeTensorsFormatException($"{Source}: header length {n} exceeds the {MaxHeaderBytes}-byte limit");
        if ((long)n > _length - 8) throw new SafeTensorsFormatException($"{Source}: header length {n} runs past the end of the file ({_length} bytes): truncated or not safetensors");
        long dataStart = 8 + (long)n, dataLength = _length - dataStart;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(Span(8, (long)n).ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e) { throw new SafeTensorsFormatException($"{Source}: header is not valid JSON ({e.Message})", e); }
        catch (ArgumentException e) { throw new SafeTensorsFormatException($"{Source}: header is not valid UTF-8 JSON ({e.Message})", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{Source}: header is a JSON {doc.RootElement.ValueKind}, not an object");
            var entries = new List<SafeTensorsEntry>();
            var meta = new Dictionary<string, string>();
            var names = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw new SafeTensorsFormatException($"{Source}: tensor '{prop.Name}' appears twice in the header");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{Source}: __metadata__ must be an object of strings");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new SafeTensorsFormatException($"{Source}: __metadata__ value '{m.Name}' is a {m.Value.ValueKind}, not a string");
                        meta[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, dataStart, dataLength));
            }
            // Tensors may leave gaps (some writers pad) but must not overlap.
            var sorted = entries.OrderBy(e => e.DataOffset).ToList();
            for (int i = 1; i < sorted.Count; i++)
            {
                var a = sorted[i - 1];
                var b = sorted[i];
                if (b.DataOffset < a.DataOffset + a.ByteLength)
                    throw new SafeTensorsFormatException($"{Source}: tensors '{a.Name}' and '{b.Name}' overlap in the data block");
            }
            return (entries, meta);
        }
    }

    private SafeTensorsEntry ParseEntry(JsonProperty prop, long dataStart, long dataLength)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{Source}: tensor '{name}' is a JSON {v.ValueKind}, not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has no string 'dtype'");
        var dtype = DTypeInfo.FromSafetensorsName(dt.GetString()!) ?? throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has unsupported dtype '{dt.GetString()}'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has no 'shape' array");
        var shape = new int[sh.GetArrayLength()];
        if (shape.Length > 16) throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has {shape.Length} dimensions (at most 16 are supported)");
        long numel = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue)
                throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has an invalid dimension {d.GetRawText()} in its shape");
            shape[i++] = (int)dim;
            numel *= dim;
            if (numel > int.MaxValue) throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has more than 2^31-1 elements");
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException($"{Source}: tensor '{name}' needs 'data_offsets' as [begin, end]");
        var o = off.EnumerateArray().ToArray();
        if (o[0].ValueKind != JsonValueKind.Number || o[1].ValueKind != JsonValueKind.Number || !o[0].TryGetInt64(out long begin) || !o[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has invalid data_offsets {off.GetRawText()}");
        if (end > dataLength) throw new SafeTensorsFormatException($"{Source}: tensor '{name}' ends at byte {end} of a {dataLength}-byte data block: the file is truncated");
        long expected = numel * dtype.SizeOf();
        if (end - begin != expected)
            throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has {end - begin} data bytes but {dtype} shape {Layout.ShapeString(shape)} needs {expected}");
        foreach (var p in v.EnumerateObject())
            if (p.Name is not ("dtype" or "shape" or "data_offsets"))
                throw new SafeTensorsFormatException($"{Source}: tensor '{name}' has an unknown field '{p.Name}'");
        return new SafeTensorsEntry(name, dtype, shape, dataStart + begin, end - begin);
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorsEntry this[string name] =>
        _byName.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Source} has no tensor named '{name}'");

    /// <summary>The raw little-endian bytes of a tensor, without copying (valid until Dispose).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var e = this[name];
        return Span(e.DataOffset, e.ByteLength);
    }

    public T[] ReadArray<T>(string name) where T : unmanaged
    {
        var e = this[name];
        if (sizeof(T) != e.DType.SizeOf()) throw new InvalidOperationException($"{Source}: tensor '{name}' is {e.DType}; it cannot be read as {typeof(T).Name}");
        var r = new T[e.Numel];
        GetBytes(name).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(r.AsSpan()));
        return r;
    }

    /// <summary>Any dtype converted to float.</summary>
    public float[] ReadAsFloat32(string name)
    {
        var e = this[name];
        var src = GetBytes(name);
        var r = new float[e.Numel];
        fixed (byte* s = src)
        fixed (float* d = r)
        {
            if (r.Length > 0) Kernels.Cpu.CpuCopy.Convert(e.DType, s, DType.F32, (byte*)d, r.Length);
        }
        return r;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

public static class SafeTensorsWriter
{
    public sealed record Item(string Name, DType DType, int[] Shape, ReadOnlyMemory<byte> Data);

    /// <summary>Writes atomically (temporary file, flush, rename): an interruption leaves any previous file intact.</summary>
    public static void Write(string path, IEnumerable<Item> items, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var bytes = ToBytes(items, metadata, path);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>Header in the given order (padded with spaces to 8 bytes); data widest dtype first with no gaps.</summary>
    public static byte[] ToBytes(IEnumerable<Item> items, IReadOnlyDictionary<string, string>? metadata = null) => ToBytes(items, metadata, "safetensors output");

    private static byte[] ToBytes(IEnumerable<Item> items, IReadOnlyDictionary<string, string>? metadata, string target)
    {
        var list = items.ToList();
        var names = new HashSet<string>();
        // Data block: widest elements first (stable), no gaps, so every tensor starts aligned to its own
        // element size and readers that require a gap-free block (Hugging Face's) accept the file.
        var dataOrder = list.Select((it, i) => (it, i)).OrderByDescending(p => p.it.DType.SizeOf()).ThenBy(p => p.i).Select(p => p.it).ToList();
        var offsets = new Dictionary<Item, long>(ReferenceEqualityComparer.Instance);
        long next = 0;
        foreach (var it in dataOrder) { offsets[it] = next; next += it.Data.Length; }
        using var header = new MemoryStream();
        using (var w = new Utf8JsonWriter(header))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            foreach (var it in list)
            {
                if (it.Name == "__metadata__" || !names.Add(it.Name)) throw new ArgumentException($"{target}: duplicate or reserved tensor name '{it.Name}'");
                long numel = it.Shape.Aggregate(1L, (a, d) => d < 0 ? throw new ArgumentException($"{target}: tensor '{it.Name}' has a negative dimension") : a * d);
                if (numel * it.DType.SizeOf() != it.Data.Length)
                    throw new ArgumentException($"{target}: tensor '{it.Name}' has {it.Data.Length} bytes but {it.DType} shape {Layout.ShapeString(it.Shape)} needs {numel * it.DType.SizeOf()}");
                long offset = offsets[it];
                w.WriteStartObject(it.Name);
                w.WriteString("dtype", it.DType.SafetensorsName());
                w.WriteStartArray("shape");
                foreach (var d in it.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + it.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');
        using var output = new MemoryStream();
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
        output.Write(len);
        header.Position = 0;
        header.CopyTo(output);
        foreach (var it in dataOrder) output.Write(it.Data.Span);
        return output.ToArray();
    }
}
