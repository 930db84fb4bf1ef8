// A restricted unpickler for torch.save's data.pkl (pickle protocols 2-5; protocol 1 binary opcodes too).
// It only builds data: None, bool, int, float, str, bytes, tuple (object?[]), list, dict, set, and torch's
// tensors and storages as plain descriptions. Globals resolve against the short list that
// torch.load(weights_only=True) needs for state dicts; any other global is refused when its opcode is read,
// so nothing named by the file is ever looked up, let alone called. Every length, count and depth is capped
// and checked against the bytes actually present, so a hostile file fails with an InvalidDataException.
using System.Buffers.Binary;
using System.Numerics;
using System.Text;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.IO;

/// <summary>A typed storage named by a persistent id: the archive record data/Key holds Numel elements.</summary>
internal sealed record TorchStorageRef(string Key, string TypeName, DType? DType, long Numel, string Location);

/// <summary>A tensor view over a storage, as _rebuild_tensor_v2 describes it (nothing is read yet).</summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Shape, long[] Stride, bool RequiresGrad);

/// <summary>A dict or OrderedDict: insertion-ordered, keys compared by value.</summary>
internal sealed class PickleDict(bool ordered)
{
    private readonly Dictionary<object, int> _index = new(PickleKeyComparer.Instance);
    private readonly List<KeyValuePair<object?, object?>> _entries = [];
    private int _nullKey = -1;

    public bool IsOrdered { get; } = ordered;
    public IReadOnlyList<KeyValuePair<object?, object?>> Entries => _entries;
    public int Count => _entries.Count;

    public void Set(object? key, object? value)
    {
        int i = key is null ? _nullKey : _index.GetValueOrDefault(key, -1);
        if (i >= 0) { _entries[i] = new(_entries[i].Key, value); return; }
        if (key is null) _nullKey = _entries.Count;
        else _index[key] = _entries.Count;
        _entries.Add(new(key, value));
    }

    public bool TryGet(object key, out object? value)
    {
        if (_index.TryGetValue(key, out int i)) { value = _entries[i].Value; return true; }
        value = null;
        return false;
    }
}

/// <summary>A set or frozenset (elements kept as pickled; nothing here needs membership tests).</summary>
internal sealed class PickleSet(bool frozen) : List<object?>
{
    public bool IsFrozen { get; } = frozen;
}

internal sealed class PickleKeyComparer : IEqualityComparer<object>
{
    public static readonly PickleKeyComparer Instance = new();

    public new bool Equals(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (byte[] x, byte[] y) => x.AsSpan().SequenceEqual(y),
        (object?[] x, object?[] y) => x.Length == y.Length && x.Zip(y).All(p => Equals(p.First, p.Second)),
        _ => a is not null && a.Equals(b),
    };

    // Seeded hashes throughout (HashCode, string's Marvin): a file must not be able to pick colliding keys.
    public int GetHashCode(object o)
    {
        var h = new HashCode();
        switch (o)
        {
            case long x: h.Add((int)x); h.Add((int)(x >> 32)); break;
            case double d: { long x = BitConverter.DoubleToInt64Bits(d); h.Add((int)x); h.Add((int)(x >> 32)); break; }
            case BigInteger b: h.AddBytes(b.ToByteArray()); break;
            case byte[] b: h.AddBytes(b); break;
            case object?[] t: h.Add(t.Length); foreach (var e in t) h.Add(e is null ? 0 : GetHashCode(e)); break;
            default: h.Add(o.GetHashCode()); break;
        }
        return h.ToHashCode();
    }
}

/// <summary>Memo indices come from the file; a seeded hash keeps them from piling into one bucket.</summary>
internal sealed class MemoIndexComparer : IEqualityComparer<uint>
{
    public static readonly MemoIndexComparer Instance = new();
    public bool Equals(uint a, uint b) => a == b;
    public int GetHashCode(uint i) => HashCode.Combine(i);
}

