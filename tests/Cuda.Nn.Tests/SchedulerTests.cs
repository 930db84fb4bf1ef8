// LR schedulers against scalar float64 references written here: PyTorch's recursive (chainable) update
// rules where they have one, so the library's closed forms are checked against a different formula.
using Cuda.Nn.Optim;

namespace Cuda.Nn.Tests;

public class SchedulerTests
{
    private static Sgd Optimizer(params double[] lrs) =>
        new([.. lrs.Select(lr => new ParamGroup([Tensor.Zeros([1])], lr))]);

    /// <summary>Steps the scheduler n times, checking every group's LR against reference(group, e) before each step.</summary>
    private static void AssertFollows(LrScheduler s, int n, Func<int, int, double> reference, string what)
    {
        for (int e = 0; e <= n; e++)
        {
            for (int g = 0; g < s.Optimizer.Groups.Count; g++)
            {
                double want = reference(g, e), got = s.Optimizer.Groups[g].Lr;
                Assert.True(Math.Abs(got - want) <= 1e-12 * Math.Abs(want) + 1e-18, $"{what}: group {g} lr[{e}] = {got:R}, reference {want:R}");
            }
            s.Step();
        }
    }

    /// <summary>torch's recursive CosineAnnealingLR.get_lr, from lr[0] = base.</summary>
    private static double[] RecursiveCosine(double baseLr, int tMax, double etaMin, int n)
    {
        var lr = new double[n + 1];
        lr[0] = baseLr;
        for (int e = 1; e <= n; e++)
            lr[e] = (e - 1 - tMax) % (2 * tMax) == 0
                ? lr[e - 1] + (baseLr - etaMin) * (1 - Math.Cos(Math.PI / tMax)) / 2
                : (1 + Math.Cos(Math.PI * e / tMax)) / (1 + Math.Cos(Math.PI * (e - 1) / tMax)) * (lr[e - 1] - etaMin) + etaMin;
        return lr;
    }

    [Fact]
    public void CosineAnnealingMatchesTheRecursiveFormPastTMax()
    {
        double[] bases = [0.1, 0.03];
        using var opt = Optimizer(bases);
        var refs = bases.Select(b => RecursiveCosine(b, 7, 1e-3, 20)).ToArray();
        // Past T_max the cosine rises again, in both forms.
        AssertFollows(new CosineAnnealingLr(opt, 7, 1e-3), 20, (g, e) => refs[g][e], "cosine");
    }

    [Fact]
    public void LinearRampsAndThenHolds()
    {
        using var opt = Optimizer(0.2, 0.05);
        double[] bases = [0.2, 0.05];
        // torch's recursive LinearLR: lr[0] = base * start, then lr *= 1 + (end - start) / (total * start + (e - 1) * (end - start)).
        double start = 0.25, end = 0.9;
        int total = 4;
        var refs = bases.Select(b =>
        {
            var lr = new double[11];
            lr[0] = b * start;
            for (int e = 1; e <= 10; e++)
                lr[e] = e > total ? lr[e - 1] : lr[e - 1] * (1 + (end - start) / (total * start + (e - 1) * (end - start)));
            return lr;
        }).ToArray();
        AssertFollows(new LinearLr(opt, start, end, total), 10, (g, e) => refs[g][e], "linear");
    }

    [Fact]
    public void ConstantHoldsTheFactorUntilTotalIters()
    {
        using var opt = Optimizer(0.4);
        AssertFollows(new ConstantLr(opt, 0.5, 3), 6, (_, e) => e < 3 ? 0.2 : 0.4, "constant");
        using var full = Optimizer(0.4);
        AssertFollows(new ConstantLr(full, 0, 1), 3, (_, e) => e < 1 ? 0 : 0.4, "constant factor 0");
    }

    [Fact]
    public void ExponentialStepAndMultiStepMultiplyByGamma()
    {
        double lr = 0.1;
        var exp = new double[9];
        for (int e = 0; e <= 8; e++, lr *= 0.7) exp[e] = lr;
        using (var opt = Optimizer(0.1)) AssertFollows(new ExponentialLr(opt, 0.7), 8, (_, e) => exp[e], "exponential");

        // Recursive forms: multiply by gamma on reaching each step boundary or milestone.
        double Recursive(int e, Func<int, bool> boundary)
        {
            double v = 0.5;
            for (int i = 1; i <= e; i++) if (boundary(i)) v *= 0.3;
            return v;
        }
        using (var opt = Optimizer(0.5)) AssertFollows(new StepLr(opt, 3, 0.3), 10, (_, e) => Recursive(e, i => i % 3 == 0), "step");
        using (var opt = Optimizer(0.5)) AssertFollows(new MultiStepLr(opt, [2, 5, 6], 0.3), 10, (_, e) => Recursive(e, i => i is 2 or 5 or 6), "multistep");
    }

