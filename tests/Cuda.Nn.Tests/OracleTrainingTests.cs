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
            using Optimizer opt = kind switch
            {
                "SGD" => new Sgd([param], lr, p.GetProperty("momentum").GetDouble(), p.GetProperty("dampening").GetDouble(), wd, p.GetProperty("nesterov").GetBoolean()),
                "Adam" => new Adam([param], lr, p.GetProperty("betas")[0].GetDouble(), p.GetProperty("betas")[1].GetDouble(), p.GetProperty("eps").GetDouble(), wd),
                _ => Adam.AdamW([param], lr, p.GetProperty("betas")[0].GetDouble(), p.GetProperty("betas")[1].GetDouble(), p.GetProperty("eps").GetDouble(), wd),
            };
            for (int step = 1; step <= 3; step++)
            {
                param.Grad = DisposeScope.Detach(Oracle.Load(f, $"{c}.grad{step}"));
                opt.Step();
                using var expected = Oracle.Load(f, $"{c}.param{step}");
                Oracle.AssertClose(param, expected, 1e-6, 1e-6, $"{kind} {c} step {step}");
            }
            var state = opt.StateDict();
            foreach (var role in new[] { "exp_avg", "exp_avg_sq", "momentum_buffer" })
                if (f.Contains($"{c}.{role}3"))
                {
                    using var expected = Oracle.Load(f, $"{c}.{role}3");
                    Oracle.AssertClose(state[$"state.0.{role}"], expected, 1e-6, 1e-5, $"{kind} {c} {role}");
                }
            foreach (var t in state.Values) t.Dispose();
        }
    }

    [Fact]
    public void SchedulesMatchCosineWarmupAndStep()
    {
        using var f = Oracle.Open("schedules.safetensors");
        foreach (var c in new[] { "c0", "c1", "c2" })
        {
            var p = Oracle.Params(f, c);
            var expected = f.ReadAsFloat32($"{c}.lr");
            double baseLr = p.GetProperty("base_lr").GetDouble();
            using var w = Tensor.Zeros([1]);
            using var opt = new Sgd([w], baseLr);
            LrScheduler s = p.GetProperty("scheduler").GetString() switch
            {
                "CosineAnnealingLR" => new CosineAnnealingLr(opt, p.GetProperty("T_max").GetInt32(), p.GetProperty("eta_min").GetDouble()),
                "StepLR" => new StepLr(opt, p.GetProperty("step_size").GetInt32(), p.GetProperty("gamma").GetDouble()),
                _ => new SequentialLr(opt,
                    [(b, e) => b * (0.2 + 0.8 * Math.Min(e, 5) / 5.0), (b, e) => 1e-6 + (b - 1e-6) * (1 + Math.Cos(Math.PI * e / 95)) / 2], [5]),
            };
            for (int e = 0; e < expected.Length; e++)
            {
                Assert.True(Math.Abs(opt.Groups[0].Lr - expected[e]) <= 1e-6 * Math.Abs(expected[e]) + 1e-12, $"{c} lr[{e}] = {opt.Groups[0].Lr} vs {expected[e]}");
                s.Step();
            }
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
                var y = F.ScaledDotProductAttention(q, k, v, isCausal: p.GetProperty("is_causal").GetBoolean());
                Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"sdpa {c} y");
                y.Backward(Oracle.Load(f, $"{c}.gy"));
                foreach (var (t, role) in new[] { (q, "gq"), (k, "gk"), (v, "gv") }) Oracle.AssertClose(t.Grad!, Oracle.Load(f, $"{c}.{role}"), 1e-4, 1e-4, $"sdpa {c} {role}");
                foreach (var t in new[] { q, k, v }) t.Dispose();
                continue;
            }
            int e = p.GetProperty("embed_dim").GetInt32(), h = p.GetProperty("num_heads").GetInt32();
            using var mha = new MultiheadAttention(e, h);
            var state = new Dictionary<string, Tensor>();
            foreach (var name in new[] { "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias" }) state[name] = Oracle.Load(f, $"{c}.{name}");
            mha.LoadStateDict(state);
            var x = Oracle.Load(f, $"{c}.x").RequiresGrad_();
            var mask = f.Contains($"{c}.attn_mask") ? Oracle.Load(f, $"{c}.attn_mask").Ne(0) : null;
            var y2 = mha.Forward(x, x, x, out var weights, mask);
            Oracle.AssertClose(y2, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"mha {c} y");
            Oracle.AssertClose(weights!, Oracle.Load(f, $"{c}.attn_weights"), 1e-4, 1e-4, $"mha {c} attn_weights");
            y2.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), 1e-4, 1e-4, $"mha {c} gx");
            var sd = mha.StateDict();
            foreach (var name in state.Keys) Oracle.AssertClose(sd[name].Grad!, Oracle.Load(f, $"{c}.grad.{name}"), 1e-4, 1e-4, $"mha {c} grad {name}");
            x.Dispose();
            weights!.Dispose();
        }
    }

    [Fact]
    public void ResNet18LoadsTorchvisionWeightsAndMatchesLogitsLossGradientsAndRunningStats()
    {
        using var weightsFile = Oracle.Open("resnet18.safetensors");
        using var io = Oracle.Open("resnet18_io.safetensors");
        using var model = ResNet.ResNet18(numClasses: 10);
        Assert.Equal(11_181_642, model.ParameterCount());
        var state = TensorFile.Load(Path.Combine(Oracle.Directory!, "resnet18.safetensors"));
        var result = model.LoadStateDict(state);
        Assert.True(result.IsClean, result.ToString());
        foreach (var t in state.Values) t.Dispose();

        using (var scope = new DisposeScope())
        using (AutogradMode.NoGrad())
        {
            model.Eval();
            var logits = model.Forward(Oracle.Load(io, "c0.x"));
            Oracle.AssertClose(logits, Oracle.Load(io, "c0.logits"), 1e-3, 1e-3, "resnet18 eval logits");
        }
        using (var scope = new DisposeScope())
        {
            model.Train();
            var logits = model.Forward(Oracle.Load(io, "c1.x"));
            Oracle.AssertClose(logits, Oracle.Load(io, "c1.logits"), 1e-3, 1e-3, "resnet18 train logits");
            var loss = F.CrossEntropy(logits, Oracle.Load(io, "c1.target"));
            Oracle.AssertClose(loss, Oracle.Load(io, "c1.loss"), 1e-3, 1e-3, "resnet18 train loss");
            loss.Backward();
            var sd = model.StateDict();
            foreach (var name in new[] { "conv1.weight", "layer1.0.conv1.weight", "fc.weight", "fc.bias" })
                Oracle.AssertRelNorm(sd[name].Grad!, Oracle.Load(io, $"c1.grad.{name}"), 1e-3, $"resnet18 grad {name}");
            Oracle.AssertRelNorm(sd["bn1.running_mean"], Oracle.Load(io, "c1.after.bn1.running_mean"), 1e-3, "bn1 running_mean");
            Oracle.AssertRelNorm(sd["bn1.running_var"], Oracle.Load(io, "c1.after.bn1.running_var"), 1e-3, "bn1 running_var");
        }
    }
}
