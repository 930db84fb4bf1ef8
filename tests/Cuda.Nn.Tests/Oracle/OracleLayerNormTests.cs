// layernorm.safetensors: layer norm with affine weight and bias, eps and normalized_shape from the metadata
// (c3 has inputs offset by +100); y, gx, gw, gb. Runs the F32 kernel and the F64 composite path.
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleLayerNormTests
{
    private const string File = "layernorm.safetensors";
    private const double Atol = 1e-4, Rtol = 1e-4;

    public static TheoryData<string, bool> Cases()
    {
        var d = new TheoryData<string, bool>();
        foreach (var c in OracleFixture.CaseIds(File)) { d.Add(c.Data, false); d.Add(c.Data, true); }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward(string caseId, bool float64)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What + (float64 ? " [F64 path]" : " [F32 kernel]");
        p.Expect("op", "layer_norm", "this test runs F.LayerNorm");
        var shape = p.Ints("normalized_shape");
        double eps = p.Double("eps", 1e-5);
        bool affine = p.Bool("elementwise_affine", true);
        p.AssertAllRead("seed");
        oracle.AssertRoles(caseId, affine ? ["b", "gb", "gw", "gx", "gy", "w", "x", "y"] : ["gx", "gy", "x", "y"]);
        var dt = float64 ? DType.F64 : DType.F32;
        using var scope = new DisposeScope();
        var x = oracle.Load(caseId, "x").To(dt).RequiresGrad_();
        var w = affine ? oracle.Load(caseId, "w").To(dt).RequiresGrad_() : null;
        var b = affine ? oracle.Load(caseId, "b").To(dt).RequiresGrad_() : null;
        var y = F.LayerNorm(x, shape, w, b, eps);
        Assert.Equal(dt, y.DType);
        y.Backward(oracle.Load(caseId, "gy").To(dt));
        TensorAssert.AssertClose(y, oracle.Load(caseId, "y"), Atol, Rtol, $"{what} eps {eps} y");
        TensorAssert.AssertClose(x.Grad!, oracle.Load(caseId, "gx"), Atol, Rtol, $"{what} gx");
        if (affine)
        {
            TensorAssert.AssertClose(w!.Grad!, oracle.Load(caseId, "gw"), Atol, Rtol, $"{what} gw");
            TensorAssert.AssertClose(b!.Grad!, oracle.Load(caseId, "gb"), Atol, Rtol, $"{what} gb");
        }
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
