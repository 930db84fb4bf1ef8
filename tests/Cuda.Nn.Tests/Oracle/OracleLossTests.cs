// losses.safetensors: loss value and gradient of every case (cross-entropy with weights / label smoothing /
// ignore_index / 4-D logits, nll, BCE-with-logits with and without pos_weight, sigmoid focal, distillation, mse).
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
        var p = oracle.Case(caseId);
        string op = p.String("op");
        var what = p.What;
        using var scope = new DisposeScope();
        // the differentiated input's role and the name of its gradient
        var (inRole, gradRole) = op switch
        {
            "nll_loss" or "mse_loss" => ("input", "ginput"),
            "distillation_kl" => ("student", "gstudent"),
            _ => ("logits", "glogits"),
        };
        var input = oracle.Load(caseId, inRole).RequiresGrad_();
        var roles = new List<string> { inRole, gradRole, "loss", op == "distillation_kl" ? "teacher" : "target" };
        Tensor loss;
        switch (op)
        {
            case "cross_entropy":
                {
                    var target = oracle.Load(caseId, "target");
                    bool hasWeight = p.Bool("weight");
                    Assert.Equal(hasWeight, oracle.Has(caseId, "weight"));
                    var weight = hasWeight ? oracle.Load(caseId, "weight") : null;
                    if (hasWeight) roles.Add("weight");
                    // torch's defaults: label_smoothing 0, ignore_index -100
                    double eps = p.Double("label_smoothing", 0);
                    int ignore = p.Has("ignore_index") ? p.Int("ignore_index") : -100;
                    loss = F.CrossEntropy(input, target, weight, ignore, eps, ReductionOf(p, what));
                    what += $" weight={hasWeight} label_smoothing={eps} ignore_index={ignore}";
                    break;
                }
            case "nll_loss":
                // a class weight or ignore_index on an nll case has no mapping here: AssertAllRead names it
                loss = F.NllLoss(input, oracle.Load(caseId, "target"), reduction: ReductionOf(p, what));
                break;
            case "binary_cross_entropy_with_logits":
                {
                    bool hasPos = p.Bool("pos_weight");
                    Assert.Equal(hasPos, oracle.Has(caseId, "pos_weight"));
                    var pos = hasPos ? oracle.Load(caseId, "pos_weight") : null;
                    if (hasPos) roles.Add("pos_weight");
                    loss = F.BinaryCrossEntropyWithLogits(input, oracle.Load(caseId, "target"), posWeight: pos, reduction: ReductionOf(p, what));
                    what += $" pos_weight={hasPos}";
                    break;
                }
            case "sigmoid_focal_loss":
                loss = F.SigmoidFocalLoss(input, oracle.Load(caseId, "target"), p.Double("alpha"), p.Double("gamma"), ReductionOf(p, what));
                break;
            case "distillation_kl":
                p.Expect("reduction", "batchmean", "F.DistillationLoss divides by the batch size");
                p.Requires("scaled_by_T_squared", true, "the unscaled distillation loss");
                loss = F.DistillationLoss(input, oracle.Load(caseId, "teacher"), p.Double("temperature"));
                break;
            case "mse_loss":
                loss = F.MseLoss(input, oracle.Load(caseId, "target"), ReductionOf(p, what));
                break;
            default:
                throw new NotSupportedException($"{what}: no mapping for op '{op}'");
        }
        p.AssertAllRead("seed");
        oracle.AssertRoles(caseId, roles);
        loss.Backward();
        TensorAssert.AssertClose(loss, oracle.Load(caseId, "loss"), Atol, Rtol, $"{what} loss");
        TensorAssert.AssertClose(input.Grad!, oracle.Load(caseId, gradRole), Atol, Rtol, $"{what} {gradRole}");
    }

    private static Reduction ReductionOf(CaseParams p, string what) => p.String("reduction", "mean") switch
    {
        "mean" => Reduction.Mean,
        "sum" => Reduction.Sum,
        "none" => Reduction.None,
        var r => throw new NotSupportedException($"{what}: reduction '{r}'"),
    };

    [Fact]
    public void MetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase(File);
}
