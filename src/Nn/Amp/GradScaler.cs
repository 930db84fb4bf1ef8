// Dynamic loss scaling with PyTorch's semantics (torch.amp.GradScaler): scale the loss, unscale the
// gradients before clipping or stepping, skip the step when any gradient is inf or NaN, back off on
// overflow, grow after a run of good steps.
using Cuda.Nn.Autograd;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Amp;

public sealed class GradScaler(double initScale = 65536.0, double growthFactor = 2.0, double backoffFactor = 0.5, int growthInterval = 2000, bool enabled = true)
{
    private bool _unscaled;
    private bool? _foundInf;

    public double Scale { get; private set; } = initScale;
    public int GrowthTracker { get; private set; }
    public bool Enabled { get; } = enabled;
    /// <summary>How many optimizer steps were skipped because of inf/NaN gradients.</summary>
    public int SkippedSteps { get; private set; }

    /// <summary>loss * scale (the loss itself when disabled).</summary>
    public Tensor ScaleLoss(Tensor loss) => Enabled ? loss.Mul(Scale) : loss.Share();

    /// <summary>Divides the optimizer's gradients by the scale and records whether any is inf or NaN. Once per step.</summary>
    public void Unscale(Optimizer optimizer)
    {
        if (!Enabled) return;
        if (_unscaled) throw new InvalidOperationException("Unscale() was already called since the last Update()");
        _unscaled = true;
        bool found = false;
        double inv = 1.0 / Scale;
        using var noGrad = AutogradMode.NoGrad();
        foreach (var g in optimizer.Groups)
            foreach (var p in g.Params)
            {
                if (p.Grad is null) continue;
                using var scaled = p.Grad.Mul(inv);
                using var abs = scaled.Abs();
                using var max = abs.Max();
                double m = max.Item();
                if (!double.IsFinite(m)) found = true;
                p.Grad.CopyFrom(scaled);
            }
        _foundInf = found;
    }

    /// <summary>Unscales if needed, then steps unless a gradient was inf/NaN. Returns whether the step ran.</summary>
    public bool Step(Optimizer optimizer)
    {
        if (!Enabled)
        {
            optimizer.Step();
            return true;
        }
        if (!_unscaled) Unscale(optimizer);
        if (_foundInf == true)
        {
            SkippedSteps++;
            return false;
        }
        optimizer.Step();
        return true;
    }

    /// <summary>Adjusts the scale after a step: x backoff on overflow, x growth after growthInterval good steps.</summary>
    public void Update()
    {
        if (!Enabled) return;
        if (_foundInf is null) throw new InvalidOperationException("Update() before Step()/Unscale() in this iteration");
        if (_foundInf == true)
        {
            Scale *= backoffFactor;
            GrowthTracker = 0;
        }
        else if (++GrowthTracker == growthInterval)
        {
            Scale *= growthFactor;
            GrowthTracker = 0;
        }
        _foundInf = null;
        _unscaled = false;
    }

    /// <summary>For checkpoints.</summary>
    public (double Scale, int GrowthTracker) GetState() => (Scale, GrowthTracker);

    public void SetState(double scale, int growthTracker, int skippedSteps = 0)
    {
        Scale = scale;
        GrowthTracker = growthTracker;
        SkippedSteps = skippedSteps;
    }
}
