// Fused bias + activation (forward and backward) and the bias gradient.
// Layout: element i belongs to channel (i / inner) % channels, so one kernel serves a Linear output
// [rows, features] (inner = 1) and an NCHW conv output (inner = H * W).
// Activation codes (BiasActivation in C#): 0 identity, 1 relu, 2 gelu (erf), 3 gelu (tanh), 4 silu.
#include "common.cuh"

#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_GELU 2
#define ACT_GELU_TANH 3
#define ACT_SILU 4

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define SQRT_2_OVER_PI 0.79788456080286536f
#define GELU_TANH_C 0.044715f

__device__ __forceinline__ float activate(float x, int act)
{
    switch (act)
    {
    case ACT_RELU: return fmaxf(x, 0.0f);
    case ACT_GELU: return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
    case ACT_GELU_TANH: return 0.5f * x * (1.0f + tanhf(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x)));
    case ACT_SILU: return x / (1.0f + expf(-x));
    default: return x;
    }
}

// d activation / d x at x.
__device__ __forceinline__ float activate_grad(float x, int act)
{
    switch (act)
    {
    case ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case ACT_GELU: return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
    case ACT_GELU_TANH:
    {
        float t = tanhf(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x));
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_TANH_C * x * x);
    }
    case ACT_SILU:
    {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    default: return 1.0f;
    }
}

// y = act(x + bias[channel]); bias may be null (activation only). y may alias x.
template <typename T>
__device__ __forceinline__ void bias_act_forward_body(T* y, const T* x, const T* bias, long long n, int channels, int inner, int act)
{
    CUDANN_GRID_LOOP(i, n)
    {
        float v = to_float(x[i]);
        if (bias != 0) v += to_float(bias[(i / inner) % channels]);
        y[i] = from_float<T>(activate(v, act));
    }
}

// dpre = dy * act'(x + bias[channel]): the gradient reaching both x and the bias, recomputing the
// pre-activation instead of storing it. dpre may alias dy.
template <typename T>
__device__ __forceinline__ void bias_act_backward_body(T* dpre, const T* dy, const T* x, const T* bias, long long n, int channels, int inner, int act)
{
    CUDANN_GRID_LOOP(i, n)
    {
        float v = to_float(x[i]);
        if (bias != 0) v += to_float(bias[(i / inner) % channels]);
        dpre[i] = from_float<T>(to_float(dy[i]) * activate_grad(v, act));
    }
}

// dbias[c] = sum of dpre over every element of channel c, in F32 (bias gradients are F32 master values).
// One block per channel; blockDim.x a multiple of 32. Overwrites dbias.
template <typename T>
__device__ __forceinline__ void bias_grad_body(float* dbias, const T* dpre, int outer, int channels, int inner)
{
    __shared__ float scratch[32];
    int c = blockIdx.x;
    long long count = (long long)outer * inner;
    float acc = 0.0f;
    for (long long j = threadIdx.x; j < count; j += blockDim.x)
    {
        long long o = j / inner, k = j - o * inner;
        acc += to_float(dpre[(o * channels + c) * inner + k]);
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0) dbias[c] = acc;
}

#define BIAS_ACT_KERNELS(S, T)                                                                                         \
    extern "C" __global__ void bias_act_forward_##S(T* y, const T* x, const T* bias, long long n, int channels,         \
                                                    int inner, int act)                                               \
    {                                                                                                                  \
        bias_act_forward_body<T>(y, x, bias, n, channels, inner, act);                                                 \
    }                                                                                                                  \
    extern "C" __global__ void bias_act_backward_##S(T* dpre, const T* dy, const T* x, const T* bias, long long n,     \
                                                     int channels, int inner, int act)                                \
    {                                                                                                                  \
        bias_act_backward_body<T>(dpre, dy, x, bias, n, channels, inner, act);                                         \
    }                                                                                                                  \
    extern "C" __global__ void bias_grad_##S(float* dbias, const T* dpre, int outer, int channels, int inner)         \
    {                                                                                                                  \
        bias_grad_body<T>(dbias, dpre, outer, channels, inner);                                                        \
    }

CUDANN_FOR_DTYPES(BIAS_ACT_KERNELS)
