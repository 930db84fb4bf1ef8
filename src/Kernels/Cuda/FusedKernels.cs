// Typed launches of the native/cuda kernels: picks the dtype instance, the grid and block shape each
// kernel was written for, and packs the arguments in the kernel's parameter order. Launching goes through
// IKernelLauncher, so the argument lists and launch shapes are testable without a GPU (against the PTX).
namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>Activation codes of bias_act.cu.</summary>
public enum BiasActivation
{
    Identity = 0,
    Relu = 1,
    Gelu = 2,
    GeluTanh = 3,
    Silu = 4,
}

/// <summary>Runs one kernel of one embedded source file.</summary>
public interface IKernelLauncher
{
    void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, KernelArguments args, uint sharedMemoryBytes = 0);
}

/// <summary>
/// Compiles the embedded kernel files for the current device with NVRTC (disk-cached), loads each module on
/// first use into the current context, and launches on one stream.
/// </summary>
public sealed class CudaKernelLauncher : IKernelLauncher, IDisposable
{
    private readonly NvrtcCompiler _compiler;
    private readonly string _arch;
    private readonly CudaStream _stream;
    private readonly Dictionary<string, CudaModule> _modules = [];
    private readonly Dictionary<(string, string), CudaFunction> _functions = [];

    public CudaKernelLauncher(CudaContext context, CudaStream? stream = null, NvrtcCompiler? compiler = null)
    {
        context.MakeCurrent();
        var (major, minor) = context.Device.ComputeCapability;
        _arch = NvrtcCompiler.ArchitectureFor(major, minor, Nvrtc.SupportedArchs());
        _compiler = compiler ?? new NvrtcCompiler();
        _stream = stream ?? CudaStream.Null;
    }

    public void Launch(string file, string kernel, (uint X, uint Y, uint Z) grid, (uint X, uint Y, uint Z) block, KernelArguments args, uint sharedMemoryBytes = 0)
    {
        CudaFunction f;
        lock (_functions)
        {
            if (!_functions.TryGetValue((file, kernel), out f!))
            {
                if (!_modules.TryGetValue(file, out var module))
                {
                    module = CudaModule.LoadPtx(NativeKernelSources.Compile(_compiler, file, _arch).Ptx);
                    _modules[file] = module;
                }
                f = module.GetFunction(kernel);
                _functions[(file, kernel)] = f;
            }
        }
        f.Launch(grid, block, args, _stream, sharedMemoryBytes);
    }

    public void Dispose()
    {
        foreach (var m in _modules.Values) m.Dispose();
        _modules.Clear();
        _functions.Clear();
    }
}

/// <summary>
/// The fused ops. Pointers are device addresses of dense, row-major buffers; 0 stands for an optional
/// pointer left out (bias, weight, inv_scale, found_inf, ...). Shapes follow the comments in native/cuda.
/// </summary>
public sealed class FusedKernels(IKernelLauncher launcher)
{
    /// <summary>Block size for elementwise (grid-stride) kernels.</summary>
    public const uint ElementwiseBlock = 256;
    /// <summary>Grid cap for grid-stride kernels: enough blocks to fill any current GPU several times.</summary>
    public const uint MaxElementwiseGrid = 8192;

    private static string Suffix(DType dtype) => dtype switch
    {
        DType.F32 => "f32",
        DType.F16 => "f16",
        DType.BF16 => "bf16",
        _ => throw new NotSupportedException($"native CUDA kernels take F32, F16 or BF16 data, not {dtype}"),
    };

    private static (uint, uint, uint) Elementwise(long n) =>
        ((uint)Math.Clamp((n + ElementwiseBlock - 1) / ElementwiseBlock, 1, MaxElementwiseGrid), 1, 1);

