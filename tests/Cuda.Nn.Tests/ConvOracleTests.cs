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

    private static Tensor Leaf(SafeTensorsFile f, string name) => Oracle.Load(f, name).RequiresGrad_();

    [Fact]
    public void Conv2dMatchesEveryOracleCase()
    {
        using var f = Oracle.Open("conv2d.safetensors");
        int cases = 0;
        foreach (var c in Oracle.Cases(f))
        {
            var p = Oracle.Case(f, c);
            p.Expect("op", "conv2d", "this test runs F.Conv2d");
            bool hasBias = p.Bool("bias");
            Oracle.AssertRoles(f, c, hasBias ? ["x", "w", "b", "gy", "y", "gx", "gw", "gb"] : ["x", "w", "gy", "y", "gx", "gw"]);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            var w = Leaf(f, $"{c}.w");
            var b = hasBias ? Leaf(f, $"{c}.b") : null;
            var y = F.Conv2d(x, w, b, p.Pair("stride"), p.Pair("padding"), p.Pair("dilation"), p.Int("groups"));
            p.AssertAllRead("seed");
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
            var p = Oracle.Case(f, c);
            p.Expect("op", "batch_norm2d", "this test runs F.BatchNorm2d");
            bool training = p.Bool("training");
            string[] roles = ["x", "gamma", "beta", "running_mean_in", "running_var_in", "gy", "y", "gx", "ggamma", "gbeta"];
            Oracle.AssertRoles(f, c, training ? [.. roles, "running_mean_out", "running_var_out"] : roles);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            var gamma = Leaf(f, $"{c}.gamma");
            var beta = Leaf(f, $"{c}.beta");
            var rm = Oracle.Load(f, $"{c}.running_mean_in");
            var rv = Oracle.Load(f, $"{c}.running_var_in");
            var y = F.BatchNorm2d(x, rm, rv, gamma, beta, training, p.Double("momentum"), p.Double("eps"));
            p.AssertAllRead("seed");
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
                Oracle.AssertClose(rv, Oracle.Load(f, $"{c}.running_var_in"), 0, 0, $"{c} running_var untouched in eval");
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
            var p = Oracle.Case(f, c);
            Oracle.AssertRoles(f, c, ["x", "gy", "y", "gx"]);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            string op = p.String("op");
            Tensor y = op switch
            {
                // torch's max_pool2d/avg_pool2d: stride defaults to the kernel size, padding to 0, dilation to 1
                "max_pool2d" => F.MaxPool2d(x, p.Pair("kernel_size"), p.Has("stride") ? p.Pair("stride") : p.Pair("kernel_size"), p.Has("padding") ? p.Pair("padding") : (0, 0),
                    p.Has("dilation") ? p.Pair("dilation") : (1, 1), p.Bool("ceil_mode", false)),
                "avg_pool2d" => F.AvgPool2d(x, p.Pair("kernel_size"), p.Has("stride") ? p.Pair("stride") : p.Pair("kernel_size"), p.Has("padding") ? p.Pair("padding") : (0, 0),
                    p.Bool("ceil_mode", false), p.Bool("count_include_pad", true)),
                "adaptive_avg_pool2d" => F.AdaptiveAvgPool2d(x, p.Pair("output_size")),
                _ => throw new InvalidOperationException($"{p.What}: unknown pooling op {op}"),
            };
            // divisor_override, return_indices and anything else a case adds fail here instead of being ignored
            p.AssertAllRead("seed");
            bool exact = op == "max_pool2d";
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
            var p = Oracle.Case(f, c);
            p.Expect("op", "interpolate", "this test runs F.Interpolate");
            Oracle.AssertRoles(f, c, ["x", "gy", "y", "gx"]);
            using var scope = new DisposeScope();
            var x = Leaf(f, $"{c}.x");
            string mode = p.String("mode");
            p.Requires("antialias", false, "antialiased interpolation");
            p.Requires("recompute_scale_factor", false, "recompute_scale_factor");
            bool? align = p.Has("align_corners") && p.Get("align_corners").ValueKind != JsonValueKind.Null ? p.Bool("align_corners") : null;
            p.Informational("align_corners"); // null: the mode has no such argument
            Assert.True(p.Has("size") != p.Has("scale_factor"), $"{p.What}: exactly one of 'size' and 'scale_factor' must be given");
            Tensor y = p.Has("size")
                ? F.Interpolate(x, size: p.Pair("size"), mode: mode, alignCorners: align)
                : F.Interpolate(x, scaleFactor: p.DoublePair("scale_factor"), mode: mode, alignCorners: align);
            p.AssertAllRead("seed");
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
