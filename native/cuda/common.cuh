// Shared device helpers for the production kernels in this folder.
// No CUDA header is included: Debian's NVRTC 11.x has no built-in cuda_fp16.h, so the 16-bit types are
// declared here as bit patterns and converted with PTX cvt (f16) or integer rounding (bf16).
// CUDANN_HOST_EMULATION: compiled as plain C++ by test/kernels_on_host.cpp to check kernel logic on a CPU.
#pragma once

// binary16 and bfloat16 as raw bits; distinct types so overloads pick the right conversion.
struct half_t { unsigned short bits; };
struct bf16_t { unsigned short bits; };

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(half_t x)
{
#ifdef CUDANN_HOST_EMULATION
    return host_half_to_float(x.bits);  // test/host_emulation.h: no PTX on the host
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x.bits));
    return f;
#endif
}
__device__ __forceinline__ float to_float(bf16_t x) { return __uint_as_float(((unsigned int)x.bits) << 16); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ half_t from_float<half_t>(float x)
{
    half_t h;
#ifdef CUDANN_HOST_EMULATION
    h.bits = host_float_to_half(x);
#else
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(x));
#endif
    return h;
}
// Round to nearest even in integer arithmetic: cvt.rn.bf16.f32 needs sm_80 and a newer PTX ISA.
template <> __device__ __forceinline__ bf16_t from_float<bf16_t>(float x)
{
    unsigned int u = __float_as_uint(x);
    bf16_t b;
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0u) b.bits = 0x7fc0;  // quiet NaN
    else b.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return b;
}

// Inf or NaN: all exponent bits set (no isfinite() without the CUDA math headers' macros).
__device__ __forceinline__ bool is_nonfinite(float x) { return (__float_as_uint(x) & 0x7f800000u) == 0x7f800000u; }

__device__ __forceinline__ float neg_infinity() { return __uint_as_float(0xff800000u); }

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum/max for blockDim.x a multiple of 32 (at most 1024); every thread gets the result.
// scratch holds 32 floats of shared memory; it is reused, so the leading barrier protects an earlier call.
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : neg_infinity();
    return warp_max(v);
}

// Grid-stride loop over n elements with 64-bit indices (tensors past 2^31 elements stay correct).
#define CUDANN_GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// Instantiates a templated kernel body once per storage dtype under plain C names (NAME_f32, _f16, _bf16).
#define CUDANN_FOR_DTYPES(X) X(f32, float) X(f16, half_t) X(bf16, bf16_t)
