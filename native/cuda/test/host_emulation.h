// Runs CUDA kernels as plain C++ on the CPU, to check the kernels' logic where there is no GPU: each block
// runs as blockDim std::threads; __syncthreads is a block-wide std::barrier, shuffles and votes per-warp ones.
// Valid for kernels whose threads reach __syncthreads uniformly per block and shuffles uniformly per warp
// (CUDA's own rule). Says nothing about the GPU compiler, timing or memory model.
#pragma once
#include <algorithm>
#include <barrier>
#include <memory>
#include <cmath>
#include <math.h>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static  // blocks run one after another, so one static copy per kernel is per block

struct dim3
{
    unsigned x = 1, y = 1, z = 1;
};
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

namespace emu
{
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>>* warp_barriers = nullptr;
inline float float_slots[1024];
inline int int_slots[1024];
inline unsigned linear_tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
inline void warp_sync() { (*warp_barriers)[linear_tid() / 32]->arrive_and_wait(); }
}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

// Shuffles and votes synchronise the warp only, so a warp that returned early (a warp-per-row kernel past
// the last row) does not hold the others up; exited threads drop out of every barrier, as on the GPU.
inline float __shfl_xor_sync(unsigned, float v, int lane_mask)
{
    unsigned t = emu::linear_tid();
    emu::float_slots[t] = v;
    emu::warp_sync();
    float r = emu::float_slots[t ^ (unsigned)lane_mask];
    emu::warp_sync();
    return r;
}

inline bool __any_sync(unsigned, bool p)
{
    unsigned t = emu::linear_tid(), warp = t & ~31u;
    emu::int_slots[t] = p ? 1 : 0;
    emu::warp_sync();
    bool any = false;
    for (unsigned i = 0; i < 32; i++) any |= emu::int_slots[warp + i] != 0;
    emu::warp_sync();
    return any;
}

inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
// expf, erff, tanhf, logf, sqrtf, fmaxf: the C library's, from <math.h>.

// IEEE binary16 <-> binary32, round to nearest even (what cvt.rn.f16.f32 does).
inline float host_half_to_float(unsigned short h)
{
    unsigned sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    if (exp == 0x1f) return __uint_as_float(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) return (sign ? -1.0f : 1.0f) * std::ldexp((float)mant, -24);
    return __uint_as_float(sign | ((exp + 112) << 23) | (mant << 13));
}
inline unsigned short host_float_to_half(float f)
{
    unsigned u = __float_as_uint(f), sign = (u >> 16) & 0x8000u;
    float a = std::fabs(f);
    if (std::isnan(f)) return (unsigned short)(sign | 0x7e00u);
    if (a >= 65520.0f) return (unsigned short)(sign | 0x7c00u);  // rounds to infinity
    if (a < 6.103515625e-05f)                                    // subnormal: multiples of 2^-24
        return (unsigned short)(sign | (unsigned)std::nearbyint(a * 16777216.0f));
    unsigned au = __float_as_uint(a);
    unsigned rounded = au + 0xfffu + ((au >> 13) & 1u);
    return (unsigned short)(sign | (((rounded >> 23) - 112) << 10) | ((rounded >> 13) & 0x3ffu));
}

namespace emu
{
// Runs kernel<<<grid, block>>>(args...) to completion.
template <typename Kernel, typename... Args>
void launch(Kernel kernel, dim3 grid, dim3 block, Args... args)
{
    gridDim = grid;
    blockDim = block;
    unsigned threads = block.x * block.y * block.z;
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++)
            {
                std::barrier<> barrier((std::ptrdiff_t)threads);
                std::vector<std::unique_ptr<std::barrier<>>> warps;
                for (unsigned w = 0; w * 32 < threads; w++)
                    warps.push_back(std::make_unique<std::barrier<>>((std::ptrdiff_t)std::min(32u, threads - w * 32)));
                block_barrier = &barrier;
                warp_barriers = &warps;
                std::vector<std::thread> pool;
                for (unsigned tz = 0; tz < block.z; tz++)
                    for (unsigned ty = 0; ty < block.y; ty++)
                        for (unsigned tx = 0; tx < block.x; tx++)
                            pool.emplace_back([=] {
                                threadIdx = dim3{tx, ty, tz};
                                blockIdx = dim3{bx, by, bz};
                                kernel(args...);
                                (*warp_barriers)[linear_tid() / 32]->arrive_and_drop();
                                block_barrier->arrive_and_drop();
                            });
                for (auto& t : pool) t.join();
            }
}
}  // namespace emu
