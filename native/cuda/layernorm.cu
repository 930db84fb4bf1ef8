// Layer norm over the last dimension: forward, input gradient, and weight/bias gradients.
// Rows of `cols` elements; mean and rstd are F32 per row (what the backward pass needs).
#include "common.cuh"

// y = (x - mean) * rstd * weight + bias; weight/bias may be null (no affine), mean/rstd may be null
// (inference). One block per row, blockDim.x a multiple of 32. Two passes over the row for the variance
// (the one-pass E[x^2] - E[x]^2 loses precision when |mean| >> std).
template <typename T>
__device__ __forceinline__ void layernorm_forward_body(T* y, float* mean_out, float* rstd_out, const T* x, const T* weight,
                                                       const T* bias, int rows, int cols, float eps)
{
    __shared__ float scratch[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    const T* xr = x + (long long)row * cols;
    T* yr = y + (long long)row * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += to_float(xr[j]);
    float mean = block_sum(s, scratch) / cols;
    float v = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float d = to_float(xr[j]) - mean;
        v += d * d;
    }
    float rstd = rsqrtf(block_sum(v, scratch) / cols + eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float o = (to_float(xr[j]) - mean) * rstd;
        if (weight != 0) o *= to_float(weight[j]);
        if (bias != 0) o += to_float(bias[j]);
        yr[j] = from_float<T>(o);
    }
    if (threadIdx.x == 0)
    {
        if (mean_out != 0) mean_out[row] = mean;
        if (rstd_out != 0) rstd_out[row] = rstd;
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * weight, xhat = (x - mean) * rstd.
// One block per row, blockDim.x a multiple of 32. dx may alias dy.
template <typename T>
__device__ __forceinline__ void layernorm_backward_body(T* dx, const T* dy, const T* x, const T* weight, const float* mean,
                                                        const float* rstd, int rows, int cols)
{
    __shared__ float scratch[32];
    int row = blockIdx.x;
    if (row >= rows) return;
    long long base = (long long)row * cols;
    float mu = mean[row], rs = rstd[row];
    float sg = 0.0f, sgx = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float g = to_float(dy[base + j]);
        if (weight != 0) g *= to_float(weight[j]);
        sg += g;
        sgx += g * (to_float(x[base + j]) - mu) * rs;
    }
    sg = block_sum(sg, scratch) / cols;
    sgx = block_sum(sgx, scratch) / cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x)
    {
        float g = to_float(dy[base + j]);
        if (weight != 0) g *= to_float(weight[j]);
        float xhat = (to_float(x[base + j]) - mu) * rs;
        dx[base + j] = from_float<T>(rs * (g - sg - xhat * sgx));
    }
}

// dweight[c] = sum_r dy[r, c] * xhat[r, c], dbias[c] = sum_r dy[r, c], in F32; either may be null.
// Block (32, 8): 32 columns per block, 8 row lanes each striding over the rows, then a shared-memory
// reduction; the result is deterministic (no atomics). Overwrites dweight/dbias.
template <typename T>
__device__ __forceinline__ void layernorm_backward_params_body(float* dweight, float* dbias, const T* dy, const T* x,
                                                               const float* mean, const float* rstd, int rows, int cols)
{
    __shared__ float sw[8][33];
    __shared__ float sb[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    float aw = 0.0f, ab = 0.0f;
    if (c < cols)
    {
        for (int r = threadIdx.y; r < rows; r += blockDim.y)
        {
            long long i = (long long)r * cols + c;
            float g = to_float(dy[i]);
            ab += g;
            aw += g * (to_float(x[i]) - mean[r]) * rstd[r];
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y != 0 || c >= cols) return;
    for (unsigned k = 1; k < blockDim.y; k++)
    {
        aw += sw[k][threadIdx.x];
        ab += sb[k][threadIdx.x];
    }
    if (dweight != 0) dweight[c] = aw;
    if (dbias != 0) dbias[c] = ab;
}

#define LAYERNORM_KERNELS(S, T)                                                                                         \
    extern "C" __global__ void layernorm_forward_##S(T* y, float* mean, float* rstd, const T* x, const T* weight,       \
                                                     const T* bias, int rows, int cols, float eps)                      \
    {                                                                                                                   \
        layernorm_forward_body<T>(y, mean, rstd, x, weight, bias, rows, cols, eps);                                     \
    }                                                                                                                   \
    extern "C" __global__ void layernorm_backward_##S(T* dx, const T* dy, const T* x, const T* weight,                  \
                                                      const float* mean, const float* rstd, int rows, int cols)         \
    {                                                                                                                   \
        layernorm_backward_body<T>(dx, dy, x, weight, mean, rstd, rows, cols);                                          \
    }                                                                                                                   \
    extern "C" __global__ void layernorm_backward_params_##S(float* dweight, float* dbias, const T* dy, const T* x,     \
                                                             const float* mean, const float* rstd, int rows, int cols)  \
    {                                                                                                                   \
        layernorm_backward_params_body<T>(dweight, dbias, dy, x, mean, rstd, rows, cols);                               \
    }

CUDANN_FOR_DTYPES(LAYERNORM_KERNELS)
