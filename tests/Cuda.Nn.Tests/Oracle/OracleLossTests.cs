// losses.safetensors: loss value and gradient of every case (cross-entropy with weights / label smoothing /
// ignore_index / 4-D logits, nll, BCE-with-logits with and without pos_weight, sigmoid focal, distillation, mse).
using System.Text.Json;
using Cuda.Nn.Functional;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class OracleLossTests
{
    private const string File = "losses.safetensors";
    private const double Atol = 1e-4, Rtol = 1e-4;

    public static TheoryData<string> Cases => OracleFixture.CaseIds(File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void LossAndGradient(string caseId)
    {
        using var oracle = OracleFixture.OpenCase(File, caseId);
        var p = oracle.Params(caseId);
        string op = p.GetProperty("op").GetString()!;
        var what = oracle.Describe(caseId);
        using var scope = new DisposeScope();
        // the differentiated input's role and the name of its gradient
        var (inRole, gradRole) = op switch
        {
            "nll_loss" or "mse_loss" => ("input", "ginput"),
            "distillation_kl" => ("student", "gstudent"),
            _ => ("logits", "glogits"),
        };
        var input = oracle.Load(caseId, inRole).RequiresGrad_();
        Tensor loss;
        switch (op)
        {
            case "cross_entropy":
                {
                    var target = oracle.Load(caseId, "target");
                    bool hasWeight = p.GetProperty("weight").GetBoolean();
                    Assert.Equal(hasWeight, oracle.Has(caseId, "weight"));
                    var weight = hasWeight ? oracle.Load(caseId, "weight") : null;
                    double eps = p.GetProperty("label_smoothing").GetDouble();
                    int ignore = p.GetProperty("ignore_index").GetInt32();
                    loss = F.CrossEntropy(input, target, weight, ignore, eps, ReductionOf(p, what));
                    what += $" weight={hasWeight} label_smoothing={eps} ignore_index={ignore}";
                    break;
                }
            case "nll_loss":
                loss = F.NllLoss(input, oracle.Load(caseId, "target"), reduction: ReductionOf(p, what));
                break;
            case "binary_cross_entropy_with_logits":
                {
                    bool hasPos = p.GetProperty("pos_weight").GetBoolean();
                    Assert.Equal(hasPos, oracle.Has(caseId, "pos_weight"));
                    var pos = hasPos ? oracle.Load(caseId, "pos_weight") : null;
                    loss = F.BinaryCrossEntropyWithLogits(input, oracle.Load(caseId, "target"), posWeight: pos, reduction: ReductionOf(p, what));
                    what += $" pos_weight={hasPos}";
                    break;
                }
            case "sigmoid_focal_loss":
                loss = F.SigmoidFocalLoss(input, oracle.Load(caseId, "target"), p.GetProperty("alpha").GetDouble(), p.GetProperty("gamma").GetDouble(), ReductionOf(p, what));
                break;
            case "distillation_kl":
                Assert.Equal("batchmean", p.GetProperty("reduction").GetString());
                Assert.True(p.GetProperty("scaled_by_T_squared").GetBoolean(), $"{what}: only the T^2-scaled form is implemented");
                loss = F.DistillationLoss(input, oracle.Load(caseId, "teacher"), p.GetProperty("temperature").GetDouble());
                break;
            case "mse_loss":
                loss = F.MseLoss(input, oracle.Load(caseId, "target"), ReductionOf(p, what));
                break;
            default:
                throw new NotSupportedException($"{what}: no mapping for op '{op}'");
        }
        loss.Backward();
        TensorAssert.AssertClose(loss, oracle.Load(caseId, "loss"), Atol, Rtol, $"{what} loss");
        TensorAssert.AssertClose(input.Grad!, oracle.Load(caseId, gradRole), Atol, Rtol, $"{what} {gradRole}");
    }

    private static Reduction ReductionOf(JsonElement p, string what) => p.GetProperty("reduction").GetString() switch
    {
        "mean" => Reduction.Mean,
        "sum" => Reduction.Sum,
        "none" => Reduction.None,
        var r => throw new NotSupportedException($"{what}: reduction '{r}'"),
    };

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