    /// <summary>One block per row: the smallest power of two covering the row, between a warp and 256 threads.</summary>
    public static uint RowBlock(int cols) => (uint)Math.Clamp(System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(cols, 1)), 32, 256);

    private static void CheckRows(int rows, int cols)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentException($"row kernels need rows > 0 and cols > 0 (got {rows} x {cols})");
    }

    private void Rows(string file, string kernel, int rows, int cols, KernelArguments args)
    {
        CheckRows(rows, cols);
        launcher.Launch(file, kernel, ((uint)rows, 1, 1), (RowBlock(cols), 1, 1), args);
    }

    private void Elementwise(string file, string kernel, long n, KernelArguments args)
    {
        if (n <= 0) return;
        launcher.Launch(file, kernel, Elementwise(n), (ElementwiseBlock, 1, 1), args);
    }

    /// <summary>y = act(x + bias[(i / inner) % channels]) over n elements; bias 0 for none.</summary>
    public void BiasActivationForward(DType dtype, ulong y, ulong x, ulong bias, long n, int channels, int inner, BiasActivation act) =>
        Elementwise("bias_act.cu", "bias_act_forward_" + Suffix(dtype), n,
            new KernelArguments().Pointer(y).Pointer(x).Pointer(bias).Long(n).Int(channels).Int(inner).Int((int)act));

    /// <summary>dpre = dy * act'(x + bias): the gradient for x and, summed by <see cref="BiasGrad"/>, for the bias.</summary>
    public void BiasActivationBackward(DType dtype, ulong dpre, ulong dy, ulong x, ulong bias, long n, int channels, int inner, BiasActivation act) =>
        Elementwise("bias_act.cu", "bias_act_backward_" + Suffix(dtype), n,
            new KernelArguments().Pointer(dpre).Pointer(dy).Pointer(x).Pointer(bias).Long(n).Int(channels).Int(inner).Int((int)act));

    /// <summary>dbias[c] (F32) = sum of dpre over channel c of an [outer, channels, inner] layout.</summary>
    public void BiasGrad(DType dtype, ulong dbias, ulong dpre, int outer, int channels, int inner)
    {
        CheckRows(channels, outer * inner);
        launcher.Launch("bias_act.cu", "bias_grad_" + Suffix(dtype), ((uint)channels, 1, 1), (256, 1, 1),
            new KernelArguments().Pointer(dbias).Pointer(dpre).Int(outer).Int(channels).Int(inner));
    }

    public void SoftmaxForward(DType dtype, ulong y, ulong x, int rows, int cols) =>
        Rows("softmax_xent.cu", "softmax_forward_" + Suffix(dtype), rows, cols, new KernelArguments().Pointer(y).Pointer(x).Int(rows).Int(cols));

    public void SoftmaxBackward(DType dtype, ulong dx, ulong dy, ulong y, int rows, int cols) =>
        Rows("softmax_xent.cu", "softmax_backward_" + Suffix(dtype), rows, cols,
            new KernelArguments().Pointer(dx).Pointer(dy).Pointer(y).Int(rows).Int(cols));

    /// <summary>Per-row loss and logsumexp (both F32) from logits and I64 targets.</summary>
    public void CrossEntropyForward(DType dtype, ulong loss, ulong lse, ulong logits, ulong targets, int rows, int cols, long ignoreIndex, float labelSmoothing) =>
        Rows("softmax_xent.cu", "cross_entropy_forward_" + Suffix(dtype), rows, cols,
            new KernelArguments().Pointer(loss).Pointer(lse).Pointer(logits).Pointer(targets).Int(rows).Int(cols).Long(ignoreIndex).Float(labelSmoothing));

    /// <summary>dlogits from the saved lse; dloss is F32 per row (stride 1) or one scalar (stride 0), times scale.</summary>
    public void CrossEntropyBackward(DType dtype, ulong dlogits, ulong logits, ulong lse, ulong targets, ulong dloss, int dlossStride, float scale,
        int rows, int cols, long ignoreIndex, float labelSmoothing) =>
        Rows("softmax_xent.cu", "cross_entropy_backward_" + Suffix(dtype), rows, cols,
            new KernelArguments().Pointer(dlogits).Pointer(logits).Pointer(lse).Pointer(targets).Pointer(dloss).Int(dlossStride).Float(scale)
                .Int(rows).Int(cols).Long(ignoreIndex).Float(labelSmoothing));

    /// <summary>Layer norm over rows of cols; mean/rstd (F32 per row) may be 0 for inference, weight/bias 0 for no affine.</summary>
    public void LayerNormForward(DType dtype, ulong y, ulong mean, ulong rstd, ulong x, ulong weight, ulong bias, int rows, int cols, float eps) =>
        Rows("layernorm.cu", "layernorm_forward_" + Suffix(dtype), rows, cols,
            new KernelArguments().Pointer(y).Pointer(mean).Pointer(rstd).Pointer(x).Pointer(weight).Pointer(bias).Int(rows).Int(cols).Float(eps));

    /// <summary>Input gradient, then (when either pointer is non-zero) the F32 weight and bias gradients.</summary>
    public void LayerNormBackward(DType dtype, ulong dx, ulong dweight, ulong dbias, ulong dy, ulong x, ulong weight, ulong mean, ulong rstd, int rows, int cols)
    {
        Rows("layernorm.cu", "layernorm_backward_" + Suffix(dtype), rows, cols,
            new KernelArguments().Pointer(dx).Pointer(dy).Pointer(x).Pointer(weight).Pointer(mean).Pointer(rstd).Int(rows).Int(cols));
        if (dweight == 0 && dbias == 0) return;
        // The kernel's shared tiles are [8][33]: exactly 32 columns by 8 row lanes per block.
        launcher.Launch("layernorm.cu", "layernorm_backward_params_" + Suffix(dtype), (((uint)cols + 31) / 32, 1, 1), (32, 8, 1),
            new KernelArguments().Pointer(dweight).Pointer(dbias).Pointer(dy).Pointer(x).Pointer(mean).Pointer(rstd).Int(rows).Int(cols));
    }

    /// <summary>Adam/AdamW step at step t (from 1) on F32 parameters with gradients of <paramref name="gradType"/>.</summary>
    public void AdamStep(DType gradType, ulong param, ulong grad, ulong expAvg, ulong expAvgSq, long n, double lr, double beta1, double beta2, double eps,
        double weightDecay, bool decoupled, long step, ulong invScale = 0, ulong foundInf = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        double stepSize = lr / (1 - Math.Pow(beta1, step));
        double bc2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
        Elementwise("optim.cu", "adam_step_" + Suffix(gradType), n,
            new KernelArguments().Pointer(param).Pointer(grad).Pointer(expAvg).Pointer(expAvgSq).Long(n).Float((float)lr).Float((float)beta1)
                .Float((float)beta2).Float((float)eps).Float((float)weightDecay).Int(decoupled ? 1 : 0).Float((float)stepSize).Float((float)bc2Sqrt)
                .Pointer(invScale).Pointer(foundInf));
    }

    /// <summary>SGD step (momentum buffer 0 when momentum is 0) on F32 parameters.</summary>
    public void SgdStep(DType gradType, ulong param, ulong grad, ulong momentumBuffer, long n, double lr, double momentum, double dampening,
        double weightDecay, bool nesterov, bool firstStep, ulong invScale = 0, ulong foundInf = 0)
    {
        if (momentum != 0 && momentumBuffer == 0) throw new ArgumentException("SGD with momentum needs a momentum buffer");
        Elementwise("optim.cu", "sgd_step_" + Suffix(gradType), n,
            new KernelArguments().Pointer(param).Pointer(grad).Pointer(momentum == 0 ? 0 : momentumBuffer).Long(n).Float((float)lr).Float((float)momentum)
                .Float((float)dampening).Float((float)weightDecay).Int(nesterov ? 1 : 0).Int(firstStep ? 1 : 0).Pointer(invScale).Pointer(foundInf));
    }

    /// <summary>grad *= *invScale in place; sets *foundInf (I32) to 1 on any inf/NaN. The caller zeroes foundInf once per step.</summary>
    public void UnscaleCheck(DType dtype, ulong grad, long n, ulong invScale, ulong foundInf) =>
        Elementwise("amp.cu", "unscale_check_" + Suffix(dtype), n, new KernelArguments().Pointer(grad).Long(n).Pointer(invScale).Pointer(foundInf));

    /// <summary>GradScaler's update on the device: backoff on inf, growth after growthInterval clean steps.</summary>
    public void UpdateScale(ulong scale, ulong invScale, ulong growthTracker, ulong foundInf, float growthFactor = 2, float backoffFactor = 0.5f, int growthInterval = 2000) =>
        launcher.Launch("amp.cu", "update_scale", (1, 1, 1), (32, 1, 1),
            new KernelArguments().Pointer(scale).Pointer(invScale).Pointer(growthTracker).Pointer(foundInf).Float(growthFactor).Float(backoffFactor).Int(growthInterval));
}
