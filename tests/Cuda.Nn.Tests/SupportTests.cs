// The test helpers must fail when they should, with messages that locate the problem.
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class SupportTests
{
    [Fact]
    public void AssertCloseNamesWorstIndexValuesAndTolerance()
    {
        using var r = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 2, 3);
        using var a = Tensor.FromArray([1f, 2, 3, 4, 5.01f, 6], 2, 3);
        TensorAssert.AssertClose(r, r, 0, 0, "identical");
        var e = Assert.ThrowsAny<Exception>(() => TensorAssert.AssertClose(a, r, 1e-4, 1e-4, "file c7 (op) gx"));
        Assert.Contains("file c7 (op) gx", e.Message);
        Assert.Contains("[1,1]", e.Message);
        Assert.Contains("5.01", e.Message);
        Assert.Contains("tolerance", e.Message);
        using var nan = Tensor.FromArray([float.NaN, 2, 3, 4, 5, 6], 2, 3);
        TensorAssert.AssertClose(nan, nan, 0, 0, "NaN matches NaN");
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertClose(nan, r, 1, 1, "NaN vs 1"));
        using var inf = Tensor.FromArray([float.PositiveInfinity, 2, 3, 4, 5, 6], 2, 3);
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertClose(inf, r, 1e9, 1, "inf vs 1"));
        using var other = Tensor.FromArray([1f, 2, 3, 4, 5, 6], 3, 2);
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertClose(other, r, 1, 1, "shape"));
    }

    [Fact]
    public void AssertRelNormAndBitExact()
    {
        using var r = Tensor.FromArray([3f, 4], 2);
        using var a = Tensor.FromArray([3f, 4.001f], 2);
        TensorAssert.AssertRelNorm(a, r, 1e-3, "close in norm");
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertRelNorm(a, r, 1e-5, "not close in norm"));
        using var z = Tensor.FromArray([0f, 1], 2);
        using var nz = Tensor.FromArray([-0f, 1], 2);
        var e = Assert.ThrowsAny<Exception>(() => TensorAssert.AssertBitExact(nz, z, "signed zero"));
        Assert.Contains("0x80000000", e.Message);
        using var h = z.To(DType.F16);
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertBitExact(h, z, "dtype"));
    }

    [Fact]
    public void OracleToleranceSeparatesTheTwoGeluForms()
    {
        // activations c5 is exact gelu; the tanh form differs by up to 4.7e-4, far beyond 1e-6 + 1e-5|r|
        using var oracle = OracleFixture.Open("activations.safetensors");
        var c = oracle.Cases.First(id => oracle.Params(id).GetProperty("op").GetString() == "gelu" && oracle.Params(id).GetProperty("approximate").GetString() == "none");
        using var x = oracle.Load(c, "x");
        using var y = oracle.Load(c, "y");
        using var exact = x.Gelu();
        using var tanh = x.Gelu(approximateTanh: true);
        TensorAssert.AssertClose(exact, y, 1e-6, 1e-5, "exact gelu");
        Assert.ThrowsAny<Exception>(() => TensorAssert.AssertClose(tanh, y, 1e-6, 1e-5, "tanh gelu against exact"));
    }
}

public class CaseParamsTests
{
    private static CaseParams Of(string json) => new(System.Text.Json.JsonDocument.Parse(json).RootElement, "test c0");

    [Fact]
    public void AKeyNeitherReadNorInformationalFailsNamingTheCaseAndKey()
    {
        var p = Of("""{"op":"avg_pool2d","kernel_size":[3,3],"divisor_override":2,"seed":1}""");
        Assert.Equal((3, 3), p.Pair("kernel_size"));
        Assert.Equal("avg_pool2d", p.String("op"));
        var e = Assert.ThrowsAny<Exception>(() => p.AssertAllRead("seed"));
        Assert.Contains("test c0 'divisor_override' = 2", e.Message);
        Assert.DoesNotContain("kernel_size", e.Message);
        p.Informational("divisor_override");
        p.AssertAllRead("seed");
    }

    [Fact]
    public void NestedObjectsAreCheckedAndWrongTypesOrMissingKeysFail()
    {
        var p = Of("""{"scheduler":"SequentialLR","warmup":{"scheduler":"LinearLR","total_iters":5,"last_epoch":-1},"padding":"same"}""");
        var child = p.Child(p.ObjectKeysWith("scheduler").Single());
        Assert.Equal(5, child.Int("total_iters"));
        Assert.Equal("LinearLR", child.String("scheduler"));
        p.String("scheduler");
        var e = Assert.ThrowsAny<Exception>(() => p.AssertAllRead("padding"));
        Assert.Contains("'warmup' 'last_epoch'", e.Message);
        Assert.Contains("'padding'", Assert.ThrowsAny<Exception>(() => p.Pair("padding")).Message);
        Assert.Contains("'eps'", Assert.ThrowsAny<Exception>(() => p.Double("eps")).Message);
        Assert.Equal(1e-5, p.Double("eps", 1e-5));
        Assert.Contains("not implemented", Assert.ThrowsAny<Exception>(() => Of("""{"amsgrad":true}""").Requires("amsgrad", false, "AMSGrad")).Message);
    }
}
