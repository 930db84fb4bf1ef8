// One oracle case's parameters (its metadata JSON) with a record of the keys the test read. A test reads
// every value it builds the op from through this class and ends with AssertAllRead(informational...), so a
// key that a new fixture adds (divisor_override, a second mask, a scheduler argument) fails the test, naming
// the case and the key, instead of being silently ignored.
using System.Text.Json;

namespace Cuda.Nn.Tests.Support;

public sealed class CaseParams
{
    private readonly JsonElement _p;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly List<CaseParams> _children = [];

    /// <summary>"file case (op)", or the path to a nested object; every failure message starts with it.</summary>
    public string What { get; }

    public CaseParams(JsonElement p, string what)
    {
        if (p.ValueKind != JsonValueKind.Object) Assert.Fail($"{what}: the case's metadata is {p.ValueKind}, not a JSON object");
        _p = p.Clone();
        What = what;
    }

    public IEnumerable<string> Keys => _p.EnumerateObject().Select(q => q.Name);

    /// <summary>Whether the key is present (does not count as reading it).</summary>
    public bool Has(string key) => _p.TryGetProperty(key, out _);

    /// <summary>The key's value, marked as read; a missing key fails the test, naming it.</summary>
    public JsonElement Get(string key)
    {
        if (!_p.TryGetProperty(key, out var v)) Assert.Fail($"{What}: the metadata has no '{key}' (keys: {string.Join(", ", Keys)})");
        _read.Add(key);
        return v;
    }

    /// <summary>The key's value when present (then marked as read).</summary>
    public bool TryGet(string key, out JsonElement value)
    {
        if (!_p.TryGetProperty(key, out value)) return false;
        _read.Add(key);
        return true;
    }

    private T As<T>(string key, JsonValueKind[] kinds, Func<JsonElement, T> read)
    {
        var v = Get(key);
        if (!kinds.Contains(v.ValueKind)) Assert.Fail($"{What}: '{key}' is {v.GetRawText()}, expected {string.Join(" or ", kinds)}");
        try { return read(v); }
        catch (FormatException e) { Assert.Fail($"{What}: '{key}' = {v.GetRawText()}: {e.Message}"); return default!; }
    }

    public string String(string key) => As(key, [JsonValueKind.String], v => v.GetString()!);
    public double Double(string key) => As(key, [JsonValueKind.Number], v => v.GetDouble());
    public int Int(string key) => As(key, [JsonValueKind.Number], v => v.GetInt32());
    public bool Bool(string key) => As(key, [JsonValueKind.True, JsonValueKind.False], v => v.GetBoolean());
    public int[] Ints(string key) => As(key, [JsonValueKind.Array], v => v.EnumerateArray().Select(e => e.GetInt32()).ToArray());
    public double[] Doubles(string key) => As(key, [JsonValueKind.Array], v => v.EnumerateArray().Select(e => e.GetDouble()).ToArray());
    public string[] Strings(string key) => As(key, [JsonValueKind.Array], v => v.EnumerateArray().Select(e => e.GetString()!).ToArray());

    public string String(string key, string absent) => Has(key) ? String(key) : absent;
    public double Double(string key, double absent) => Has(key) ? Double(key) : absent;
    public bool Bool(string key, bool absent) => Has(key) ? Bool(key) : absent;

    /// <summary>A (height, width) pair: torch accepts one int for both or a two-element list.</summary>
    public (int, int) Pair(string key)
    {
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number) return (v.GetInt32(), v.GetInt32());
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 2 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
            return (v[0].GetInt32(), v[1].GetInt32());
        Assert.Fail($"{What}: '{key}' = {v.GetRawText()} is not an int or an [h, w] pair of ints");
        return default;
    }

    /// <summary>A pair of doubles (one number for both, or a two-element list).</summary>
    public (double, double) DoublePair(string key)
    {
        var v = Get(key);
        if (v.ValueKind == JsonValueKind.Number) return (v.GetDouble(), v.GetDouble());
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 2 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
            return (v[0].GetDouble(), v[1].GetDouble());
        Assert.Fail($"{What}: '{key}' = {v.GetRawText()} is not a number or a pair of numbers");
        return default;
    }

    /// <summary>A nested object (e.g. a SequentialLR child), tracked too: AssertAllRead checks its keys.</summary>
    public CaseParams Child(string key)
    {
        var v = Get(key);
        if (v.ValueKind != JsonValueKind.Object) Assert.Fail($"{What}: '{key}' = {v.GetRawText()} is not an object");
        return Track(new CaseParams(v, $"{What} '{key}'"));
    }

    /// <summary>The elements of an array of objects, each tracked.</summary>
    public IReadOnlyList<CaseParams> Children(string key)
    {
        var v = Get(key);
        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Object))
            Assert.Fail($"{What}: '{key}' = {v.GetRawText()} is not an array of objects");
        return v.EnumerateArray().Select((e, i) => Track(new CaseParams(e, $"{What} '{key}'[{i}]"))).ToList();
    }

    /// <summary>The keys whose values are objects holding <paramref name="marker"/>, in the order written (not yet read).</summary>
    public IEnumerable<string> ObjectKeysWith(string marker) =>
        _p.EnumerateObject().Where(q => q.Value.ValueKind == JsonValueKind.Object && q.Value.TryGetProperty(marker, out _)).Select(q => q.Name).ToList();

    private CaseParams Track(CaseParams c) { _children.Add(c); return c; }

    /// <summary>Fails unless the key, when present, has the one value the library implements (absent is the default the library has).</summary>
    public void Requires(string key, bool implemented, string feature)
    {
        if (Has(key) && Bool(key) != implemented) Assert.Fail($"{What}: '{key}' = {!implemented} needs {feature}, which is not implemented");
    }

    /// <summary>Fails unless the key has the expected value, naming the case and key.</summary>
    public void Expect(string key, string expected, string why)
    {
        var v = String(key);
        if (v != expected) Assert.Fail($"{What}: '{key}' = \"{v}\", but {why} (expected \"{expected}\")");
    }

    /// <summary>Marks keys that describe the case without changing what is computed (seed, notes, closed forms).</summary>
    public void Informational(params string[] keys)
    {
        foreach (var k in keys) if (Has(k)) _read.Add(k);
    }

    /// <summary>Every key, nested objects' included, was read or is listed as informational; otherwise fails naming them.</summary>
    public void AssertAllRead(params string[] informational)
    {
        Informational(informational);
        var unread = Unread().ToList();
        if (unread.Count > 0)
            Assert.Fail($"metadata key(s) the test neither uses nor lists as informational, so a case would silently ignore them: {string.Join("; ", unread)}");
    }

    private IEnumerable<string> Unread() =>
        Keys.Where(k => !_read.Contains(k)).Select(k => $"{What} '{k}' = {_p.GetProperty(k).GetRawText()}").Concat(_children.SelectMany(c => c.Unread()));

    public override string ToString() => _p.GetRawText();
}
