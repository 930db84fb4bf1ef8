// Harness: layer-norm forward variants (kernels/layernorm_forward.cu) validated against a CPU
// reference (output, mean, rstd), then timed over block sizes. Usage: layernorm_forward [kernel numbers...]
#include "common.h"
#include "kernels/layernorm_forward.cu"

static void layernorm_cpu(float* out, float* mean, float* rstd, const float* inp, const float* w, const float* b, int rows,
                          int cols)
{
    for (int r = 0; r < rows; r++)
    {
        const float* x = inp + (long long)r * cols;
        double mu = 0.0, var = 0.0;
        for (int j = 0; j < cols; j++) mu += x[j];
        mu /= cols;
        for (int j = 0; j < cols; j++) var += (x[j] - mu) * (x[j] - mu);
        double rs = 1.0 / std::sqrt(var / cols + 1e-5);
        for (int j = 0; j < cols; j++) out[(long long)r * cols + j] = (float)((x[j] - mu) * rs * w[j] + b[j]);
        mean[r] = (float)mu;
        rstd[r] = (float)rs;
    }
}

static void launch(int kernel, int block, float* out, float* mean, float* rstd, const float* inp, const float* w,
                   const float* b, int rows, int cols)
{
    switch (kernel)
    {
    case 1: layernorm_forward_kernel1<<<ceil_div(rows, block), block>>>(out, mean, rstd, inp, w, b, rows, cols); break;
    case 2:
        layernorm_forward_kernel2<<<ceil_div((long long)rows * 32, block), block>>>(out, mean, rstd, inp, w, b, rows, cols);
        break;
    }
}

int main(int argc, char** argv)
{
    const int rows = 8 * 1024, cols = 768, kernels = 2;
    const long long n = (long long)rows * cols;
    float* x = random_floats(n, 4.0f, 1);
    float* w = random_floats(cols, 1.0f, 2);
    float* b = random_floats(cols, 1.0f, 3);
    float* ref = (float*)std::malloc(n * sizeof(float));
    float* ref_mean = (float*)std::malloc(rows * sizeof(float));
    float* ref_rstd = (float*)std::malloc(rows * sizeof(float));
    layernorm_cpu(ref, ref_mean, ref_rstd, x, w, b, rows, cols);
    float *dx = to_device(x, n), *dw = to_device(w, cols), *db = to_device(b, cols);
    float *dy = nullptr, *dmean = nullptr, *drstd = nullptr;
    CUDA_CHECK(cudaMalloc(&dy, n * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&dmean, rows * sizeof(float)));
    CUDA_CHECK(cudaMalloc(&drstd, rows * sizeof(float)));
    const int blocks[] = {32, 64, 128, 256, 512, 1024};
    int failures = 0;
    std::printf("layernorm_forward rows=%d cols=%d\n", rows, cols);
    for (int k = 1; k <= kernels; k++)
    {
        if (!selected(argc, argv, k)) continue;
        std::printf(" kernel%d\n", k);
        CUDA_CHECK(cudaMemset(dy, 0, n * sizeof(float)));
        launch(k, 128, dy, dmean, drstd, dx, dw, db, rows, cols);
        CUDA_CHECK(cudaDeviceSynchronize());
        bool ok = validate("out", ref, dy, n, 1e-4f);
        ok &= validate("mean", ref_mean, dmean, rows, 1e-5f);
        ok &= validate("rstd", ref_rstd, drstd, rows, 1e-4f);
        if (!ok)
        {
            failures++;
            continue;
        }
        for (int bs : blocks)
        {
            float ms = time_ms([&] { launch(k, bs, dy, dmean, drstd, dx, dw, db, rows, cols); }, 50);
            double gbps = 2.0 * n * sizeof(float) / (ms * 1e-3) / 1e9;
            std::printf("    block %4d: %8.4f ms  %7.1f GB/s\n", bs, ms, gbps);
        }
    }
    CUDA_CHECK(cudaFree(dx));
    CUDA_CHECK(cudaFree(dw));
    CUDA_CHECK(cudaFree(db));
    CUDA_CHECK(cudaFree(dy));
    CUDA_CHECK(cudaFree(dmean));
    CUDA_CHECK(cudaFree(drstd));
    std::free(x);
    std::free(w);
    std::free(b);
    std::free(ref);
    std::free(ref_mean);
    std::free(ref_rstd);
    return failures == 0 ? 0 : 1;
}
