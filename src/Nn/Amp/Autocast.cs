// Mixed precision. Inside an Autocast scope, matmul (and conv) inputs run in F16 while reductions,
// softmax, normalisation and losses stay in F32, and master weights stay F32. On the CPU there are no
// F16 kernels, so F16 is emulated: values are rounded through IEEE binary16 (System.Half) and kept in F32
// storage. The gradient of a rounded value is rounded too, as the gradient of a real F16 tensor is F16,
// so overflow to infinity happens where it would on a GPU and GradScaler sees it.
namespace Cuda.Nn.Amp;

public sealed class Autocast : IDisposable
{
    [ThreadStatic] private static int _depth;
    private bool _disposed;

    public Autocast(bool enabled = true)
    {
        Enabled = enabled;
        if (enabled) _depth++;
    }

    public bool Enabled { get; }

    /// <summary>True while an enabled Autocast scope is open on this thread.</summary>
    public static bool IsActive => _depth > 0;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (Enabled) _depth--;
    }

    /// <summary>Pauses autocast on this thread until disposed (used inside ops that already cast their operands).</summary>
    public IDisposable Suspend()
    {
        int saved = _depth;
        _depth = 0;
        return new Resume(saved);
    }

    private sealed class Resume(int depth) : IDisposable
    {
        public void Dispose() => _depth = depth;
    }

    /// <summary>The F16 view of an F32 operand under autocast: rounded through binary16 (gradients rounded too).</summary>
    internal static Tensor CastOperand(Tensor t) => t.DType == Kernels.DType.F32 ? t.RoundToHalf() : t.Share();
}
