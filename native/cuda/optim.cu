// Fused optimizer steps over F32 parameters (master weights) with gradients in F32, F16 or BF16; the
// name's suffix is the gradient dtype. Semantics follow IBackend.SgdStep / AdamStep (PyTorch's
// single-tensor SGD and Adam/AdamW without amsgrad).
// inv_scale (nullable) multiplies each gradient as it is read: loss-scale unscaling fused into the step.
// found_inf (nullable) is the flag written by amp.cu's unscale kernels: when it is non-zero the step is
// skipped on the device, so a GradScaler step never waits for the host to read the flag.
#include "common.cuh"

// decoupled ? p *= 1 - lr wd : g += wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= step_size * m / (sqrt(v) / bc2_sqrt + eps), step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t)
// (both computed on the host in double).
template <typename G>
__device__ __forceinline__ void adam_step_body(float* param, const G* grad, float* exp_avg, float* exp_avg_sq, long long n, float lr,
                                               float beta1, float beta2, float eps, float weight_decay, int decoupled,
                                               float step_size, float bc2_sqrt, const float* inv_scale, const int* found_inf)
{
    if (found_inf != 0 && *found_inf != 0) return;
    float scale = inv_scale != 0 ? *inv_scale : 1.0f;
    CUDANN_GRID_LOOP(i, n)
    {
        float p = param[i];
        float g = to_float(grad[i]) * scale;
        if (decoupled) p *= 1.0f - lr * weight_decay;
        else g += weight_decay * p;
        float m = beta1 * exp_avg[i] + (1.0f - beta1) * g;
        float v = beta2 * exp_avg_sq[i] + (1.0f - beta2) * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        param[i] = p - step_size * m / (sqrtf(v) / bc2_sqrt + eps);
    }
}

// g += wd p; with momentum: buf = first_step ? g : momentum buf + (1 - dampening) g,
// d = nesterov ? g + momentum buf : buf; without (momentum_buf null): d = g. p -= lr d.
template <typename G>
__device__ __forceinline__ void sgd_step_body(float* param, const G* grad, float* momentum_buf, long long n, float lr, float momentum,
                                              float dampening, float weight_decay, int nesterov, int first_step,
                                              const float* inv_scale, const int* found_inf)
{
    if (found_inf != 0 && *found_inf != 0) return;
    float scale = inv_scale != 0 ? *inv_scale : 1.0f;
    CUDANN_GRID_LOOP(i, n)
    {
        float p = param[i];
        float g = to_float(grad[i]) * scale + weight_decay * p;
        float d = g;
        if (momentum_buf != 0)
        {
            float b = first_step ? g : momentum * momentum_buf[i] + (1.0f - dampening) * g;
            momentum_buf[i] = b;
            d = nesterov ? g + momentum * b : b;
        }
        param[i] = p - lr * d;
    }
}

#define OPTIM_KERNELS(S, G)                                                                                             \
    extern "C" __global__ void adam_step_##S(float* param, const G* grad, float* exp_avg, float* exp_avg_sq,           \
                                             long long n, float lr, float beta1, float beta2, float eps,               \
                                             float weight_decay, int decoupled, float step_size, float bc2_sqrt,       \
                                             const float* inv_scale, const int* found_inf)                             \
    {                                                                                                                   \
        adam_step_body<G>(param, grad, exp_avg, exp_avg_sq, n, lr, beta1, beta2, eps, weight_decay, decoupled,         \
                          step_size, bc2_sqrt, inv_scale, found_inf);                                                   \
    }                                                                                                                   \
    extern "C" __global__ void sgd_step_##S(float* param, const G* grad, float* momentum_buf, long long n, float lr,   \
                                            float momentum, float dampening, float weight_decay, int nesterov,         \
                                            int first_step, const float* inv_scale, const int* found_inf)              \
    {                                                                                                                   \
        sgd_step_body<G>(param, grad, momentum_buf, n, lr, momentum, dampening, weight_decay, nesterov, first_step,    \
                         inv_scale, found_inf);                                                                         \
    }

CUDANN_FOR_DTYPES(OPTIM_KERNELS)
