// Row-wise softmax (forward, backward) and softmax cross-entropy (forward, backward).
// One block per row, blockDim.x a multiple of 32 (up to 1024); math in F32 whatever the storage dtype.
#include "common.cuh"

// y = softmax(x) over each row of `cols` elements. y may alias x.
template <typename T>
__device__ __forceinline__ void softmax_forward_body(T* y, const T* x, int rows, int cols)
{
    __shared__ float scratch[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + (long long)row * cols;
    T* yr = y + (long long)row * cols;
    float m = neg_infinity();
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, to_float(xr[j]));
    m = block_max(m, scratch);
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(to_float(xr[j]) - m);
    s = block_sum(s, scratch);
    float inv = 1.0f / s;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = from_float<T>(expf(to_float(xr[j]) - m) * inv);
}

// dx = y * (dy - sum(dy * y)) over each row. dx may alias dy.
template <typename T>
__device__ __forceinline__ void softmax_backward_body(T* dx, const T* dy, const T* y, int rows, int cols)
{
    __shared__ float scratch[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    long long base = (long long)row * cols;
    float dot = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dot += to_float(dy[base + j]) * to_float(y[base + j]);
    dot = block_sum(dot, scratch);
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float yj = to_float(y[base + j]);
        dx[base + j] = from_float<T>(yj * (to_float(dy[base + j]) - dot));
    }
}

// Per-row loss (PyTorch's cross_entropy with reduction='none' and label smoothing ls):
// loss = lse - (1 - ls) x[t] - ls / cols * sum(x), lse = log(sum(exp(x))). Rows whose target is
// ignore_index get loss 0; a target outside [0, cols) gets NaN so the caller sees the bad label.
// lse is kept for the backward pass instead of the probabilities (one float per row).
template <typename T>
__device__ __forceinline__ void cross_entropy_forward_body(float* loss, float* lse, const T* logits, const long long* targets,
                                                           int rows, int cols, long long ignore_index, float label_smoothing)
{
    __shared__ float scratch[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = logits + (long long)row * cols;
    float m = neg_infinity(), sx = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float v = to_float(xr[j]);
        m = fmaxf(m, v);
        sx += v;
    }
    m = block_max(m, scratch);
    sx = block_sum(sx, scratch);
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(to_float(xr[j]) - m);
    s = block_sum(s, scratch);
    if (threadIdx.x != 0) return;
    float l = m + logf(s);
    lse[row] = l;
    long long t = targets[row];
    if (t == ignore_index) loss[row] = 0.0f;
    else if (t < 0 || t >= cols) loss[row] = __uint_as_float(0x7fc00000u);
    else loss[row] = l - (1.0f - label_smoothing) * to_float(xr[t]) - label_smoothing / cols * sx;
}

// dlogits = g * (softmax(x) - (1 - ls) onehot(t) - ls / cols), g = dloss[row * dloss_stride] * scale.
// dloss_stride 0 broadcasts one scalar (a mean or sum reduction: scale = 1 / count or 1); ignored rows get 0.
template <typename T>
__device__ __forceinline__ void cross_entropy_backward_body(T* dlogits, const T* logits, const float* lse, const long long* targets,
                                                            const float* dloss, int dloss_stride, float scale, int rows, int cols,
                                                            long long ignore_index, float label_smoothing)
{
    int row = blockIdx.x;
    if (row >= rows) return;
    long long base = (long long)row * cols;
    long long t = targets[row];
    if (t == ignore_index)
    {
        for (int j = threadIdx.x; j < cols; j += blockDim.x) dlogits[base + j] = from_float<T>(0.0f);
        return;
    }
    float g = dloss[(long long)row * dloss_stride] * scale;
    float l = lse[row], smooth = label_smoothing / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float p = expf(to_float(logits[base + j]) - l);
        float target = (j == t ? 1.0f - label_smoothing : 0.0f) + smooth;
        dlogits[base + j] = from_float<T>(g * (p - target));
    }
}

#define SOFTMAX_XENT_KERNELS(S, T)                                                                                      \
    extern "C" __global__ void softmax_forward_##S(T* y, const T* x, int rows, int cols)                               \
    {                                                                                                                   \
        softmax_forward_body<T>(y, x, rows, cols);                                                                      \
    }                                                                                                                   \
    extern "C" __global__ void softmax_backward_##S(T* dx, const T* dy, const T* y, int rows, int cols)                \
    {                                                                                                                   \
        softmax_backward_body<T>(dx, dy, y, rows, cols);                                                                \
    }                                                                                                                   \
    extern "C" __global__ void cross_entropy_forward_##S(float* loss, float* lse, const T* logits,                     \
                                                         const long long* targets, int rows, int cols,                 \
                                                         long long ignore_index, float label_smoothing)                \
    {                                                                                                                   \
        cross_entropy_forward_body<T>(loss, lse, logits, targets, rows, cols, ignore_index, label_smoothing);          \
    }                                                                                                                   \
    extern "C" __global__ void cross_entropy_backward_##S(T* dlogits, const T* logits, const float* lse,               \
                                                          const long long* targets, const float* dloss,                \
                                                          int dloss_stride, float scale, int rows, int cols,           \
                                                          long long ignore_index, float label_smoothing)               \
    {                                                                                                                   \
        cross_entropy_backward_body<T>(dlogits, logits, lse, targets, dloss, dloss_stride, scale, rows, cols,          \
                                       ignore_index, label_smoothing);                                                 \
    }

CUDANN_FOR_DTYPES(SOFTMAX_XENT_KERNELS)
