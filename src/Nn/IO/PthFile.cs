// PyTorch state dicts saved by torch.save (the zip format of torch >= 1.6): <name>/data.pkl is a pickle whose
// tensors name their storages by persistent id, <name>/data/<key> holds each storage's raw bytes,
// <name>/byteorder says little or big endian. The pickle goes through TorchPickle, which builds data only and
// refuses every global beyond tensors, OrderedDict and primitive types (torch.load(weights_only=True)'s rule).
// Tensors come back as new contiguous CPU tensors; every view is checked against its storage first.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.IO;

public static class PthFile
{
    /// <summary>Keys under which common checkpoint layouts keep the model's state dict, in the order tried.</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model_state_dict", "model", "module"];

    /// <summary>True when the bytes start like a zip archive (torch.save since 1.6) or a legacy torch.save file.</summary>
    public static bool LooksLikeTorchFile(ReadOnlySpan<byte> head) =>
        IsZip(head) || head.StartsWith((ReadOnlySpan<byte>)[0x80, 0x02, 0x8a, 0x0a]); // legacy: pickled magic number

    private static bool IsZip(ReadOnlySpan<byte> head) =>
        head.Length >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));

    /// <summary>Reads a state dict into new CPU tensors (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"PyTorch file not found: {path}", path);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Load(fs, path);
    }

    /// <summary>Reads a state dict from a stream; <paramref name="source"/> names it in errors.</summary>
    public static Dictionary<string, Tensor> Load(Stream stream, string source)
    {
        if (!stream.CanSeek)
        {
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        CheckSignature(stream, source);
        using var zip = Zip(source, "the zip directory", () => new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true));
        var reader = new ArchiveReader(zip, source, stream.Length);
        object? root = TorchPickle.Load(reader.ReadPickle(), source);
        var state = FindStateDict(root, source);
        return reader.Materialize(state);
    }

    private static void CheckSignature(Stream stream, string source)
    {
        Span<byte> head = stackalloc byte[4];
        long start = stream.Position;
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = start;
        if (IsZip(head[..n])) return;
        if (n >= 2 && head[0] == 0x80 && head[1] is >= 1 and <= 5)
            throw new InvalidDataException($"{source}: a legacy (torch < 1.6, not zip) torch.save file; re-save it with a current torch (torch.save(torch.load(f), new_f)) to load it here");
        throw new InvalidDataException($"{source}: not a PyTorch file (torch.save writes a zip archive; this {(n == 0 ? "file is empty" : "has no zip signature")})");
    }

    /// <summary>Runs a System.IO.Compression call, reporting its failures as this file's format errors.</summary>
    private static T Zip<T>(string source, string what, Func<T> f)
    {
        try { return f(); }
        catch (Exception e) when (e is InvalidDataException or IOException or NotSupportedException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: cannot read {what} ({e.Message})", e);
        }
    }

    // ---------- finding the state dict ----------

    private static List<KeyValuePair<string, TorchTensorRef>> FindStateDict(object? root, string source)
    {
        if (root is not PickleDict d)
            throw new InvalidDataException($"{source}: holds {TorchPickle.A(root)}, not a state dict (a dict of names to tensors)");
        string where = "";
        // Checkpoints wrap the state dict ({"epoch": ..., "state_dict": {...}}); follow at most a few levels.
        for (int depth = 0; depth < 3; depth++)
        {
            var inner = WrapperKeys.Select(k => (k, v: d.TryGet(k, out var v) ? v as PickleDict : null)).FirstOrDefault(p => p.v is not null);
            if (inner.v is null) break;
            d = inner.v;
            where += $" under '{inner.k}'";
        }
        var result = new List<KeyValuePair<string, TorchTensorRef>>(d.Count);
        foreach (var (k, v) in d.Entries)
        {
            if (k is not string name) throw new InvalidDataException($"{source}: the state dict{where} has a key of type {TorchPickle.TypeName(k)}, not str");
            if (v is not TorchTensorRef t) throw new InvalidDataException($"{source}: entry '{name}' of the state dict{where} is {TorchPickle.A(v)}, not a tensor");
            result.Add(new(name, t));
        }
        // nn.DataParallel saves every name under "module."; strip it only when all of them carry it.
        const string dp = "module.";
        if (result.Count > 0 && result.All(p => p.Key.StartsWith(dp, StringComparison.Ordinal)))
            result = result.ConvertAll(p => new KeyValuePair<string, TorchTensorRef>(p.Key[dp.Length..], p.Value));
        return result;
    }

    // ---------- reading records and building tensors ----------

    private sealed unsafe class ArchiveReader
    {
        private readonly ZipArchive _zip;
        private readonly string _source;
        private readonly long _fileLength;
        private readonly string _prefix;
        private readonly bool _bigEndian;

        public ArchiveReader(ZipArchive zip, string source, long fileLength)
        {
            _zip = zip;
            _source = source;
            _fileLength = fileLength;
            _prefix = FindPrefix();
            _bigEndian = ReadByteOrder();
        }

        private InvalidDataException Fail(string message) => new($"{_source}: {message}");

        private string FindPrefix()
        {
            var entries = Zip(_source, "the zip directory", () => _zip.Entries.Select(e => e.FullName).ToList());
            var pickles = entries.Where(n => n.Length > "/data.pkl".Length && n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - "/data.pkl".Length).ToList();
            if (pickles.Count == 1) return pickles[0][..^"data.pkl".Length];
            if (pickles.Count > 1) throw Fail($"the zip holds several state pickles ({string.Join(", ", pickles.Take(4))}); expected one <name>/data.pkl");
            string listing = entries.Count == 0 ? "it is empty" : "it holds " + string.Join(", ", entries.Take(5).Select(n => $"'{n}'")) + (entries.Count > 5 ? $" and {entries.Count - 5} more" : "");
            throw Fail($"the zip has no <name>/data.pkl record, so it is not a torch.save file ({listing})");
        }

        private ZipArchiveEntry? Entry(string name) => Zip(_source, $"record '{_prefix}{name}'", () => _zip.GetEntry(_prefix + name));

        private bool ReadByteOrder()
        {
            if (Entry("byteorder") is not { } e) return false; // older torch wrote none, and little endian
            if (e.Length > 16) throw Fail($"record '{e.FullName}' is {e.Length} bytes, not 'little' or 'big'");
            var text = Encoding.ASCII.GetString(ReadAll(e, e.Length)).Trim();
            return text switch
            {
                "little" => false,
                "big" => true,
                _ => throw Fail($"record '{e.FullName}' says '{text}', not 'little' or 'big'"),
            };
        }

        public byte[] ReadPickle()
        {
            if (Entry("constants.pkl") is not null)
                throw Fail("a TorchScript archive (torch.jit.save), not a torch.save state dict: in Python, torch.save(torch.jit.load(f).state_dict(), new_f)");
            var e = Entry("data.pkl")!;
            if (e.Length > TorchPickle.MaxPickleBytes) throw Fail($"record '{e.FullName}' is {e.Length} bytes, over the {TorchPickle.MaxPickleBytes}-byte limit");
            return ReadAll(e, e.Length);
        }

        private byte[] ReadAll(ZipArchiveEntry e, long length)
        {
            CheckClaimedSize(e);
            if (e.Length != length) throw Fail($"record '{e.FullName}' holds {e.Length} bytes, expected {length}");
            var b = new byte[length];
            fixed (byte* p = b) Read(e, p, length);
            return b;
        }

        /// <summary>Reads exactly <paramref name="length"/> bytes, the record's whole content, into dst.</summary>
        private void Read(ZipArchiveEntry e, byte* dst, long length)
        {
            CheckClaimedSize(e);
            if (e.Length != length) throw Fail($"record '{e.FullName}' holds {e.Length} bytes, expected {length}");
            uint crc = 0;
            long got = Zip(_source, $"record '{e.FullName}'", () =>
            {
                using var s = e.Open();
                long total = 0;
                while (total < length)
                {
                    var chunk = new Span<byte>(dst + total, (int)Math.Min(length - total, 1 << 20));
                    int n = s.Read(chunk);
                    if (n == 0) break;
                    crc = Crc32.Append(crc, chunk[..n]);
                    total += n;
                }
                Span<byte> extra = stackalloc byte[1];
                return total == length && s.Read(extra) != 0 ? length + 1 : total;
            });
            if (got != length) throw Fail($"record '{e.FullName}' has {(got > length ? "more" : $"only {got}")} bytes where its directory entry says {length}: the file is damaged");
            // torch.save can be told to skip CRCs (serialization config compute_crc32), which leaves them 0.
            if (e.Crc32 != 0 && crc != e.Crc32) throw Fail($"record '{e.FullName}' fails its CRC-32 check: the file is damaged");
        }

        private void CheckClaimedSize(ZipArchiveEntry e)
        {
            // Sizes come from the zip directory, so they are checked before anything is allocated for them:
            // a stored record lies inside the file; deflate expands at most about 1032:1.
            long compressed = e.CompressedLength, size = e.Length;
            if (compressed < 0 || size < 0 || compressed > _fileLength || size > compressed * 1100 + 4096)
                throw Fail($"record '{e.FullName}' claims {size} bytes from {compressed} compressed bytes in a {_fileLength}-byte file");
        }

        public Dictionary<string, Tensor> Materialize(List<KeyValuePair<string, TorchTensorRef>> state)
        {
            // First every view, storage and record is checked against the zip directory, and the total to
            // allocate against the storages the file really holds; only then is anything allocated.
            var plan = new List<(string Name, TorchTensorRef T, DType DType, int[] Shape)>(state.Count);
            var storages = new Dictionary<string, (TorchStorageRef Ref, ZipArchiveEntry Record, int Users)>();
            long storageBytes = 0, tensorBytes = 0;
            foreach (var (name, t) in state)
            {
                var s = t.Storage;
                var dtype = s.DType ?? throw Fail($"tensor '{name}' is stored as {s.TypeName}, a dtype Cuda.Nn does not support");
                var shape = CheckView(name, t);
                if (storages.TryGetValue(s.Key, out var seen))
                {
                    if (seen.Ref.TypeName != s.TypeName || seen.Ref.Numel != s.Numel)
                        throw Fail($"storage '{s.Key}' is described as {seen.Ref.TypeName} of {seen.Ref.Numel} elements and as {s.TypeName} of {s.Numel} (tensor '{name}')");
                    storages[s.Key] = seen with { Users = seen.Users + 1 };
                }
                else
                {
                    if (s.Numel > long.MaxValue / 8) throw Fail($"storage '{s.Key}' of tensor '{name}' claims {s.Numel} elements");
                    var e = Entry("data/" + s.Key) ?? throw Fail($"record '{_prefix}data/{s.Key}' (the storage of tensor '{name}') is missing");
                    long bytes = s.Numel * dtype.SizeOf();
                    CheckClaimedSize(e);
                    if (e.Length != bytes) throw Fail($"record '{e.FullName}' holds {e.Length} bytes but tensor '{name}' needs {bytes} for its {s.Numel}-element {s.TypeName}");
                    storages[s.Key] = (s, e, 1);
                    storageBytes += bytes;
                }
                tensorBytes += (long)shape.Aggregate(1L, (a, d) => a * d) * dtype.SizeOf();
                plan.Add((name, t, dtype, shape));
            }
            // Views of one storage that repeat (tied weights) or broadcast are fine; thousands of them are a bomb.
            if (tensorBytes > 4 * storageBytes + (64L << 20))
                throw Fail($"the state dict's tensors total {tensorBytes} bytes from {storageBytes} bytes of storage: views repeat or broadcast too much");

            // Storages that several tensors share, or that a view covers only in part, are read once and
            // kept until their last tensor is built; a tensor that is its whole storage is read in place.
            var cache = new Dictionary<string, byte[]>();
            var users = storages.ToDictionary(p => p.Key, p => p.Value.Users);
            var result = new Dictionary<string, Tensor>(state.Count);
            try
            {
                foreach (var (name, t, dtype, shape) in plan)
                {
                    var (s, record, _) = storages[t.Storage.Key];
                    var tensor = DisposeScope.Detach(Tensor.Empty(shape, dtype));
                    result[name] = tensor;
                    byte* dst = ((CpuStorage)tensor.Storage).Pointer;
                    int size = dtype.SizeOf();
                    if (users[s.Key] == 1 && t.Offset == 0 && tensor.Numel == s.Numel && IsContiguous(t))
                    {
                        Read(record, dst, (long)tensor.Numel * size);
                        if (_bigEndian) Swap(dst, (long)tensor.Numel * size, size);
                    }
                    else
                    {
                        if (!cache.TryGetValue(s.Key, out var data))
                        {
                            if (record.Length > Array.MaxLength)
                                throw Fail($"storage '{s.Key}' of tensor '{name}' is {record.Length} bytes; storages over {Array.MaxLength} bytes are read only when one contiguous tensor covers all of it");
                            cache[s.Key] = data = ReadAll(record, record.Length);
                            if (_bigEndian) fixed (byte* p = data) Swap(p, data.Length, size);
                        }
                        fixed (byte* src = data) CopyView(src, dst, t, size, tensor.Numel);
                    }
                    if (--users[s.Key] == 0) cache.Remove(s.Key);
                }
            }
            catch
            {
                foreach (var x in result.Values) x.Dispose();
                throw;
            }
            return result;
        }

        /// <summary>The tensor's shape, after proving every element it views lies inside its storage.</summary>
        private int[] CheckView(string name, TorchTensorRef t)
        {
            var shape = new int[t.Shape.Length];
            long numel = 1;
            for (int i = 0; i < shape.Length; i++)
            {
                if (t.Shape[i] > int.MaxValue) throw Fail($"tensor '{name}' has dimension {t.Shape[i]}, over 2^31-1");
                shape[i] = (int)t.Shape[i];
                numel *= shape[i];
                if (numel > int.MaxValue) throw Fail($"tensor '{name}' of shape {Layout.ShapeString(shape[..(i + 1)])}... has more than 2^31-1 elements");
            }
            if (numel == 0) return shape;
            Int128 last = t.Offset;
            for (int i = 0; i < shape.Length; i++) last += (Int128)(shape[i] - 1) * t.Stride[i];
            if (last >= t.Storage.Numel)
                throw Fail($"tensor '{name}' (shape {Layout.ShapeString(shape)}, stride ({string.Join(", ", t.Stride)}), offset {t.Offset}) reaches element {last} of storage '{t.Storage.Key}', which has {t.Storage.Numel}");
            return shape;
        }

        private static bool IsContiguous(TorchTensorRef t)
        {
            long expected = 1;
            for (int i = t.Shape.Length - 1; i >= 0; i--)
            {
                if (t.Shape[i] != 1 && t.Stride[i] != expected) return false;
                expected *= t.Shape[i];
            }
            return true;
        }

        /// <summary>Copies a (bounds-checked) strided view into a contiguous destination.</summary>
        private static void CopyView(byte* src, byte* dst, TorchTensorRef t, int size, int numel)
        {
            if (numel == 0) return;
            if (IsContiguous(t))
            {
                Buffer.MemoryCopy(src + t.Offset * size, dst, (long)numel * size, (long)numel * size);
                return;
            }
            int rank = t.Shape.Length;
            long inner = t.Shape[rank - 1], step = t.Stride[rank - 1] * size;
            var index = new long[rank];
            long baseOffset = t.Offset;
            for (long done = 0; done < numel; done += inner)
            {
                byte* s = src + baseOffset * size;
                switch (size)
                {
                    case 1: for (long j = 0; j < inner; j++, s += step) *dst++ = *s; break;
                    case 2: for (long j = 0; j < inner; j++, s += step, dst += 2) *(short*)dst = *(short*)s; break;
                    case 4: for (long j = 0; j < inner; j++, s += step, dst += 4) *(int*)dst = *(int*)s; break;
                    default: for (long j = 0; j < inner; j++, s += step, dst += 8) *(long*)dst = *(long*)s; break;
                }
                // Advance the outer indices like an odometer.
                for (int k = rank - 2; k >= 0; k--)
                {
                    baseOffset += t.Stride[k];
                    if (++index[k] < t.Shape[k]) break;
                    baseOffset -= t.Stride[k] * t.Shape[k];
                    index[k] = 0;
                }
            }
        }

        private static void Swap(byte* p, long bytes, int size)
        {
            switch (size)
            {
                case 2: for (long i = 0; i < bytes; i += 2) *(ushort*)(p + i) = BinaryPrimitives.ReverseEndianness(*(ushort*)(p + i)); break;
                case 4: for (long i = 0; i < bytes; i += 4) *(uint*)(p + i) = BinaryPrimitives.ReverseEndianness(*(uint*)(p + i)); break;
                case 8: for (long i = 0; i < bytes; i += 8) *(ulong*)(p + i) = BinaryPrimitives.ReverseEndianness(*(ulong*)(p + i)); break;
            }
        }
    }
}
