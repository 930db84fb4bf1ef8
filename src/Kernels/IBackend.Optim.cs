// Fused optimizer updates: one pass over each parameter instead of a chain of tensor ops.
namespace Cuda.Nn.Kernels;

public partial interface IBackend
{
    /// <summary>
    /// PyTorch's single-tensor SGD on contiguous F32 storages of n elements: g += wd p; buf = firstStep ? g : mu buf + (1 - dampening) g;
    /// p -= lr (nesterov ? g + mu buf : buf). momentumBuffer is null when momentum is 0 (then p -= lr g).
    /// </summary>
    void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, int n, double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool firstStep);

    /// <summary>
    /// PyTorch's single-tensor Adam/AdamW (no amsgrad) at step t (from 1): decoupled ? p *= 1 - lr wd : g += wd p;
    /// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    /// </summary>
    void AdamStep(Storage param, Storage grad, Storage expAvg, Storage expAvgSq, int n, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, long step);
}
