// conv2d, batch_norm2d, pooling and interpolate against the PyTorch fixtures in ../shared/oracle (every case,
// forward and backward, with the README's tolerances).
using System.Text.Json;
using Cuda.Nn.Functional;
using Cuda.Nn.IO;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class ConvOracleTests
{
    private const double Atol = 1e-4, Rtol = 1e-4, SumAtol = 1e-3;

    private static (int, int) Pair(JsonElement p, string name) => (p.GetProperty(name)[0].GetInt32(), p.GetProperty(name)[1].GetInt32());

    private static Tensor Leaf(SafeTensorsFile f, string name) => Oracle.Load(f, name).RequiresGrad_();

    [Fact]
    public void Conv2dMatchesEveryOracleCase()
    {
        using var f = Oracle.Open("conv2d.safetensors");
        int cases = 0;
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            bool hasBias = p.GetProperty("bias").GetBoolean();
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            var w = Leaf(f, $"{c}.w");
            var b = hasBias ? Leaf(f, $"{c}.b") : null;
            var y = F.Conv2d(x, w, b, Pair(p, "stride"), Pair(p, "padding"), Pair(p, "dilation"), p.GetProperty("groups").GetInt32());
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), Atol, Rtol, $"{c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), Atol, Rtol, $"{c} gx");
            Oracle.AssertClose(w.Grad!, Oracle.Load(f, $"{c}.gw"), SumAtol, Rtol, $"{c} gw");
            if (b is not null) Oracle.AssertClose(b.Grad!, Oracle.Load(f, $"{c}.gb"), SumAtol, Rtol, $"{c} gb");
            cases++;
        }
        OracleFileChecks.MetadataListsEveryCase("conv2d.safetensors");
        Assert.True(cases > 0);
    }

    [Fact]
    public void BatchNorm2dMatchesEveryOracleCase()
    {
        using var f = Oracle.Open("batchnorm2d.safetensors");
        int cases = 0;
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            bool training = p.GetProperty("training").GetBoolean();
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            var gamma = Leaf(f, $"{c}.gamma");
            var beta = Leaf(f, $"{c}.beta");
            var rm = Oracle.Load(f, $"{c}.running_mean_in");
            var rv = Oracle.Load(f, $"{c}.running_var_in");
            var y = F.BatchNorm2d(x, rm, rv, gamma, beta, training, p.GetProperty("momentum").GetDouble(), p.GetProperty("eps").GetDouble());
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), Atol, Rtol, $"{c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), Atol, Rtol, $"{c} gx");
            Oracle.AssertClose(gamma.Grad!, Oracle.Load(f, $"{c}.ggamma"), SumAtol, Rtol, $"{c} ggamma");
            Oracle.AssertClose(beta.Grad!, Oracle.Load(f, $"{c}.gbeta"), SumAtol, Rtol, $"{c} gbeta");
            if (training)
            {
                Oracle.AssertClose(rm, Oracle.Load(f, $"{c}.running_mean_out"), Atol, Rtol, $"{c} running_mean");
                Oracle.AssertClose(rv, Oracle.Load(f, $"{c}.running_var_out"), Atol, Rtol, $"{c} running_var");
            }
            else
            {
                Oracle.AssertClose(rm, Oracle.Load(f, $"{c}.running_mean_in"), 0, 0, $"{c} running_mean untouched in eval");
            }
            cases++;
        }
        OracleFileChecks.MetadataListsEveryCase("batchnorm2d.safetensors");
        Assert.True(cases > 0);
    }

    [Fact]
    public void PoolingMatchesEveryOracleCase()
    {
        using var f = Oracle.Open("pooling.safetensors");
        int cases = 0;
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            Tensor y = p.GetProperty("op").GetString() switch
            {
                "max_pool2d" => F.MaxPool2d(x, Pair(p, "kernel_size"), Pair(p, "stride"), Pair(p, "padding"), Pair(p, "dilation"), p.GetProperty("ceil_mode").GetBoolean()),
                "avg_pool2d" => F.AvgPool2d(x, Pair(p, "kernel_size"), Pair(p, "stride"), Pair(p, "padding"), p.GetProperty("ceil_mode").GetBoolean(),
                    p.GetProperty("count_include_pad").GetBoolean()),
                "adaptive_avg_pool2d" => F.AdaptiveAvgPool2d(x, Pair(p, "output_size")),
                var op => throw new InvalidOperationException($"unknown pooling op {op}"),
            };
            bool exact = p.GetProperty("op").GetString() == "max_pool2d";
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), exact ? 0 : Atol, exact ? 0 : Rtol, $"{c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), Atol, Rtol, $"{c} gx");
            cases++;
        }
        OracleFileChecks.MetadataListsEveryCase("pooling.safetensors");
        Assert.True(cases > 0);
    }

    [Fact]
    public void InterpolateMatchesEveryOracleCase()
    {
        using var f = Oracle.Open("interpolate.safetensors");
        int cases = 0;
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Params(f, c);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            string mode = p.GetProperty("mode").GetString()!;
            Assert.False(p.GetProperty("antialias").GetBoolean(), $"{c}: antialias is not implemented");
            if (p.TryGetProperty("recompute_scale_factor", out var recompute)) Assert.False(recompute.GetBoolean(), $"{c}: recompute_scale_factor is not implemented");
            bool? align = p.GetProperty("align_corners").ValueKind == JsonValueKind.Null ? null : p.GetProperty("align_corners").GetBoolean();
            Tensor y = p.TryGetProperty("size", out var size)
                ? F.Interpolate(x, size: (size[0].GetInt32(), size[1].GetInt32()), mode: mode, alignCorners: align)
                : F.Interpolate(x, scaleFactor: (p.GetProperty("scale_factor")[0].GetDouble(), p.GetProperty("scale_factor")[1].GetDouble()), mode: mode, alignCorners: align);
            bool exact = mode == "nearest";
            Oracle.AssertClose(y, Oracle.Load(f, $"{c}.y"), exact ? 0 : Atol, exact ? 0 : Rtol, $"{c} y");
            y.Backward(Oracle.Load(f, $"{c}.gy"));
            Oracle.AssertClose(x.Grad!, Oracle.Load(f, $"{c}.gx"), Atol, Rtol, $"{c} gx");
            cases++;
        }
        OracleFileChecks.MetadataListsEveryCase("interpolate.safetensors");
        Assert.True(cases > 0);
    }
}
