// Variants of a layer-norm forward (F32, affine), numbered as in the harness ../layernorm_forward.cu.
// Device code only, so the NVRTC tests compile this file too. mean/rstd are saved per row.

// 1: one thread per row, two passes for mean and variance, then the write pass.
extern "C" __global__ void layernorm_forward_kernel1(float* out, float* mean, float* rstd, const float* inp,
                                                     const float* weight, const float* bias, int rows, int cols)
{
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows) return;
    const float* x = inp + (long long)row * cols;
    float* y = out + (long long)row * cols;
    float mu = 0.0f;
    for (int j = 0; j < cols; j++) mu += x[j];
    mu /= cols;
    float var = 0.0f;
    for (int j = 0; j < cols; j++) var += (x[j] - mu) * (x[j] - mu);
    float rs = rsqrtf(var / cols + 1e-5f);
    for (int j = 0; j < cols; j++) y[j] = (x[j] - mu) * rs * weight[j] + bias[j];
    mean[row] = mu;
    rstd[row] = rs;
}

// 2: one warp per row; the lanes stride over the row (coalesced) and reduce with shuffles.
// blockDim.x a multiple of 32.
extern "C" __global__ void layernorm_forward_kernel2(float* out, float* mean, float* rstd, const float* inp,
                                                     const float* weight, const float* bias, int rows, int cols)
{
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const float* x = inp + (long long)row * cols;
    float* y = out + (long long)row * cols;
    float s = 0.0f;
    for (int j = lane; j < cols; j += 32) s += x[j];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    float mu = s / cols;
    float v = 0.0f;
    for (int j = lane; j < cols; j += 32) v += (x[j] - mu) * (x[j] - mu);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    float rs = rsqrtf(v / cols + 1e-5f);
    for (int j = lane; j < cols; j += 32) y[j] = (x[j] - mu) * rs * weight[j] + bias[j];
    if (lane == 0)
    {
        mean[row] = mu;
        rstd[row] = rs;
    }
}
