// Learning-rate schedules as closed forms of the step count e (what PyTorch's recursive forms equal).
// A scheduler sets every group's LR to InitialLr * factor(e); Step() advances e by one.
namespace Cuda.Nn.Optim;

public abstract class LrScheduler
{
    public Optimizer Optimizer { get; }
    /// <summary>Number of Step() calls so far.</summary>
    public int StepCount { get; private set; }

    protected LrScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer;
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
}

/// <summary>eta_min + (base - eta_min)(1 + cos(pi e / T_max)) / 2.</summary>
public sealed class CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin = 0) : LrScheduler(optimizer)
{
    public override double LrAt(double baseLr, int e) => etaMin + (baseLr - etaMin) * (1 + Math.Cos(Math.PI * e / tMax)) / 2;
}

/// <summary>base * (start + (end - start) * min(e, total) / total).</summary>
public sealed class LinearLr(Optimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5) : LrScheduler(optimizer)
{
    public override double LrAt(double baseLr, int e) => baseLr * (startFactor + (endFactor - startFactor) * Math.Min(e, totalIters) / totalIters);
}

/// <summary>base * gamma^floor(e / stepSize).</summary>
public sealed class StepLr(Optimizer optimizer, int stepSize, double gamma = 0.1) : LrScheduler(optimizer)
{
    public override double LrAt(double baseLr, int e) => baseLr * Math.Pow(gamma, e / stepSize);
}

/// <summary>
/// Runs the schedules in turn, switching at the milestones; each restarts its own count at its milestone
/// (torch.optim.lr_scheduler.SequentialLR), e.g. linear warmup then cosine.
/// </summary>
public sealed class SequentialLr : LrScheduler
{
    private readonly Func<double, int, double>[] _parts;
    private readonly int[] _milestones;

    public SequentialLr(Optimizer optimizer, Func<double, int, double>[] parts, int[] milestones) : base(Check(optimizer, parts, milestones))
    {
        _parts = parts;
        _milestones = milestones;
        SetStepCount(0);
    }

    private static Optimizer Check(Optimizer o, Func<double, int, double>[] parts, int[] milestones)
    {
        if (parts.Length != milestones.Length + 1) throw new ArgumentException($"SequentialLr needs {milestones.Length + 1} schedules for {milestones.Length} milestones, got {parts.Length}");
        return o;
    }

    public override double LrAt(double baseLr, int e)
    {
        if (_parts is null) return baseLr; // during base construction
        int i = 0, start = 0;
        while (i < _milestones.Length && e >= _milestones[i]) { start = _milestones[i]; i++; }
        return _parts[i](baseLr, e - start);
    }

    /// <summary>Linear warmup from startFactor over warmupSteps, then cosine to etaMin over the remaining steps.</summary>
    public static SequentialLr WarmupCosine(Optimizer optimizer, int warmupSteps, int totalSteps, double startFactor = 0.1, double etaMin = 0) =>
        new(optimizer,
            [(b, e) => b * (startFactor + (1 - startFactor) * Math.Min(e, warmupSteps) / Math.Max(1, warmupSteps)),
             (b, e) => etaMin + (b - etaMin) * (1 + Math.Cos(Math.PI * e / Math.Max(1, totalSteps - warmupSteps))) / 2],
            [warmupSteps]);
}
