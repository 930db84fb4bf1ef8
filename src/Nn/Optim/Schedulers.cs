// Learning-rate schedules named after torch.optim.lr_scheduler, as closed forms of the step count e (what
// PyTorch's recursive forms equal). A scheduler sets every group's LR to LrAt(InitialLr, e); Step() advances e.
// Constructor arguments are checked in field initialisers, which run before the base constructor applies the LR.
namespace Cuda.Nn.Optim;

public abstract class LrScheduler
{
    public Optimizer Optimizer { get; }
    /// <summary>Number of Step() calls so far.</summary>
    public int StepCount { get; private set; }

    protected LrScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        Apply();
    }

    /// <summary>The LR for a group with base LR baseLr after e steps.</summary>
    public abstract double LrAt(double baseLr, int e);

    public void Step()
    {
        StepCount++;
        Apply();
    }

    /// <summary>Jumps to a step count (checkpoint resume).</summary>
    public void SetStepCount(int e)
    {
        StepCount = e;
        Apply();
    }

    private void Apply()
    {
        foreach (var g in Optimizer.Groups) g.Lr = LrAt(g.InitialLr, StepCount);
    }

    internal static T Check<T>(T value, bool ok, string scheduler, string param, string requirement) =>
        ok ? value : throw new ArgumentException($"{scheduler}: {param} {requirement}, got {value}", param);

    internal static int[] CheckMilestones(int[] milestones, string scheduler)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        for (int i = 0; i < milestones.Length; i++)
            if (milestones[i] < 1 || (i > 0 && milestones[i] <= milestones[i - 1]))
                throw new ArgumentException($"{scheduler}: milestones must be positive and strictly increasing, got [{string.Join(", ", milestones)}]", nameof(milestones));
        return (int[])milestones.Clone();
    }
}

/// <summary>torch's CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(pi e / T_max)) / 2.</summary>
public sealed class CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin = 0) : LrScheduler(optimizer)
{
    private readonly int _tMax = Check(tMax, tMax >= 1, nameof(CosineAnnealingLr), nameof(tMax), "must be at least 1");
    private readonly double _etaMin = Check(etaMin, etaMin >= 0, nameof(CosineAnnealingLr), nameof(etaMin), "must be non-negative");

    public override double LrAt(double baseLr, int e) => _etaMin + (baseLr - _etaMin) * (1 + Math.Cos(Math.PI * e / _tMax)) / 2;
}

/// <summary>torch's LinearLR: base * (start + (end - start) * min(e, total) / total).</summary>
public sealed class LinearLr(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5) : LrScheduler(optimizer)
{
    // PyTorch's ranges: start in (0, 1], end in [0, 1].
    private readonly double _start = Check(startFactor, startFactor is > 0 and <= 1, nameof(LinearLr), nameof(startFactor), "must be in (0, 1]");
    private readonly double _end = Check(endFactor, endFactor is >= 0 and <= 1, nameof(LinearLr), nameof(endFactor), "must be in [0, 1]");
    private readonly int _total = Check(totalIters, totalIters >= 1, nameof(LinearLr), nameof(totalIters), "must be at least 1");

    public override double LrAt(double baseLr, int e) => baseLr * (_start + (_end - _start) * Math.Min(e, _total) / _total);
}

/// <summary>torch's ConstantLR: base * factor while e &lt; totalIters, then base.</summary>
public sealed class ConstantLr(Optimizer optimizer, double factor = 1.0 / 3, int totalIters = 5) : LrScheduler(optimizer)
{
    private readonly double _factor = Check(factor, factor is >= 0 and <= 1, nameof(ConstantLr), nameof(factor), "must be in [0, 1]");
    private readonly int _total = Check(totalIters, totalIters >= 1, nameof(ConstantLr), nameof(totalIters), "must be at least 1");

    public override double LrAt(double baseLr, int e) => e < _total ? baseLr * _factor : baseLr;
}

/// <summary>torch's ExponentialLR: base * gamma^e.</summary>
public sealed class ExponentialLr(Optimizer optimizer, double gamma) : LrScheduler(optimizer)
{
    private readonly double _gamma = Check(gamma, gamma > 0 && double.IsFinite(gamma), nameof(ExponentialLr), nameof(gamma), "must be positive and finite");

