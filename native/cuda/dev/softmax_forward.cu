// Harness: row-wise softmax forward variants (kernels/softmax_forward.cu) validated against a CPU
// reference, then timed over block sizes. Usage: softmax_forward [kernel numbers...]
#include "common.h"
#include "kernels/softmax_forward.cu"

static void softmax_cpu(float* out, const float* inp, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
    {
        const float* x = inp + (long long)r * cols;
        float* y = out + (long long)r * cols;
        double m = -INFINITY, s = 0.0;
        for (int j = 0; j < cols; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < cols; j++) s += std::exp(x[j] - m);
        for (int j = 0; j < cols; j++) y[j] = (float)(std::exp(x[j] - m) / s);
    }
}

static void launch(int kernel, int block, float* out, const float* inp, int rows, int cols)
{
    switch (kernel)
    {
    case 1: softmax_forward_kernel1<<<ceil_div(rows, block), block>>>(out, inp, rows, cols); break;
    case 2: softmax_forward_kernel2<<<rows, block>>>(out, inp, rows, cols); break;
    case 3: softmax_forward_kernel3<<<ceil_div((long long)rows * 32, block), block>>>(out, inp, rows, cols); break;
    }
}

int main(int argc, char** argv)
{
    const int rows = 8 * 1024, cols = 1000, kernels = 3;
    const long long n = (long long)rows * cols;
    float* x = random_floats(n, 8.0f, 1);
    float* ref = (float*)std::malloc(n * sizeof(float));
    softmax_cpu(ref, x, rows, cols);
    float* dx = to_device(x, n);
    float* dy = nullptr;
    CUDA_CHECK(cudaMalloc(&dy, n * sizeof(float)));
    const int blocks[] = {32, 64, 128, 256, 512, 1024};
    int failures = 0;
    std::printf("softmax_forward rows=%d cols=%d\n", rows, cols);
    for (int k = 1; k <= kernels; k++)
    {
        if (!selected(argc, argv, k)) continue;
        char name[16];
        std::snprintf(name, sizeof name, "kernel%d", k);
        CUDA_CHECK(cudaMemset(dy, 0, n * sizeof(float)));
        launch(k, 128, dy, dx, rows, cols);
        CUDA_CHECK(cudaDeviceSynchronize());
        if (!validate(name, ref, dy, n, 1e-5f))
        {
            failures++;
            continue;
        }
        for (int b : blocks)
        {
            float ms = time_ms([&] { launch(k, b, dy, dx, rows, cols); }, 50);
            double gbps = 2.0 * n * sizeof(float) / (ms * 1e-3) / 1e9;
            std::printf("    block %4d: %8.4f ms  %7.1f GB/s\n", b, ms, gbps);
        }
    }
    CUDA_CHECK(cudaFree(dx));
    CUDA_CHECK(cudaFree(dy));
    std::free(x);
    std::free(ref);
    return failures == 0 ? 0 : 1;
}