    [Fact]
    public void SequentialRestartsEachChildAtItsMilestone()
    {
        using var opt = Optimizer(0.1, 0.01);
        double[] bases = [0.1, 0.01];
        var s = new SequentialLr(opt, [new ConstantLr(opt, 0.5, 10), new LinearLr(opt, 0.2, 1, 4), new ExponentialLr(opt, 0.9)], [3, 7]);
        AssertFollows(s, 12, (g, e) =>
        {
            double b = bases[g];
            if (e < 3) return b * 0.5;
            if (e < 7) return b * (0.2 + 0.8 * (e - 3) / 4.0);
            double v = b;
            for (int i = 7; i < e; i++) v *= 0.9;
            return v;
        }, "constant, linear, exponential");
        Assert.Equal(new[] { 3, 7 }, s.Milestones);
        Assert.Equal(3, s.Schedulers.Count);
    }

    [Fact]
    public void WarmupCosineIsLinearThenCosineAndEqualsTheComposition()
    {
        const int warmup = 5, total = 100;
        using var opt = Optimizer(1e-4);
        var cosine = RecursiveCosine(1e-4, total - warmup, 1e-6, total);
        var s = SequentialLr.WarmupCosine(opt, warmup, total, startFactor: 0.2, etaMin: 1e-6);
        AssertFollows(s, total, (_, e) => e < warmup ? 1e-4 * (0.2 + 0.8 * e / warmup) : cosine[e - warmup], "warmup cosine");

        using var opt2 = Optimizer(1e-4);
        var composed = new SequentialLr(opt2, [new LinearLr(opt2, 0.2, 1, warmup), new CosineAnnealingLr(opt2, total - warmup, 1e-6)], [warmup]);
        for (int e = 0; e <= total; e++) Assert.Equal(composed.LrAt(1e-4, e), s.LrAt(1e-4, e));
        Assert.IsType<LinearLr>(s.Schedulers[0]);
        Assert.IsType<CosineAnnealingLr>(s.Schedulers[1]);
    }

    [Fact]
    public void SetStepCountResumesWhereSteppingWould()
    {
        using var a = Optimizer(0.3);
        using var b = Optimizer(0.3);
        var stepped = SequentialLr.WarmupCosine(a, 4, 30);
        var resumed = SequentialLr.WarmupCosine(b, 4, 30);
        for (int i = 0; i < 17; i++) stepped.Step();
        resumed.SetStepCount(17);
        Assert.Equal(a.Groups[0].Lr, b.Groups[0].Lr);
        Assert.Equal(17, resumed.StepCount);
    }

    private static void AssertRejects(Func<Optimizer, object> make, string param, string text)
    {
        using var opt = Optimizer(0.1);
        var e = Assert.Throws<ArgumentException>(() => make(opt));
        Assert.Equal(param, e.ParamName);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void BadArgumentsNameTheParameter()
    {
        AssertRejects(o => new CosineAnnealingLr(o, 0), "tMax", "CosineAnnealingLr: tMax must be at least 1, got 0");
        AssertRejects(o => new CosineAnnealingLr(o, 5, -1), "etaMin", "etaMin must be non-negative");
        AssertRejects(o => new LinearLr(o, 0), "startFactor", "LinearLr: startFactor must be in (0, 1], got 0");
        AssertRejects(o => new LinearLr(o, 1.5), "startFactor", "startFactor must be in (0, 1]");
        AssertRejects(o => new LinearLr(o, 0.5, 1.1), "endFactor", "endFactor must be in [0, 1]");
        AssertRejects(o => new LinearLr(o, 0.5, 1, 0), "totalIters", "totalIters must be at least 1");
        AssertRejects(o => new ConstantLr(o, 1.2), "factor", "ConstantLr: factor must be in [0, 1], got 1.2");
        AssertRejects(o => new ConstantLr(o, 0.5, 0), "totalIters", "totalIters must be at least 1");
        AssertRejects(o => new ExponentialLr(o, 0), "gamma", "ExponentialLr: gamma must be positive and finite");
        AssertRejects(o => new ExponentialLr(o, double.NaN), "gamma", "gamma must be positive");
        AssertRejects(o => new StepLr(o, 0), "stepSize", "StepLr: stepSize must be at least 1");
        AssertRejects(o => new StepLr(o, 2, -0.5), "gamma", "gamma must be positive");
        AssertRejects(o => new MultiStepLr(o, [3, 3]), "milestones", "MultiStepLr: milestones must be positive and strictly increasing, got [3, 3]");
        AssertRejects(o => new MultiStepLr(o, [0, 3]), "milestones", "strictly increasing");
        AssertRejects(o => new SequentialLr(o, [new ConstantLr(o), new ConstantLr(o)], [4, 2]), "milestones", "SequentialLr: milestones must be positive and strictly increasing, got [4, 2]");
        AssertRejects(o => new SequentialLr(o, [new ConstantLr(o), new ConstantLr(o)], [2, 4]), "schedulers", "schedulers must number milestones + 1 = 3, got 2");
        using var other = Optimizer(0.1);
        AssertRejects(o => new SequentialLr(o, [new ConstantLr(o), new ConstantLr(other)], [2]), "schedulers", "schedulers[1] must be a scheduler of the same optimizer");
        AssertRejects(o => SequentialLr.WarmupCosine(o, 0, 10), "warmupSteps", "WarmupCosine: warmupSteps must be at least 1, got 0");
    }
}
