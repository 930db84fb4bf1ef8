// linear.safetensors: y = x W^T + b over the last dim of 2-D/3-D/4-D inputs, with and without bias; gx, gw, gb.
using Cuda.Nn.Functional;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleLinearTests
{
    private const string File = "linear.safetensors";
    private const double Atol = 1e-4, Rtol = 1e-4;

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What;
        p.Expect("op", "linear", "this test runs F.Linear");
        bool hasBias = p.Bool("bias");
        int inF = p.Int("in_features"), outF = p.Int("out_features");
        p.AssertAllRead("seed");
        oracle.AssertRoles(caseId, hasBias ? ["b", "gb", "gw", "gx", "gy", "w", "x", "y"] : ["gw", "gx", "gy", "w", "x", "y"]);
        using var scope = new DisposeScope();
        var x = oracle.Load(caseId, "x").RequiresGrad_();
        var w = oracle.Load(caseId, "w").RequiresGrad_();
        Assert.Equal([outF, inF], w.Shape);
        Assert.Equal(inF, x.Shape[^1]);
        Assert.Equal(hasBias, oracle.Has(caseId, "b"));
        var b = hasBias ? oracle.Load(caseId, "b").RequiresGrad_() : null;
        var y = F.Linear(x, w, b);
        y.Backward(oracle.Load(caseId, "gy"));
        TensorAssert.AssertClose(y, oracle.Load(caseId, "y"), Atol, Rtol, $"{what} y");
        TensorAssert.AssertClose(x.Grad!, oracle.Load(caseId, "gx"), Atol, Rtol, $"{what} gx");
        TensorAssert.AssertClose(w.Grad!, oracle.Load(caseId, "gw"), Atol, Rtol, $"{what} gw");
        if (hasBias) TensorAssert.AssertClose(b!.Grad!, oracle.Load(caseId, "gb"), Atol, Rtol, $"{what} gb");
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
