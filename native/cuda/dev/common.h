// Host helpers for the kernel research harnesses in this folder (built by nvcc through CMake).
// Each harness: make inputs, run a CPU reference, validate every kernel variant against it, then time it.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cuda_runtime.h>

#define CUDA_CHECK(call)                                                                                    \
    do                                                                                                      \
    {                                                                                                       \
        cudaError_t err_ = (call);                                                                          \
        if (err_ != cudaSuccess)                                                                            \
        {                                                                                                   \
            std::fprintf(stderr, "CUDA error %s at %s:%d: %s\n", cudaGetErrorName(err_), __FILE__, __LINE__, \
                         cudaGetErrorString(err_));                                                         \
            std::exit(2);                                                                                   \
        }                                                                                                   \
    } while (0)

inline int ceil_div(long long a, int b) { return (int)((a + b - 1) / b); }

// Deterministic inputs in [-range, range] (a small LCG: the harness must not depend on libc's rand).
inline float* random_floats(long long n, float range, unsigned seed)
{
    float* p = (float*)std::malloc(n * sizeof(float));
    unsigned s = seed * 2654435761u + 1u;
    for (long long i = 0; i < n; i++)
    {
        s = s * 1664525u + 1013904223u;
        p[i] = ((s >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * range;
    }
    return p;
}

inline float* to_device(const float* host, long long n)
{
    float* d = nullptr;
    CUDA_CHECK(cudaMalloc(&d, n * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(d, host, n * sizeof(float), cudaMemcpyHostToDevice));
    return d;
}

// Compares a device result with the CPU reference; prints the first mismatches and returns false on any.
inline bool validate(const char* name, const float* reference, const float* device, long long n, float tolerance)
{
    float* got = (float*)std::malloc(n * sizeof(float));
    CUDA_CHECK(cudaMemcpy(got, device, n * sizeof(float), cudaMemcpyDeviceToHost));
    long long bad = 0;
    double worst = 0.0;
    for (long long i = 0; i < n; i++)
    {
        double err = std::fabs((double)got[i] - reference[i]);
        if (err > worst) worst = err;
        if (!(err <= tolerance + tolerance * std::fabs(reference[i])))
        {
            if (bad < 5) std::printf("  %s[%lld]: got %g, expected %g\n", name, i, got[i], reference[i]);
            bad++;
        }
    }
    std::free(got);
    std::printf("  %-8s %s (max abs error %.3g over %lld values)\n", name, bad == 0 ? "PASS" : "FAIL", worst, n);
    return bad == 0;
}

// Average milliseconds of `repeats` launches after one warm-up, measured with CUDA events.
template <typename Launch>
float time_ms(Launch launch, int repeats)
{
    cudaEvent_t start, stop;
    CUDA_CHECK(cudaEventCreate(&start));
    CUDA_CHECK(cudaEventCreate(&stop));
    launch();
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaEventRecord(start));
    for (int i = 0; i < repeats; i++) launch();
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    CUDA_CHECK(cudaEventDestroy(start));
    CUDA_CHECK(cudaEventDestroy(stop));
    return ms / repeats;
}

// Selects variants from argv: none means all of 1..count; otherwise the listed numbers.
inline bool selected(int argc, char** argv, int kernel)
{
    if (argc < 2) return true;
    for (int i = 1; i < argc; i++)
        if (std::atoi(argv[i]) == kernel) return true;
    return false;
}
