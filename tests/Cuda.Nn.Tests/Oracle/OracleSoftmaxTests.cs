// softmax.safetensors: softmax / log_softmax forward and backward over the dim in the metadata
// (including dim 1 of a 4-D tensor and rows near +-80 / spread over +-100).
using Cuda.Nn.Functional;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleSoftmaxTests
{
    private const string File = "softmax.safetensors";
    private const double Atol = 1e-4, Rtol = 1e-4;

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What;
        string op = p.String("op");
        int dim = p.Int("dim");
        p.AssertAllRead("seed");
        oracle.AssertRoles(caseId, ["x", "gy", "y", "gx"]);
        using var scope = new DisposeScope();
        var x = oracle.Load(caseId, "x").RequiresGrad_();
        var y = op switch
        {
            "softmax" => F.Softmax(x, dim),
            "log_softmax" => F.LogSoftmax(x, dim),
            _ => throw new NotSupportedException($"{what}: no mapping for op '{op}'"),
        };
        y.Backward(oracle.Load(caseId, "gy"));
        TensorAssert.AssertClose(y, oracle.Load(caseId, "y"), Atol, Rtol, $"{what} dim {dim} y");
        TensorAssert.AssertClose(x.Grad!, oracle.Load(caseId, "gx"), Atol, Rtol, $"{what} dim {dim} gx");
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
