// activations.safetensors: forward y and backward gx (upstream gy) of every case, parameters from the metadata.
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleActivationTests
{
    private const string File = "activations.safetensors";
    // README "Suggested tolerances": activations and other elementwise ops
    private const double Atol = 1e-6, Rtol = 1e-5;

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Case(caseId);
        var what = p.What;
        Func<Tensor, Tensor> f = Activation(p, what);
        // 'edge_values_first' describes how x was drawn (its first values are fixed edge points)
        p.AssertAllRead("seed", "edge_values_first");
        oracle.AssertRoles(caseId, ["x", "gy", "y", "gx"]);
        using var scope = new DisposeScope();
        var x = oracle.Load(caseId, "x").RequiresGrad_();
        var gy = oracle.Load(caseId, "gy");
        var y = f(x);
        y.Backward(gy);
        TensorAssert.AssertClose(y, oracle.Load(caseId, "y"), Atol, Rtol, $"{what} y");
        TensorAssert.AssertClose(x.Grad!, oracle.Load(caseId, "gx"), Atol, Rtol, $"{what} gx");
    }

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);

    private static Func<Tensor, Tensor> Activation(CaseParams p, string what)
    {
        string op = p.String("op");
        switch (op)
        {
            case "relu": return t => t.Relu();
            case "leaky_relu": { double s = p.Double("negative_slope", 0.01); return t => t.LeakyRelu(s); }
            case "sigmoid": return t => t.Sigmoid();
            case "tanh": return t => t.Tanh();
            case "silu": return t => t.Silu();
            case "gelu":
                {
                    string approx = p.String("approximate", "none");
                    return approx switch
                    {
                        "none" => t => t.Gelu(),
                        "tanh" => t => t.Gelu(approximateTanh: true),
                        _ => throw new NotSupportedException($"{what}: gelu approximate '{approx}'"),
                    };
                }
            case "hardswish": return t => t.Hardswish();
            case "hardsigmoid": return t => t.Hardsigmoid();
            case "softplus":
                {
                    double beta = p.Double("beta", 1), threshold = p.Double("threshold", 20);
                    // the library's softplus is PyTorch's default (beta 1, threshold 20), which is what the oracle uses
                    Assert.True(beta == 1 && threshold == 20, $"{what}: softplus beta {beta} threshold {threshold} is not implemented (only 1 and 20)");
                    return t => t.Softplus();
                }
            default: throw new NotSupportedException($"{what}: no mapping for op '{op}'");
        }
    }
}
