using System.Text.Json;
using Cuda.Nn.Autograd;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Models;
using Cuda.Nn.Modules;
using Cuda.Nn.Optim;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

/// <summary>Optimizers, schedules, attention and the ResNet-18 weights against PyTorch 2.10.</summary>
public class OracleTrainingTests
{
    [Fact]
    public void OptimizersMatchThreeStepsAndTheirState()
    {
        using var f = Oracle.Open("optim.safetensors");
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            string kind = p.GetProperty("optimizer").GetString()!;
            using var param = Oracle.Load(f, $"{c}.param0");
            double lr = p.GetProperty("lr").GetDouble(), wd = p.GetProperty("weight_decay").GetDouble();
            if (p.TryGetProperty("amsgrad", out var amsgrad)) Assert.False(amsgrad.GetBoolean(), $"{kind} {c}: amsgrad is not implemented");
            using Optimizer opt = kind switch
            {
                "SGD" => new Sgd([param], lr, p.GetProperty("momentum").GetDouble(), p.GetProperty("dampening").GetDouble(), wd, p.GetProperty("nesterov").GetBoolean()),
                "Adam" => new Adam([param], lr, p.GetProperty("betas")[0].GetDouble(), p.GetProperty("betas")[1].GetDouble(), p.GetProperty("eps").GetDouble(), wd),
                "AdamW" => Adam.AdamW([param], lr, p.GetProperty("betas")[0].GetDouble(), p.GetProperty("betas")[1].GetDouble(), p.GetProperty("eps").GetDouble(), wd),
                _ => throw new NotSupportedException($"optim.safetensors {c}: no mapping for optimizer '{kind}'"),
            };
            int steps = p.GetProperty("steps").GetInt32();
            Assert.True(steps >= 1, $"{kind} {c}: steps {steps}");
            for (int step = 1; step <= steps; step++)
            {
                param.Grad = DisposeScope.Detach(Oracle.Load(f, $"{c}.grad{step}"));
                opt.Step();
                using var expected = Oracle.Load(f, $"{c}.param{step}");
                Oracle.AssertClose(param, expected, 1e-6, 1e-6, $"{kind} {c} step {step}");
            }
            var state = opt.StateDict();
            foreach (var role in new[] { "exp_avg", "exp_avg_sq", "momentum_buffer" })
                if (f.Contains($"{c}.{role}{steps}"))
                {
                    using var expected = Oracle.Load(f, $"{c}.{role}{steps}");
                    Oracle.AssertClose(state[$"state.0.{role}"], expected, 1e-6, 1e-5, $"{kind} {c} {role}");
                }
            foreach (var t in state.Values) t.Dispose();
        }
    }

    public static TheoryData<string> ScheduleCases => OracleFixture.CaseIds("schedules.safetensors");

    /// <summary>Every case's scheduler is built from its metadata alone (SequentialLR from its recorded children and milestones).</summary>
    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void SchedulesMatchCosineWarmupAndStep(string caseId)
    {
        using var oracle = OracleFixture.OpenCase("schedules.safetensors", caseId);
        var p = oracle.Params(caseId);
        string what = $"schedules.safetensors {caseId} ({p.GetProperty("scheduler").GetString()})";
        // OneCycleLR also cycles SGD's momentum, which the optimizers hold as one fixed value, not per group.
        if (p.GetProperty("scheduler").GetString() == "OneCycleLR") Assert.Skip($"{what}: OneCycleLR is not implemented (its momentum cycling needs a per-group momentum)");
        using var lr = oracle.Load(caseId, "lr");
        var expected = lr.ToArray<float>();
        Assert.Equal(p.GetProperty("length").GetInt32(), expected.Length);
        using var w = Tensor.Zeros([1]);
        using var opt = new Sgd([w], p.GetProperty("base_lr").GetDouble());
        var s = ScheduleFromMetadata(opt, p, what);
        for (int e = 0; e < expected.Length; e++)
        {
            Assert.True(Math.Abs(opt.Groups[0].Lr - expected[e]) <= 1e-6 * Math.Abs(expected[e]) + 1e-12, $"{what} lr[{e}] = {opt.Groups[0].Lr} vs {expected[e]}");
            s.Step();
        }
    }

    [Fact]
    public void ScheduleMetadataListsEveryCase() => OracleFileChecks.MetadataListsEveryCase("schedules.safetensors");

    /// <summary>A scheduler from a case's parameters (torch's names); a name it cannot build fails the test, naming it.</summary>
    private static LrScheduler ScheduleFromMetadata(Optimizer opt, JsonElement p, string what)
    {
        string name = p.GetProperty("scheduler").GetString()!;
        int Int(string key) => p.GetProperty(key).GetInt32();
        double Double(string key) => p.GetProperty(key).GetDouble();
        int[] Milestones() => p.GetProperty("milestones").EnumerateArray().Select(m => m.GetInt32()).ToArray();
        switch (name)
        {
            case "CosineAnnealingLR": return new CosineAnnealingLr(opt, Int("T_max"), Double("eta_min"));
            case "StepLR": return new StepLr(opt, Int("step_size"), Double("gamma"));
            case "MultiStepLR": return new MultiStepLr(opt, Milestones(), Double("gamma"));
            case "LinearLR": return new LinearLr(opt, Double("start_factor"), Double("end_factor"), Int("total_iters"));
            case "ConstantLR": return new ConstantLr(opt, Double("factor"), Int("total_iters"));
            case "ExponentialLR": return new ExponentialLr(opt, Double("gamma"));
            case "SequentialLR":
                {
                    // The children are a "schedulers" array, or (as this fixture records them) the object-valued
                    // properties naming a scheduler ("warmup", "main"), in the order written.
                    var children = p.TryGetProperty("schedulers", out var list)
                        ? list.EnumerateArray().ToList()
                        : p.EnumerateObject().Where(q => q.Value.ValueKind == JsonValueKind.Object && q.Value.TryGetProperty("scheduler", out _)).Select(q => q.Value).ToList();
                    var milestones = Milestones();
                    Assert.True(children.Count == milestones.Length + 1, $"{what}: {children.Count} child schedulers for {milestones.Length} milestones");
                    return new SequentialLr(opt, [.. children.Select((c, i) => ScheduleFromMetadata(opt, c, $"{what} child {i}"))], milestones);
                }
            default:
                Assert.Fail($"{what}: the metadata names scheduler '{name}', which this test cannot build");
                return null!;
        }
    }

    [Fact]
    public void AttentionMatchesSdpaAndMultiheadAttention()
    {
        using var f = Oracle.Open("attention.safetensors");
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            using var scope = new DisposeScope();
            if (p.GetProperty("op").GetString() == "scaled_dot_product_attention")
            {
                var q = Oracle.Load(f, $"{c}.q").RequiresGrad_();
                var k = Oracle.Load(f, $"{c}.k").RequiresGrad_();
                var v = Oracle.Load(f, $"{c}.v").RequiresGrad_();
                Assert.Equal("1/sqrt(D)", p.GetProperty("scale").GetString()); // the library's only scale
                var y = F.ScaledDotProductAttention(q, k, v, isCausal: p.GetProperty("is_causal").GetBoolean(), dropoutP: p.GetProperty("dropout_p").GetDouble());
                Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"sdpa {c} y");
                y.Backward(Oracle.Load(f, $"{c}.gy"));
                foreach (var (t, role) in new[] { (q, "gq"), (k, "gk"), (v, "gv") }) Oracle.AssertClose(t.Grad!, Oracle.Load(f, $"{c}.{role}"), 1e-4, 1e-4, $"sdpa {c} {role}");
                foreach (var t in new[] { q, k, v }) t.Dispose();
                continue;
            }
            int e = p.GetProperty("embed_dim").GetInt32(), h = p.GetProperty("num_heads").GetInt32();
            // The module is batch-first and averages the weights over heads; anything else has no mapping.
            Assert.True(p.GetProperty("batch_first").GetBoolean() && p.GetProperty("average_attn_weights").GetBoolean(), $"mha {c}: only batch_first and average_attn_weights are implemented");
            bool needWeights = p.GetProperty("need_weights").GetBoolean();
            using var mha = new MultiheadAttention(e, h, p.GetProperty("dropout").GetDouble(), p.GetProperty("bias").GetBoolean());
            var state = new Dictionary<string, Tensor>();
            foreach (var name in mha.StateDict().Keys) state[name] = Oracle.Load(f, $"{c}.{name}");
            mha.LoadStateDict(state);
            var x = Oracle.Load(f, $"{c}.x").RequiresGrad_();
            var mask = f.Contains($"{c}.attn_mask") ? Oracle.Load(f, $"{c}.attn_mask").Ne(0) : null;
            var y2 = mha.Forward(x, x, x, out var weights, mask, needWeights);
            Oracle.AssertClose(y2, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"mha {c} y");
            Assert.Equal(needWeights, f.Contains($"{c}.attn_weights"));
            if (needWeights) Oracle.AssertClose(weights!, Oracle.Load(f, $"{c}.attn_weights"), 1e-4, 1e-4, $"mha {c} attn_weights");
            y2.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), 1e-4, 1e-4, $"mha {c} gx");
            var sd = mha.StateDict();
            foreach (var name in state.Keys) Oracle.AssertClose(sd[name].Grad!, Oracle.Load(f, $"{c}.grad.{name}"), 1e-4, 1e-4, $"mha {c} grad {name}");
            x.Dispose();
            weights?.Dispose();
        }
    }

    [Fact]
    public void ResNet18LoadsTorchvisionWeightsAndMatchesLogitsLossGradientsAndRunningStats()
    {
        using var weightsFile = Oracle.Open("resnet18.safetensors");
        using var io = Oracle.Open("resnet18_io.safetensors");
        var (arch, numClasses) = Oracle.Architecture(weightsFile);
        Assert.Equal("resnet18", arch);
        Assert.Equal(Oracle.Architecture(io), (arch, numClasses));
        using var model = ResNet.ResNet18(numClasses: numClasses);
        Assert.Equal(long.Parse(weightsFile.Metadata["total_params"], System.Globalization.CultureInfo.InvariantCulture), model.ParameterCount());
        var state = TensorFile.Load(Path.Combine(Oracle.Directory!, "resnet18.safetensors"));
        var result = model.LoadStateDict(state);
        Assert.True(result.IsClean, result.ToString());
        foreach (var t in state.Values) t.Dispose();

        foreach (var c in Oracle.Cases(io))
        {
            var p = Oracle.Params(io, c);
            using var scope = new DisposeScope();
            switch (p.GetProperty("mode").GetString())
            {
                case "eval":
                    using (AutogradMode.NoGrad())
                    {
                        model.Eval();
                        var logits = model.Forward(Oracle.Load(io, $"{c}.x"));
                        Oracle.AssertClose(logits, Oracle.Load(io, $"{c}.logits"), 1e-3, 1e-3, $"resnet18 {c} eval logits");
                    }
                    break;
                case "train":
                    {
                        // ResNet-18 has no dropout, so the fixture's "dropout disabled" needs nothing here.
                        Assert.Equal("cross_entropy mean", p.GetProperty("loss").GetString());
                        model.Train();
                        var logits = model.Forward(Oracle.Load(io, $"{c}.x"));
                        Oracle.AssertClose(logits, Oracle.Load(io, $"{c}.logits"), 1e-3, 1e-3, $"resnet18 {c} train logits");
                        var loss = F.CrossEntropy(logits, Oracle.Load(io, $"{c}.target"));
                        Oracle.AssertClose(loss, Oracle.Load(io, $"{c}.loss"), 1e-3, 1e-3, $"resnet18 {c} train loss");
                        loss.Backward();
                        var sd = model.StateDict();
                        foreach (var name in p.GetProperty("grads").EnumerateArray().Select(g => g.GetString()!))
                            Oracle.AssertRelNorm(sd[name].Grad!, Oracle.Load(io, $"{c}.grad.{name}"), 1e-3, $"resnet18 {c} grad {name}");
                        string bn = p.GetProperty("running_stats_after").GetString()!;
                        foreach (var stat in new[] { "running_mean", "running_var" })
                            Oracle.AssertRelNorm(sd[$"{bn}.{stat}"], Oracle.Load(io, $"{c}.after.{bn}.{stat}"), 1e-3, $"resnet18 {c} {bn} {stat}");
                        break;
                    }
                case var mode: throw new NotSupportedException($"resnet18_io.safetensors {c}: no mapping for mode '{mode}'");
            }
        }
    }
}
