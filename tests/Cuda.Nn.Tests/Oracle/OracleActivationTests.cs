// activations.safetensors: forward y and backward gx (upstream gy) of every case, parameters from the metadata.
using System.Text.Json;
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
        var p = oracle.Params(caseId);
        var what = oracle.Describe(caseId);
        Func<Tensor, Tensor> f = Activation(p, what);
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

    private static Func<Tensor, Tensor> Activation(JsonElement p, string what)
    {
        string op = p.GetProperty("op").GetString()!;
        switch (op)
        {
            case "relu": return t => t.Relu();
            case "leaky_relu": { double s = p.GetProperty("negative_slope").GetDouble(); return t => t.LeakyRelu(s); }
            case "sigmoid": return t => t.Sigmoid();
            case "tanh": return t => t.Tanh();
            case "silu": return t => t.Silu();
            case "gelu":
                {
                    string approx = p.TryGetProperty("approximate", out var a) ? a.GetString()! : "none";
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
                    double beta = p.TryGetProperty("beta", out var b) ? b.GetDouble() : 1;
                    double threshold = p.TryGetProperty("threshold", out var th) ? th.GetDouble() : 20;
                    // the library's softplus is PyTorch's default (beta 1, threshold 20), which is what the oracle uses
                    Assert.True(beta == 1 && threshold == 20, $"{what}: softplus beta {beta} threshold {threshold} is not implemented (only 1 and 20)");
                    return t => t.Softplus();
                }
            default: throw new NotSupportedException($"{what}: no mapping for op '{op}'");
        }
    }
}
