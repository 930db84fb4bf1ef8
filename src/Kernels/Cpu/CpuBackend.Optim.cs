// CPU optimizer updates over contiguous float spans.
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static void CheckF32(Storage s, string what)
    {
        if (s.DType != DType.F32) throw new NotSupportedException($"optimizer {what} must be F32 (master weights), got {s.DType}");
    }

    public void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, int n, double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool firstStep)
    {
        CheckF32(param, "parameters"); CheckF32(grad, "gradients");
        float* p = C(param).Ptr<float>(), g = C(grad).Ptr<float>();
        float* buf = momentumBuffer is null ? null : C(momentumBuffer).Ptr<float>();
        float flr = (float)lr, mu = (float)momentum, damp = (float)(1 - dampening), wd = (float)weightDecay;
        CpuWorkers.ForRange(n, CpuElementwise.ParallelThreshold, (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                float gi = g[i];
                if (wd != 0) gi += wd * p[i];
                if (buf != null)
                {
                    float b = firstStep ? gi : mu * buf[i] + damp * gi;
                    buf[i] = b;
                    gi = nesterov ? gi + mu * b : b;
                }
                p[i] -= flr * gi;
            }
        });
    }

    public void AdamStep(Storage param, Storage grad, Storage expAvg, Storage expAvgSq, int n, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, long step)
    {
        CheckF32(param, "parameters"); CheckF32(grad, "gradients");
        float* p = C(param).Ptr<float>(), g = C(grad).Ptr<float>(), m = C(expAvg).Ptr<float>(), v = C(expAvgSq).Ptr<float>();
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        float stepSize = (float)(lr / bc1), bc2Sqrt = (float)Math.Sqrt(bc2);
        float b1 = (float)beta1, b2 = (float)beta2, feps = (float)eps, wd = (float)weightDecay, decay = (float)(1 - lr * weightDecay);
        CpuWorkers.ForRange(n, CpuElementwise.ParallelThreshold, (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                float gi = g[i];
                if (decoupled) { if (wd != 0) p[i] *= decay; }
                else if (wd != 0) gi += wd * p[i];
                float mi = b1 * m[i] + (1 - b1) * gi;
                float vi = b2 * v[i] + (1 - b2) * gi * gi;
                m[i] = mi;
                v[i] = vi;
                p[i] -= stepSize * mi / (MathF.Sqrt(vi) / bc2Sqrt + feps);
            }
        });
    }
}
