using System.Text.Json;
using Cuda.Nn.Functional;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

/// <summary>conv2d, pooling and batch norm against PyTorch 2.10 (../shared/oracle), forward and backward.</summary>
public class OracleConvTests
{
    private static (int, int) Pair(JsonElement p, string name) => (p.GetProperty(name)[0].GetInt32(), p.GetProperty(name)[1].GetInt32());

    [Fact]
    public void Conv2dMatchesEveryCase()
    {
        using var f = Oracle.Open("conv2d.safetensors");
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            using var scope = new DisposeScope();
            var x = Oracle.Load(f, $"{c}.x").RequiresGrad_();
            var w = Oracle.Load(f, $"{c}.w").RequiresGrad_();
            var b = p.GetProperty("bias").GetBoolean() ? Oracle.Load(f, $"{c}.b").RequiresGrad_() : null;
            var y = F.Conv2d(x, w, b, Pair(p, "stride"), Pair(p, "padding"), Pair(p, "dilation"), p.GetProperty("groups").GetInt32());
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"conv2d {c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), 1e-4, 1e-4, $"conv2d {c} gx");
            Oracle.AssertClose(w.Grad!, Oracle.Load(f, $"{c}.gw"), 1e-3, 1e-4, $"conv2d {c} gw");
            if (b is not null) Oracle.AssertClose(b.Grad!, Oracle.Load(f, $"{c}.gb"), 1e-3, 1e-4, $"conv2d {c} gb");
            foreach (var t in new[] { x, w, b }) t?.Dispose();
        }
    }

    [Fact]
    public void PoolingMatchesEveryCase()
    {
        using var f = Oracle.Open("pooling.safetensors");
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            using var scope = new DisposeScope();
            var x = Oracle.Load(f, $"{c}.x").RequiresGrad_();
            var op = p.GetProperty("op").GetString();
            var y = op switch
            {
                "max_pool2d" => F.MaxPool2d(x, Pair(p, "kernel_size"), Pair(p, "stride"), Pair(p, "padding"), p.GetProperty("ceil_mode").GetBoolean()),
                "avg_pool2d" => F.AvgPool2d(x, Pair(p, "kernel_size"), Pair(p, "stride"), Pair(p, "padding"), p.GetProperty("ceil_mode").GetBoolean(), p.GetProperty("count_include_pad").GetBoolean()),
                _ => F.AdaptiveAvgPool2d(x, Pair(p, "output_size")),
            };
            double tol = op == "max_pool2d" ? 0 : 1e-4;
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), tol, tol, $"{op} {c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), 1e-4, 1e-4, $"{op} {c} gx");
            x.Dispose();
        }
    }

    [Fact]
    public void BatchNormMatchesEveryCaseIncludingRunningStatistics()
    {
        using var f = Oracle.Open("batchnorm2d.safetensors");
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            bool training = p.GetProperty("training").GetBoolean();
            using var scope = new DisposeScope();
            var x = Oracle.Load(f, $"{c}.x").RequiresGrad_();
            var gamma = Oracle.Load(f, $"{c}.gamma").RequiresGrad_();
            var beta = Oracle.Load(f, $"{c}.beta").RequiresGrad_();
            var rm = Oracle.Load(f, $"{c}.running_mean_in");
            var rv = Oracle.Load(f, $"{c}.running_var_in");
            var y = F.BatchNorm2d(x, rm, rv, gamma, beta, training, p.GetProperty("momentum").GetDouble(), p.GetProperty("eps").GetDouble());
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), 1e-4, 1e-4, $"batchnorm {c} y");
            if (training)
            {
                Oracle.AssertClose(rm, Oracle.Load(f, $"{c}.running_mean_out"), 1e-5, 1e-4, $"batchnorm {c} running_mean");
                Oracle.AssertClose(rv, Oracle.Load(f, $"{c}.running_var_out"), 1e-5, 1e-4, $"batchnorm {c} running_var");
            }
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), 1e-4, 1e-4, $"batchnorm {c} gx");
            Oracle.AssertClose(gamma.Grad!, Oracle.Load(f, $"{c}.ggamma"), 1e-3, 1e-4, $"batchnorm {c} ggamma");
            Oracle.AssertClose(beta.Grad!, Oracle.Load(f, $"{c}.gbeta"), 1e-3, 1e-4, $"batchnorm {c} gbeta");
            foreach (var t in new[] { x, gamma, beta }) t.Dispose();
        }
    }
}