    public override double LrAt(double baseLr, int e) => baseLr * Math.Pow(_gamma, e);
}

/// <summary>torch's StepLR: base * gamma^floor(e / stepSize).</summary>
public sealed class StepLr(Optimizer optimizer, int stepSize, double gamma = 0.1) : LrScheduler(optimizer)
{
    private readonly int _stepSize = Check(stepSize, stepSize >= 1, nameof(StepLr), nameof(stepSize), "must be at least 1");
    private readonly double _gamma = Check(gamma, gamma > 0 && double.IsFinite(gamma), nameof(StepLr), nameof(gamma), "must be positive and finite");

    public override double LrAt(double baseLr, int e) => baseLr * Math.Pow(_gamma, e / _stepSize);
}

/// <summary>torch's MultiStepLR: base * gamma^(number of milestones &lt;= e).</summary>
public sealed class MultiStepLr(Optimizer optimizer, int[] milestones, double gamma = 0.1) : LrScheduler(optimizer)
{
    private readonly int[] _milestones = CheckMilestones(milestones, nameof(MultiStepLr));
    private readonly double _gamma = Check(gamma, gamma > 0 && double.IsFinite(gamma), nameof(MultiStepLr), nameof(gamma), "must be positive and finite");

    public override double LrAt(double baseLr, int e)
    {
        int passed = 0;
        while (passed < _milestones.Length && e >= _milestones[passed]) passed++;
        return baseLr * Math.Pow(_gamma, passed);
    }
}

/// <summary>
/// torch's SequentialLR: runs the schedulers in turn, switching at the milestones; each restarts its own count
/// at its milestone (scheduler i sees e - milestones[i-1]). The children only lend their closed forms: stepping
/// this scheduler is what sets the LR.
/// </summary>
public sealed class SequentialLr(Optimizer optimizer, LrScheduler[] schedulers, int[] milestones) : LrScheduler(optimizer)
{
    private readonly int[] _milestones = CheckMilestones(milestones, nameof(SequentialLr));
    private readonly LrScheduler[] _schedulers = CheckSchedulers(optimizer, schedulers, milestones);

    public IReadOnlyList<LrScheduler> Schedulers => _schedulers;
    public IReadOnlyList<int> Milestones => _milestones;

    private static LrScheduler[] CheckSchedulers(Optimizer optimizer, LrScheduler[] schedulers, int[] milestones)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        if (schedulers.Length != milestones.Length + 1)
            throw new ArgumentException($"SequentialLr: schedulers must number milestones + 1 = {milestones.Length + 1}, got {schedulers.Length}", nameof(schedulers));
        for (int i = 0; i < schedulers.Length; i++)
            if (schedulers[i] is null || !ReferenceEquals(schedulers[i].Optimizer, optimizer))
                throw new ArgumentException($"SequentialLr: schedulers[{i}] must be a scheduler of the same optimizer", nameof(schedulers));
        return (LrScheduler[])schedulers.Clone();
    }

    public override double LrAt(double baseLr, int e)
    {
        int i = 0, start = 0;
        while (i < _milestones.Length && e >= _milestones[i]) start = _milestones[i++];
        return _schedulers[i].LrAt(baseLr, e - start);
    }

    /// <summary>
    /// LinearLr(startFactor, 1, warmupSteps) then CosineAnnealingLr(totalSteps - warmupSteps, etaMin), switching at
    /// warmupSteps. The cosine's length is at least 1, so a warmup as long as the run still builds.
    /// </summary>
    public static SequentialLr WarmupCosine(Optimizer optimizer, int warmupSteps, int totalSteps, double startFactor = 0.1, double etaMin = 0)
    {
        Check(warmupSteps, warmupSteps >= 1, nameof(WarmupCosine), nameof(warmupSteps), "must be at least 1");
        return new(optimizer,
            [new LinearLr(optimizer, startFactor, 1, warmupSteps), new CosineAnnealingLr(optimizer, Math.Max(1, totalSteps - warmupSteps), etaMin)],
            [warmupSteps]);
    }
}
