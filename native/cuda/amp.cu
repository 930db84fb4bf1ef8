// Mixed-precision loss scaling: unscale gradients in place while flagging inf/NaN, and the scale update
// (PyTorch's GradScaler semantics), both on the device so a training step needs no host round trip.
#include "common.cuh"

// g *= inv_scale in place; *found_inf = 1 when any scaled or unscaled value is inf or NaN (the flag is
// only ever set, never cleared: the caller zeroes it once per step and reuses it across parameters).
template <typename T>
__device__ __forceinline__ void unscale_check_body(T* grad, long long n, const float* inv_scale, int* found_inf)
{
    float s = *inv_scale;
    bool bad = false;
    CUDANN_GRID_LOOP(i, n)
    {
        float g = to_float(grad[i]);
        float u = g * s;
        bad |= is_nonfinite(g) || is_nonfinite(u);
        grad[i] = from_float<T>(u);
    }
    // One store per warp that saw a bad value; a plain store suffices (every writer writes 1).
    if (__any_sync(0xffffffffu, bad) && (threadIdx.x & 31) == 0) *found_inf = 1;
}

#define AMP_KERNELS(S, T)                                                                                               \
    extern "C" __global__ void unscale_check_##S(T* grad, long long n, const float* inv_scale, int* found_inf)         \
    {                                                                                                                   \
        unscale_check_body<T>(grad, n, inv_scale, found_inf);                                                           \
    }

CUDANN_FOR_DTYPES(AMP_KERNELS)

// One thread. After a step: found_inf ? scale *= backoff, tracker = 0
// : ++tracker == interval ? scale *= growth, tracker = 0. inv_scale (nullable) receives 1 / scale for the
// next step's unscale. Growth stops where scale * growth would overflow F32 (as PyTorch's).
extern "C" __global__ void update_scale(float* scale, float* inv_scale, int* growth_tracker, const int* found_inf,
                                        float growth_factor, float backoff_factor, int growth_interval)
{
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    float s = *scale;
    if (*found_inf != 0)
    {
        s *= backoff_factor;
        *growth_tracker = 0;
    }
    else
    {
        int t = *growth_tracker + 1;
        if (t == growth_interval)
        {
            float grown = s * growth_factor;
            if (!is_nonfinite(grown)) s = grown;
            t = 0;
        }
        *growth_tracker = t;
    }
    *scale = s;
    if (inv_scale != 0) *inv_scale = 1.0f / s;
}