internal static class TorchPickle
{
    public const long MaxPickleBytes = 64L << 20;
    public const int MaxMemo = 1 << 22;
    public const int MaxStack = 1 << 20;
    public const int MaxMarkDepth = 256;
    public const int MaxObjects = 1 << 23;
    public const int MaxStringBytes = 16 << 20;
    public const int MaxIntBytes = 64;
    public const int MaxGlobalNameBytes = 1024;
    public const int MaxDims = 32;
    /// <summary>Key hashing and element copying, which memo references could otherwise repeat without end.</summary>
    public const long MaxWork = 1L << 26;

    /// <summary>Unpickles data.pkl of the file <paramref name="source"/> (named in every error).</summary>
    public static object? Load(ReadOnlyMemory<byte> pickle, string source)
    {
        if (pickle.Length > MaxPickleBytes)
            throw new InvalidDataException($"{source}: data.pkl is {pickle.Length} bytes, over the {MaxPickleBytes}-byte limit");
        return new Reader(pickle, source).Run();
    }

    /// <summary>The Python type name with its article ("an int", "a tensor"), for messages.</summary>
    public static string A(object? v)
    {
        var n = TypeName(v);
        return v is null ? n : ("aeiouAEIOU".Contains(n[0]) ? "an " : "a ") + n;
    }

    public static string TypeName(object? v) => v switch
    {
        null => "None",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        PickleSet s => s.IsFrozen ? "frozenset" : "set",
        List<object?> => "list",
        PickleDict d => d.IsOrdered ? "OrderedDict" : "dict",
        TorchTensorRef => "tensor",
        TorchStorageRef => "storage",
        Global g => $"global '{g.Name}'",
        _ => v.GetType().Name,
    };

    private enum GlobalKind
    {
        OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, RebuildFromTypeV2,
        TensorType, ParameterType, Size, Device, StorageType, DTypeValue, CodecsEncode, Set, FrozenSet, ByteArray,
    }

    /// <summary>An allowed global: only ever compared, never resolved to code.</summary>
    private sealed record Global(string Name, GlobalKind Kind, DType? DType = null);

    // Storage classes torch.save names in persistent ids; null dtype: known but not a Cuda.Nn dtype.
    private static readonly Dictionary<string, DType?> StorageTypes = new()
    {
        ["FloatStorage"] = DType.F32, ["DoubleStorage"] = DType.F64, ["HalfStorage"] = DType.F16,
        ["BFloat16Storage"] = DType.BF16, ["LongStorage"] = DType.I64, ["IntStorage"] = DType.I32,
        ["ByteStorage"] = DType.U8, ["BoolStorage"] = DType.Bool, ["CharStorage"] = DType.I8,
        ["ShortStorage"] = null, ["ComplexFloatStorage"] = null, ["ComplexDoubleStorage"] = null,
    };

    private static readonly string[] DTypeNames =
    [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
        "int16", "short", "int8", "uint8", "bool", "complex64", "complex128",
    ];

    private static readonly Dictionary<string, Global> Globals = BuildGlobals();

