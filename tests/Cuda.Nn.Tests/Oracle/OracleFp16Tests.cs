// fp16.safetensors: float32 -> float16 (h) and back (y), bit-exact, edge cases and NaN payloads included.
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleFp16Tests
{
    private const string File = "fp16.safetensors";

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTripIsBitExact(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What;
        p.Expect("op", "float32_to_float16_round_trip", "this test converts F32 -> F16 -> F32");
        var notes = p.Has("edge_notes") ? p.Strings("edge_notes") : [];
        if (p.Has("edge_count")) Assert.True(notes.Length == p.Int("edge_count"), $"{what}: 'edge_count' {p.Int("edge_count")} but {notes.Length} edge notes");
        // 'rounding' states the IEEE rule the bit-exact comparison enforces; 'random' how the values after the
        // edge cases were drawn ("32 x N(...) then 32 x N(...)"), whose counts must add up to x's length.
        int drawn = p.Has("random") ? System.Text.RegularExpressions.Regex.Matches(p.String("random"), @"(\d+) x ").Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) : -1;
        p.AssertAllRead("rounding", "seed");
        oracle.AssertRoles(caseId, ["h", "x", "y"]);
        using var scope = new DisposeScope();
        var x = oracle.Load(caseId, "x");
        var h = oracle.Load(caseId, "h");
        var y = oracle.Load(caseId, "y");
        Assert.Equal(DType.F16, h.DType);
        if (drawn >= 0) Assert.True(notes.Length + drawn == x.Numel, $"{what}: {notes.Length} edge values + {drawn} drawn ('random') but x has {x.Numel}");
        var half = x.To(DType.F16);
        AssertBits(half, h, $"{what} x.To(F16) vs h", notes);
        AssertBits(half.To(DType.F32), y, $"{what} x.To(F16).To(F32) vs y", notes);
        AssertBits(h.To(DType.F32), y, $"{what} h.To(F32) vs y", notes);
        // the same conversions on a strided (non-contiguous) view go through the element-wise path
        var xs = Tensor.Stack([x, x], 1).Select(1, 0);
        AssertBits(xs.To(DType.F16), h, $"{what} strided x.To(F16) vs h", notes);
        var hs = Tensor.Stack([h, h], 1).Select(1, 1);
        AssertBits(hs.To(DType.F32), y, $"{what} strided h.To(F32) vs y", notes);
    }

    private static void AssertBits(Tensor actual, Tensor expected, string what, string[] notes)
    {
        try { TensorAssert.AssertBitExact(actual, expected, what); }
        catch (Exception e) when (notes.Length > 0)
        {
            throw new Xunit.Sdk.XunitException(e.Message + "\n  (edge notes, in order from index 0: " + string.Join(" | ", notes.Select((s, i) => $"{i}: {s}")) + ")");
        }
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
