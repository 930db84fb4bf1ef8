// Variants of a row-wise softmax forward (F32), numbered as in the harness ../softmax_forward.cu.
// Device code only, so the NVRTC tests compile this file too.

// 1: one thread per row, three passes over the row (max, sum, write). Simple; poor coalescing.
extern "C" __global__ void softmax_forward_kernel1(float* out, const float* inp, int rows, int cols)
{
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows) return;
    const float* x = inp + (long long)row * cols;
    float* y = out + (long long)row * cols;
    float m = -3.402823466e+38f;
    for (int j = 0; j < cols; j++) m = fmaxf(m, x[j]);
    float s = 0.0f;
    for (int j = 0; j < cols; j++) s += expf(x[j] - m);
    float inv = 1.0f / s;
    for (int j = 0; j < cols; j++) y[j] = expf(x[j] - m) * inv;
}

// 2: one block per row; max and sum by a shared-memory tree reduction (blockDim.x a power of two, at most
// 1024; the static array is sized for the largest block).
extern "C" __global__ void softmax_forward_kernel2(float* out, const float* inp, int rows, int cols)
{
    __shared__ float shared[1024];
    int row = blockIdx.x, tid = threadIdx.x;
    if (row >= rows) return;
    const float* x = inp + (long long)row * cols;
    float* y = out + (long long)row * cols;
    float m = -3.402823466e+38f;
    for (int j = tid; j < cols; j += blockDim.x) m = fmaxf(m, x[j]);
    shared[tid] = m;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2)
    {
        if (tid < stride) shared[tid] = fmaxf(shared[tid], shared[tid + stride]);
        __syncthreads();
    }
    m = shared[0];
    __syncthreads();
    float s = 0.0f;
    for (int j = tid; j < cols; j += blockDim.x) s += expf(x[j] - m);
    shared[tid] = s;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2)
    {
        if (tid < stride) shared[tid] += shared[tid + stride];
        __syncthreads();
    }
    float inv = 1.0f / shared[0];
    for (int j = tid; j < cols; j += blockDim.x) y[j] = expf(x[j] - m) * inv;
}

// 3: one warp per row, online softmax: a single read pass keeps a running (max, sum) rescaled when the
// max grows, the 32 partial pairs merge by shuffles, then one write pass. blockDim.x a multiple of 32.
extern "C" __global__ void softmax_forward_kernel3(float* out, const float* inp, int rows, int cols)
{
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const float* x = inp + (long long)row * cols;
    float* y = out + (long long)row * cols;
    float m = -3.402823466e+38f, s = 0.0f;
    for (int j = lane; j < cols; j += 32)
    {
        float v = x[j];
        if (v > m)
        {
            s *= expf(m - v);
            m = v;
        }
        s += expf(v - m);
    }
    for (int o = 16; o > 0; o >>= 1)
    {
        float mo = __shfl_xor_sync(0xffffffffu, m, o);
        float so = __shfl_xor_sync(0xffffffffu, s, o);
        float mn = fmaxf(m, mo);
        s = s * expf(m - mn) + so * expf(mo - mn);
        m = mn;
    }
    float inv = 1.0f / s;
    for (int j = lane; j < cols; j += 32) y[j] = expf(x[j] - m) * inv;
}