    private static Dictionary<string, Global> BuildGlobals()
    {
        var g = new Dictionary<string, Global>(StringComparer.Ordinal);
        void Add(string name, GlobalKind kind, DType? dtype = null) => g[name] = new Global(name, kind, dtype);
        Add("collections.OrderedDict", GlobalKind.OrderedDict);
        Add("torch._utils._rebuild_tensor_v2", GlobalKind.RebuildTensorV2);
        Add("torch._utils._rebuild_tensor", GlobalKind.RebuildTensor);
        Add("torch._utils._rebuild_parameter", GlobalKind.RebuildParameter);
        Add("torch._utils._rebuild_parameter_with_state", GlobalKind.RebuildParameterWithState);
        Add("torch._tensor._rebuild_from_type_v2", GlobalKind.RebuildFromTypeV2);
        Add("torch.Tensor", GlobalKind.TensorType);
        Add("torch.nn.parameter.Parameter", GlobalKind.ParameterType);
        Add("torch.Size", GlobalKind.Size);
        Add("torch.device", GlobalKind.Device);
        foreach (var (name, dtype) in StorageTypes) Add("torch." + name, GlobalKind.StorageType, dtype);
        foreach (var name in DTypeNames) Add("torch." + name, GlobalKind.DTypeValue);
        Add("_codecs.encode", GlobalKind.CodecsEncode); // protocol 2 pickles Python 3 bytes this way
        Add("builtins.set", GlobalKind.Set);
        Add("builtins.frozenset", GlobalKind.FrozenSet);
        Add("builtins.bytearray", GlobalKind.ByteArray);
        return g;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly object True = true, False = false;

    private sealed class Reader
    {
        private readonly ReadOnlyMemory<byte> _data;
        private readonly string _source;
        private readonly List<object?> _stack = [];
        private readonly List<int> _marks = [];
        private readonly Dictionary<uint, object?> _memo = new(MemoIndexComparer.Instance);
        private int _pos, _op, _objects;
        private long _work;

        public Reader(ReadOnlyMemory<byte> data, string source)
        {
            _data = data;
            _source = source;
        }

        private InvalidDataException Fail(string message) =>
            new($"{_source}: data.pkl byte {_op}: {message}");

        private InvalidDataException Refuse(string module, string name) =>
            new($"{_source}: refuses global '{Printable(module)}.{Printable(name)}' (only tensors, OrderedDict and primitive types are loaded, as torch.load(weights_only=True))");

        private static string Printable(string s)
        {
            var sb = new StringBuilder();
            foreach (var c in s.Length > 200 ? s[..200] + "..." : s) sb.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c);
            return sb.ToString();
        }

        // ---------- input ----------

        private ReadOnlySpan<byte> Take(long n)
        {
            if (n < 0 || n > _data.Length - _pos)
                throw Fail($"truncated: needs {n} more bytes, {_data.Length - _pos} remain");
            var s = _data.Span.Slice(_pos, (int)n);
            _pos += (int)n;
            return s;
        }

        private byte U8() => Take(1)[0];
        private uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        private long Length(ulong n, int max, string what)
        {
            if (n > (ulong)max) throw Fail($"{what} of {n} bytes exceeds the {max}-byte limit");
            return (long)n;
        }

        private string Line()
        {
            int end = _data.Span.Slice(_pos, Math.Min(_data.Length - _pos, MaxGlobalNameBytes + 1)).IndexOf((byte)'\n');
            if (end < 0) throw Fail($"a GLOBAL name has no end of line within {MaxGlobalNameBytes} bytes");
            var s = Utf8(_data.Span.Slice(_pos, end));
            _pos += end + 1;
            return s;
        }

        private string Utf8(ReadOnlySpan<byte> b)
        {
            try { return StrictUtf8.GetString(b); }
            catch (DecoderFallbackException) { throw Fail("a string is not valid UTF-8"); }
        }

        // ---------- stack ----------

        private int Floor => _marks.Count > 0 ? _marks[^1] : 0;

        private void Push(object? v)
        {
            if (_stack.Count >= MaxStack) throw Fail($"the stack exceeds {MaxStack} items");
            _stack.Add(v);
        }

        private void PushNew(object? v)
        {
            if (++_objects > MaxObjects) throw Fail($"the pickle builds more than {MaxObjects} objects");
            Push(v);
        }

        private object? Pop()
        {
            if (_stack.Count <= Floor) throw Fail("stack underflow");
            var v = _stack[^1];
            _stack.RemoveAt(_stack.Count - 1);
            return v;
        }

        private void Spend(long units)
        {
            _work += units;
            if (_work > MaxWork) throw Fail($"the pickle needs more than {MaxWork} steps of key hashing and copying (memo references repeating big objects)");
        }

        private object? Top => _stack.Count > Floor ? _stack[^1] : throw Fail("stack underflow");

        private List<object?> PopMark()
        {
            if (_marks.Count == 0) throw Fail("no MARK to pop to");
            int m = _marks[^1];
            _marks.RemoveAt(_marks.Count - 1);
            var items = _stack.GetRange(m, _stack.Count - m);
            _stack.RemoveRange(m, _stack.Count - m);
            return items;
        }

        private void Memo(uint index)
        {
            if (_memo.Count >= MaxMemo && !_memo.ContainsKey(index)) throw Fail($"the memo exceeds {MaxMemo} entries");
            _memo[index] = Top;
        }

        private void Get(uint index)
        {
            if (!_memo.TryGetValue(index, out var v)) throw Fail($"memo entry {index} was never stored");
            Push(v);
        }

        // ---------- opcodes ----------

        public object? Run()
        {
            while (true)
            {
                _op = _pos;
                if (_pos >= _data.Length) throw Fail("truncated: the pickle ends without STOP");
                byte op = _data.Span[_pos++];
                switch (op)
                {
                    case 0x80: // PROTO
                        if (U8() is var p && p > 5) throw Fail($"pickle protocol {p} is newer than 5");
                        break;
                    case 0x95: // FRAME: a buffering hint; its length only has to fit
                        if (BinaryPrimitives.ReadUInt64LittleEndian(Take(8)) > (ulong)(_data.Length - _pos)) throw Fail("a FRAME runs past the end");
                        break;
                    case (byte)'.': // STOP
                        if (_marks.Count != 0 || _stack.Count != 1) throw Fail($"STOP with {_stack.Count} items and {_marks.Count} open MARKs on the stack");
                        return _stack[0];
                    case (byte)'(':
                        if (_marks.Count >= MaxMarkDepth) throw Fail($"MARKs nest deeper than {MaxMarkDepth}");
                        _marks.Add(_stack.Count);
                        break;
                    case (byte)'0': Pop(); break;
                    case (byte)'1': PopMark(); break;
                    case (byte)'2': Push(Top); break;
                    case (byte)'N': Push(null); break;
                    case 0x88: Push(True); break;
                    case 0x89: Push(False); break;
                    case (byte)'J': PushNew((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break;
                    case (byte)'K': PushNew((long)U8()); break;
                    case (byte)'M': PushNew((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break;
                    case 0x8a: PushNew(Integer(Take(U8()))); break;
                    case 0x8b:
                        {
                            int n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
                            if (n < 0 || n > MaxIntBytes) throw Fail($"LONG4 of {n} bytes (at most {MaxIntBytes})");
                            PushNew(Integer(Take(n)));
                            break;
                        }
                    case (byte)'G': PushNew(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break;
                    case (byte)'X': PushNew(Utf8(Take(Length(U32(), MaxStringBytes, "a string")))); break;
                    case 0x8c: PushNew(Utf8(Take(U8()))); break;
                    case 0x8d: PushNew(Utf8(Take(Length(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)), MaxStringBytes, "a string")))); break;
                    case (byte)'U': PushNew(Utf8(Take(U8()))); break; // Python 2 str, decoded as torch.load does (UTF-8)
                    case (byte)'T':
                        {
                            int n = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
                            if (n < 0) throw Fail("BINSTRING with a negative length");
                            PushNew(Utf8(Take(Length((ulong)n, MaxStringBytes, "a string"))));
                            break;
                        }
                    case (byte)'C': PushNew(Take(U8()).ToArray()); break;
                    case (byte)'B': PushNew(Take(Length(U32(), MaxStringBytes, "a bytes object")).ToArray()); break;
                    case 0x8e: case 0x96: PushNew(Take(Length(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)), MaxStringBytes, "a bytes object")).ToArray()); break;
                    case (byte)')': PushNew(Array.Empty<object?>()); break;
                    case (byte)'t': PushNew(PopMark().ToArray()); break;
                    case 0x85: { var a = Pop(); PushNew(new[] { a }); break; }
                    case 0x86: { var b = Pop(); var a = Pop(); PushNew(new[] { a, b }); break; }
                    case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); PushNew(new[] { a, b, c }); break; }
                    case (byte)']': PushNew(new List<object?>()); break;
                    case (byte)'l': PushNew(PopMark()); break;
                    case (byte)'a': { var v = Pop(); AsList(Top, "APPEND").Add(v); break; }
                    case (byte)'e': { var items = PopMark(); AsList(Top, "APPENDS").AddRange(items); break; }
                    case (byte)'}': PushNew(new PickleDict(ordered: false)); break;
                    case (byte)'d': { var items = PopMark(); var d = new PickleDict(ordered: false); SetItems(d, items); PushNew(d); break; }
                    case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(AsDict(Top, "SETITEM"), k, v); break; }
                    case (byte)'u': { var items = PopMark(); SetItems(AsDict(Top, "SETITEMS"), items); break; }
                    case 0x8f: PushNew(new PickleSet(frozen: false)); break;
                    case 0x90:
                        {
                            var items = PopMark();
                            if (Top is not PickleSet { IsFrozen: false } s) throw Fail($"ADDITEMS to {A(Top)}, not a set");
                            s.AddRange(items);
                            break;
                        }
                    case 0x91: { var items = PopMark(); var s = new PickleSet(frozen: true); s.AddRange(items); PushNew(s); break; }
                    case (byte)'h': Get(U8()); break;
                    case (byte)'j': Get(U32()); break;
                    case (byte)'q': Memo(U8()); break;
                    case (byte)'r': Memo(U32()); break;
                    case 0x94: Memo((uint)_memo.Count); break;
                    case (byte)'c': { var module = Line(); var name = Line(); PushNew(Resolve(module, name)); break; }
                    case 0x93:
                        {
                            var name = Pop();
                            var module = Pop();
                            if (module is not string m || name is not string n) throw Fail($"STACK_GLOBAL of {A(module)} and {A(name)}, not two strings");
                            if (m.Length > MaxGlobalNameBytes || n.Length > MaxGlobalNameBytes) throw Fail($"a STACK_GLOBAL name of over {MaxGlobalNameBytes} characters");
                            PushNew(Resolve(m, n));
                            break;
                        }
                    case (byte)'R': { var args = Pop(); var f = Pop(); PushNew(Call(f, args, "REDUCE")); break; }
                    case 0x81: { var args = Pop(); var cls = Pop(); PushNew(Call(cls, args, "NEWOBJ")); break; }
                    case 0x92:
                        {
                            var kwargs = Pop();
                            var args = Pop();
                            var cls = Pop();
                            if (kwargs is not PickleDict { Count: 0 }) throw Fail("NEWOBJ_EX with keyword arguments");
                            PushNew(Call(cls, args, "NEWOBJ_EX"));
                            break;
                        }
                    case (byte)'i':
                        {
                            var module = Line();
                            var name = Line();
                            var cls = Resolve(module, name);
                            PushNew(Call(cls, PopMark().ToArray(), "INST"));
                            break;
                        }
                    case (byte)'o':
                        {
                            var items = PopMark();
                            if (items.Count == 0) throw Fail("OBJ without a class");
                            PushNew(Call(items[0], items.Skip(1).ToArray(), "OBJ"));
                            break;
                        }
                    case (byte)'b': { var state = Pop(); Build(Top, state); break; }
                    case (byte)'Q': { var pid = Pop(); PushNew(PersistentLoad(pid)); break; }
                    case 0x82: case 0x83: case 0x84:
                        throw Fail("EXT opcodes (the copyreg extension registry) name globals indirectly and are refused");
                    case 0x97: case 0x98:
                        throw Fail("out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER) are not supported");
                    case (byte)'I' or (byte)'L' or (byte)'F' or (byte)'S' or (byte)'V' or (byte)'g' or (byte)'p' or (byte)'P':
                        throw Fail($"text opcode '{(char)op}' of pickle protocol 0 is not supported (torch.save writes protocol 2)");
                    default:
                        throw Fail($"unknown pickle opcode 0x{op:x2}");
                }
            }
        }

        private object Integer(ReadOnlySpan<byte> b)
        {
            if (b.Length > MaxIntBytes) throw Fail($"an integer of {b.Length} bytes (at most {MaxIntBytes})");
            if (b.Length == 0) return 0L;
            if (b.Length <= 8)
            {
                long v = (sbyte)b[^1]; // sign-extend the most significant byte
                for (int i = b.Length - 2; i >= 0; i--) v = (v << 8) | b[i];
                return v;
            }
            var big = new BigInteger(b, isUnsigned: false, isBigEndian: false);
            return big >= long.MinValue && big <= long.MaxValue ? (long)big : big;
        }

        private List<object?> AsList(object? v, string op) =>
            v is List<object?> l and not PickleSet ? l : throw Fail($"{op} to {A(v)}, not a list");

        private PickleDict AsDict(object? v, string op) =>
            v as PickleDict ?? throw Fail($"{op} on {A(v)}, not a dict");

        private void SetItems(PickleDict d, List<object?> items)
        {
            if (items.Count % 2 != 0) throw Fail($"SETITEMS with an odd number ({items.Count}) of keys and values");
            for (int i = 0; i < items.Count; i += 2) SetItem(d, items[i], items[i + 1]);
        }

        private void SetItem(PickleDict d, object? key, object? value)
        {
            long cost = KeyCost(key, 0);
            if (cost < 0) throw Fail($"a dict key of type {TypeName(key)} is not supported");
            Spend(cost);
            d.Set(key, value);
        }

        /// <summary>What hashing the key costs, or -1 when it is not a supported (hashable) key.</summary>
        private static long KeyCost(object? k, int depth)
        {
            switch (k)
            {
                case null or bool or long or double: return 1;
                case BigInteger: return MaxIntBytes;
                case string s: return 1 + s.Length;
                case byte[] b: return 1 + b.Length;
                case object?[] t when depth < 4:
                    long sum = 1;
                    foreach (var e in t)
                    {
                        long c = KeyCost(e, depth + 1);
                        if (c < 0) return -1;
                        sum += c;
                    }
                    return sum;
                default: return -1;
            }
        }

        private Global Resolve(string module, string name)
        {
            if (module == "__builtin__") module = "builtins"; // Python 2 spelling, as pickle's protocol-2 mapping does
            return Globals.TryGetValue(module + "." + name, out var g) ? g : throw Refuse(module, name);
        }

        private void Build(object? inst, object? state)
        {
            // A state dict's _metadata arrives as OrderedDict state; it only matters to torch's own loaders.
            if (inst is PickleDict { IsOrdered: true } && state is null or PickleDict) return;
            throw Fail($"BUILD of {A(inst)} with {A(state)} (only an OrderedDict's attributes are accepted)");
        }

        private TorchStorageRef PersistentLoad(object? pid)
        {
            if (pid is not object?[] { Length: 5 } t || Text(t[0]) != "storage")
                throw Fail($"a persistent id that is {A(pid)}, not ('storage', type, key, location, numel)");
            if (t[1] is not Global { Kind: GlobalKind.StorageType } type)
                throw Fail($"a storage persistent id whose type is {A(t[1])}, not a torch storage class");
            var key = Text(t[2]) ?? throw Fail($"a storage key that is {A(t[2])}, not a string");
            if (key.Length is 0 or > 64 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw Fail($"storage key '{Printable(key)}' is not a short name of letters, digits and '_'");
            var location = Text(t[3]) ?? throw Fail($"a storage location that is {A(t[3])}, not a string");
            if (t[4] is not long numel || numel < 0) throw Fail($"storage '{key}' has an element count of {Describe([t[4]])}, not a non-negative int");
            return new TorchStorageRef(key, type.Name, type.DType, numel, location);
        }

        // Python 2 pickles may carry ASCII bytes where Python 3 writes str (torch's _maybe_decode_ascii).
        private static string? Text(object? v) => v switch
        {
            string s => s,
            byte[] { Length: <= 64 } b when b.All(c => c < 0x80) => Encoding.ASCII.GetString(b),
            _ => null,
        };

        private object? Call(object? callable, object? argsObj, string op)
        {
            if (callable is not Global g) throw Fail($"{op} of {A(callable)}, which is not a permitted function");
            if (argsObj is not object?[] args) throw Fail($"{op} of '{g.Name}' with {A(argsObj)} instead of an argument tuple");
            switch (g.Kind)
            {
                case GlobalKind.OrderedDict:
                    {
                        var d = new PickleDict(ordered: true);
                        if (args.Length == 0) return d;
                        if (args.Length == 1 && args[0] is List<object?> or object?[])
                        {
                            Spend(((ICollection<object?>)args[0]!).Count);
                            foreach (var item in (IEnumerable<object?>)args[0]!)
                            {
                                if (item is not object?[] { Length: 2 } pair) throw Fail("OrderedDict built from something other than (key, value) pairs");
                                SetItem(d, pair[0], pair[1]);
                            }
                            return d;
                        }
                        throw Fail("OrderedDict called with unsupported arguments");
                    }
                case GlobalKind.RebuildTensorV2 or GlobalKind.RebuildTensor:
                    return RebuildTensor(g, args);
                case GlobalKind.RebuildParameter or GlobalKind.RebuildParameterWithState:
                    {
                        // (data, requires_grad, backward_hooks[, state]): the state only sets Python attributes.
                        int n = g.Kind == GlobalKind.RebuildParameter ? 3 : 4;
                        if (args.Length != n || args[0] is not TorchTensorRef data || args[1] is not bool rg)
                            throw Fail($"'{g.Name}' expects (tensor, requires_grad, hooks{(n == 4 ? ", state" : "")}), got {Describe(args)}");
                        return data with { RequiresGrad = rg };
                    }
                case GlobalKind.ParameterType:
                    {
                        if (args.Length is < 1 or > 2 || args[0] is not TorchTensorRef data || (args.Length == 2 && args[1] is not bool))
                            throw Fail($"Parameter expects (tensor[, requires_grad]), got {Describe(args)}");
                        return data with { RequiresGrad = args.Length == 1 || (bool)args[1]! };
                    }
                case GlobalKind.RebuildFromTypeV2:
                    {
                        // (func, type, args, state): a plain Tensor or Parameter whose Python attributes are dropped.
                        if (args.Length != 4 || args[0] is not Global { Kind: GlobalKind.RebuildTensorV2 or GlobalKind.RebuildTensor or GlobalKind.RebuildParameter or GlobalKind.RebuildParameterWithState } f
                            || args[1] is not Global { Kind: GlobalKind.TensorType or GlobalKind.ParameterType })
                            throw Fail($"'{g.Name}' expects (rebuild function, torch.Tensor or Parameter, args, state), got {Describe(args)}");
                        return Call(f, args[2], op);
                    }
                case GlobalKind.Size:
                    if (args.Length == 0) return Array.Empty<object?>();
                    if (args.Length == 1 && args[0] is object?[] or List<object?>)
                    {
                        Spend(((ICollection<object?>)args[0]!).Count);
                        return ((IEnumerable<object?>)args[0]!).ToArray();
                    }
                    throw Fail($"torch.Size expects one tuple, got {Describe(args)}");
                case GlobalKind.Device:
                    if (args.Length is 1 or 2 && args[0] is string dev && (args.Length == 1 || args[1] is long))
                    {
                        Spend(dev.Length);
                        return args.Length == 1 ? dev : $"{dev}:{args[1]}";
                    }
                    throw Fail($"torch.device expects (type[, index]), got {Describe(args)}");
                case GlobalKind.CodecsEncode:
                    {
                        if (args.Length != 2 || args[0] is not string s || args[1] is not string enc) throw Fail($"_codecs.encode expects (str, encoding), got {Describe(args)}");
                        Spend(s.Length);
                        if (enc is "latin1" or "latin-1" or "iso-8859-1")
                            return s.All(c => c <= 0xFF) ? s.Select(c => (byte)c).ToArray() : throw Fail("_codecs.encode of a non-latin-1 string");
                        if (enc is "utf-8" or "utf8") return Encoding.UTF8.GetBytes(s);
                        throw Fail($"_codecs.encode with encoding '{Printable(enc)}' (only latin1 and utf-8)");
                    }
                case GlobalKind.Set or GlobalKind.FrozenSet:
                    {
                        var set = new PickleSet(frozen: g.Kind == GlobalKind.FrozenSet);
                        if (args.Length == 1 && args[0] is ICollection<object?> items)
                        {
                            Spend(items.Count);
                            set.AddRange(items);
                        }
                        else if (args.Length != 0) throw Fail($"{g.Name} expects one list or tuple, got {Describe(args)}");
                        return set;
                    }
                case GlobalKind.ByteArray:
                    if (args.Length == 0) return Array.Empty<byte>();
                    if (args.Length == 1 && args[0] is byte[] bytes)
                    {
                        Spend(bytes.Length);
                        return bytes.ToArray();
                    }
                    throw Fail($"bytearray expects bytes, got {Describe(args)}");
                default:
                    throw Fail($"'{g.Name}' cannot be called in a weights-only file");
            }
        }

        private TorchTensorRef RebuildTensor(Global g, object?[] args)
        {
            // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata]);
            // _rebuild_tensor(storage, offset, size, stride). Hooks and metadata only matter to autograd.
            bool v2 = g.Kind == GlobalKind.RebuildTensorV2;
            if (v2 ? args.Length is not (6 or 7) : args.Length != 4)
                throw Fail($"'{g.Name}' expects {(v2 ? "6 or 7" : "4")} arguments, got {args.Length}");
            if (args[0] is not TorchStorageRef storage) throw Fail($"'{g.Name}' argument 1 is {A(args[0])}, not a storage");
            if (args[1] is not long offset || offset < 0) throw Fail($"'{g.Name}' storage offset is {Describe([args[1]])}, not a non-negative int");
            var shape = Ints(args[2], "size");
            var stride = Ints(args[3], "stride");
            if (shape.Length != stride.Length) throw Fail($"tensor size has {shape.Length} dimensions but its stride has {stride.Length}");
            bool requiresGrad = false;
            if (v2)
            {
                if (args[4] is not bool rg) throw Fail($"'{g.Name}' requires_grad is {A(args[4])}, not a bool");
                requiresGrad = rg;
            }
            return new TorchTensorRef(storage, offset, shape, stride, requiresGrad);
        }

        private long[] Ints(object? v, string what)
        {
            if (v is not object?[] t) throw Fail($"tensor {what} is {A(v)}, not a tuple");
            if (t.Length > MaxDims) throw Fail($"tensor {what} has {t.Length} dimensions (at most {MaxDims})");
            var r = new long[t.Length];
            for (int i = 0; i < t.Length; i++)
                r[i] = t[i] is long x && x >= 0 ? x : throw Fail($"tensor {what} {Describe(t)} holds {Describe([t[i]])}, not a non-negative int");
            return r;
        }

        private static string Describe(object?[] args) =>
            "(" + string.Join(", ", args.Select(a => a switch
            {
                null => "None",
                bool b => b ? "True" : "False",
                long or double or BigInteger => Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture),
                string s => $"'{Printable(s)}'",
                _ => TypeName(a),
            })) + ")";
    }
}
