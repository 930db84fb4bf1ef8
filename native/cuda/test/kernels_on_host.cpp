// The production kernels of native/cuda (and the dev variants) run on the CPU through host_emulation.h and are checked against
// double-precision references, so their indexing, reductions and formulas are tested without a GPU.
// Build and run: cmake -S . -B build/native && cmake --build build/native --target cuda_kernels_on_host
// && ctest --test-dir build/native (or any C++20 compiler: g++ -std=c++20 -O1 -pthread this file).
#define CUDANN_HOST_EMULATION 1
#include "host_emulation.h"

#include "../amp.cu"
#include "../bias_act.cu"
#include "../layernorm.cu"
#include "../optim.cu"
#include "../softmax_xent.cu"
// The research variants too (device-only files; their harnesses validate them again on a GPU).
#include "../dev/kernels/layernorm_forward.cu"
#include "../dev/kernels/softmax_forward.cu"

#include <cstdio>
#include <random>

static int failures = 0;

static std::vector<float> random_floats(size_t n, unsigned seed, float scale = 1.0f)
{
    std::mt19937 g(seed);
    std::uniform_real_distribution<float> d(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

static void check(const char* what, const std::vector<double>& expected, const float* actual, double atol, double rtol)
{
    double worst = 0;
    size_t bad = 0;
    for (size_t i = 0; i < expected.size(); i++)
    {
        double err = std::fabs(expected[i] - actual[i]);
        worst = std::fmax(worst, err);
        if (!(err <= atol + rtol * std::fabs(expected[i])))
        {
            if (bad++ < 3) std::printf("    %s[%zu]: expected %.7g, got %.7g\n", what, i, expected[i], actual[i]);
        }
    }
    std::printf("%s %s (max abs error %.3g over %zu values)\n", bad ? "FAIL" : "PASS", what, worst, expected.size());
    failures += bad != 0;
}

static void softmax_and_cross_entropy()
{
    const int rows = 5, cols = 70, ignore = -100;
    const float smoothing = 0.1f;
    auto x = random_floats(rows * cols, 1, 6.0f);
    auto dy = random_floats(rows * cols, 2);
    std::vector<float> y(rows * cols), dx(rows * cols), loss(rows), lse(rows), dlogits(rows * cols);
    std::vector<long long> t = {3, 0, ignore, 69, 12};
    float one = 1.0f;
    emu::launch(softmax_forward_f32, {rows}, {64}, y.data(), (const float*)x.data(), rows, cols);
    emu::launch(softmax_backward_f32, {rows}, {64}, dx.data(), (const float*)dy.data(), (const float*)y.data(), rows, cols);
    emu::launch(cross_entropy_forward_f32, {rows}, {32}, loss.data(), lse.data(), (const float*)x.data(), (const long long*)t.data(), rows,
                cols, (long long)ignore, smoothing);
    emu::launch(cross_entropy_backward_f32, {rows}, {32}, dlogits.data(), (const float*)x.data(), (const float*)lse.data(),
                (const long long*)t.data(), (const float*)&one, 0, 0.25f, rows, cols, (long long)ignore, smoothing);
    std::vector<double> ey(rows * cols), edx(rows * cols), eloss(rows), egrad(rows * cols);
    for (int r = 0; r < rows; r++)
    {
        double m = -INFINITY, s = 0, sum = 0, dot = 0;
        for (int j = 0; j < cols; j++) m = std::fmax(m, x[r * cols + j]), sum += x[r * cols + j];
        for (int j = 0; j < cols; j++) s += std::exp(x[r * cols + j] - m);
        for (int j = 0; j < cols; j++) ey[r * cols + j] = std::exp(x[r * cols + j] - m) / s;
        for (int j = 0; j < cols; j++) dot += dy[r * cols + j] * ey[r * cols + j];
        for (int j = 0; j < cols; j++) edx[r * cols + j] = ey[r * cols + j] * (dy[r * cols + j] - dot);
        if (t[r] == ignore) continue;
        double l = m + std::log(s);
        eloss[r] = l - (1 - smoothing) * x[r * cols + t[r]] - smoothing / cols * sum;
        for (int j = 0; j < cols; j++)
            egrad[r * cols + j] = 0.25 * (std::exp(x[r * cols + j] - l) - (j == t[r] ? 1 - smoothing : 0) - smoothing / cols);
    }
    check("softmax_forward_f32", ey, y.data(), 1e-7, 1e-5);
    check("softmax_backward_f32", edx, dx.data(), 1e-7, 1e-4);
    check("cross_entropy_forward_f32", eloss, loss.data(), 1e-5, 1e-5);
    check("cross_entropy_backward_f32", egrad, dlogits.data(), 1e-7, 1e-4);

    // The same softmax from F16 storage: inputs and outputs rounded to binary16.
    std::vector<half_t> xh(rows * cols), yh(rows * cols);
    for (size_t i = 0; i < xh.size(); i++) xh[i].bits = host_float_to_half(x[i]);
    emu::launch(softmax_forward_f16, {rows}, {128}, yh.data(), (const half_t*)xh.data(), rows, cols);
    std::vector<float> yf(rows * cols);
    for (size_t i = 0; i < yf.size(); i++) yf[i] = host_half_to_float(yh[i].bits);
    check("softmax_forward_f16", ey, yf.data(), 2e-3, 1e-2);

    // And from BF16 storage (8 mantissa bits).
    std::vector<bf16_t> xb(rows * cols), yb(rows * cols);
    for (size_t i = 0; i < xb.size(); i++) xb[i] = from_float<bf16_t>(x[i]);
    emu::launch(softmax_forward_bf16, {rows}, {256}, yb.data(), (const bf16_t*)xb.data(), rows, cols);
    for (size_t i = 0; i < yf.size(); i++) yf[i] = to_float(yb[i]);
    check("softmax_forward_bf16", ey, yf.data(), 1e-2, 5e-2);
}

static void layernorm()
{
    const int rows = 4, cols = 45;
    const float eps = 1e-5f;
    auto x = random_floats(rows * cols, 3, 2.0f);
    for (auto& v : x) v += 3.0f;
    auto w = random_floats(cols, 4), b = random_floats(cols, 5), dy = random_floats(rows * cols, 6);
    std::vector<float> y(rows * cols), mean(rows), rstd(rows), dx(rows * cols), dw(cols), db(cols);
    emu::launch(layernorm_forward_f32, {rows}, {32}, y.data(), mean.data(), rstd.data(), (const float*)x.data(), (const float*)w.data(),
                (const float*)b.data(), rows, cols, eps);
    emu::launch(layernorm_backward_f32, {rows}, {64}, dx.data(), (const float*)dy.data(), (const float*)x.data(), (const float*)w.data(),
                (const float*)mean.data(), (const float*)rstd.data(), rows, cols);
    emu::launch(layernorm_backward_params_f32, {(unsigned)(cols + 31) / 32}, {32, 8}, dw.data(), db.data(), (const float*)dy.data(),
                (const float*)x.data(), (const float*)mean.data(), (const float*)rstd.data(), rows, cols);
    std::vector<double> ey(rows * cols), edx(rows * cols), edw(cols), edb(cols);
    for (int r = 0; r < rows; r++)
    {
        double mu = 0, var = 0, sg = 0, sgx = 0;
        for (int j = 0; j < cols; j++) mu += x[r * cols + j];
        mu /= cols;
        for (int j = 0; j < cols; j++) var += (x[r * cols + j] - mu) * (x[r * cols + j] - mu);
        double rs = 1 / std::sqrt(var / cols + eps);
        for (int j = 0; j < cols; j++)
        {
            double xhat = (x[r * cols + j] - mu) * rs, g = dy[r * cols + j] * w[j];
            ey[r * cols + j] = xhat * w[j] + b[j];
            sg += g, sgx += g * xhat;
            edw[j] += dy[r * cols + j] * xhat, edb[j] += dy[r * cols + j];
        }
        for (int j = 0; j < cols; j++)
            edx[r * cols + j] = rs * (dy[r * cols + j] * w[j] - sg / cols - (x[r * cols + j] - mu) * rs * sgx / cols);
    }
    check("layernorm_forward_f32", ey, y.data(), 1e-5, 1e-5);
    check("layernorm_backward_f32", edx, dx.data(), 1e-5, 1e-4);
    check("layernorm_backward_params_f32 (weight)", edw, dw.data(), 1e-5, 1e-5);
    check("layernorm_backward_params_f32 (bias)", edb, db.data(), 1e-5, 1e-5);
}

static double act(double v, int a, bool grad)
{
    const double k = std::sqrt(2 / M_PI), c = 0.044715;
    switch (a)
    {
    case 1: return grad ? (v > 0) : std::fmax(v, 0);
    case 2: return grad ? 0.5 * (1 + std::erf(v / std::sqrt(2))) + v * std::exp(-0.5 * v * v) / std::sqrt(2 * M_PI)
                        : 0.5 * v * (1 + std::erf(v / std::sqrt(2)));
    case 3:
    {
        double t = std::tanh(k * (v + c * v * v * v));
        return grad ? 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * c * v * v) : 0.5 * v * (1 + t);
    }
    case 4:
    {
        double s = 1 / (1 + std::exp(-v));
        return grad ? s * (1 + v * (1 - s)) : v * s;
    }
    default: return grad ? 1 : v;
    }
}

static void bias_activation()
{
    // NCHW-style layout: outer 2, channels 3, inner 5.
    const int outer = 2, channels = 3, inner = 5, n = outer * channels * inner;
    auto x = random_floats(n, 7, 3.0f), bias = random_floats(channels, 8), dy = random_floats(n, 9);
    for (int a = 0; a <= 4; a++)
    {
        std::vector<float> y(n), dpre(n), dbias(channels);
        emu::launch(bias_act_forward_f32, {2}, {32}, y.data(), (const float*)x.data(), (const float*)bias.data(), (long long)n, channels, inner, a);
        emu::launch(bias_act_backward_f32, {1}, {64}, dpre.data(), (const float*)dy.data(), (const float*)x.data(), (const float*)bias.data(),
                    (long long)n, channels, inner, a);
        emu::launch(bias_grad_f32, {(unsigned)channels}, {32}, dbias.data(), (const float*)dpre.data(), outer, channels, inner);
        std::vector<double> ey(n), ed(n), edb(channels);
        for (int i = 0; i < n; i++)
        {
            int c = (i / inner) % channels;
            double v = (double)x[i] + bias[c];
            ey[i] = act(v, a, false);
            ed[i] = dy[i] * act(v, a, true);
            edb[c] += ed[i];
        }
        char name[64];
        std::snprintf(name, sizeof name, "bias_act_forward_f32 act=%d", a);
        check(name, ey, y.data(), 1e-6, 1e-5);
        std::snprintf(name, sizeof name, "bias_act_backward_f32 act=%d", a);
        check(name, ed, dpre.data(), 1e-6, 1e-5);
        std::snprintf(name, sizeof name, "bias_grad_f32 act=%d", a);
        check(name, edb, dbias.data(), 1e-5, 1e-5);
    }
}

static void optimizers()
{
    const int n = 300;
    auto p0 = random_floats(n, 10), g = random_floats(n, 11), m0 = random_floats(n, 12, 0.1f), v0 = random_floats(n, 13, 0.1f);
    for (auto& v : v0) v = std::fabs(v);
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
    const int step = 3;
    double step_size = lr / (1 - std::pow(b1, step)), bc2 = std::sqrt(1 - std::pow(b2, step));
    for (int decoupled = 0; decoupled <= 1; decoupled++)
    {
        auto p = p0, m = m0, v = v0;
        emu::launch(adam_step_f32, {2}, {64}, p.data(), (const float*)g.data(), m.data(), v.data(), (long long)n, lr, b1, b2, eps, wd, decoupled,
                    (float)step_size, (float)bc2, (const float*)nullptr, (const int*)nullptr);
        std::vector<double> ep(n);
        for (int i = 0; i < n; i++)
        {
            double pi = p0[i], gi = g[i];
            if (decoupled) pi *= 1 - (double)lr * wd;
            else gi += wd * pi;
            double mi = b1 * (double)m0[i] + (1 - b1) * gi, vi = b2 * (double)v0[i] + (1 - b2) * gi * gi;
            ep[i] = pi - step_size * mi / (std::sqrt(vi) / bc2 + eps);
        }
        check(decoupled ? "adam_step_f32 (AdamW)" : "adam_step_f32 (Adam, L2)", ep, p.data(), 1e-6, 1e-5);
    }
    // A found_inf flag skips the step entirely; inv_scale unscales the gradient as it is read.
    {
        auto p = p0, m = m0, v = v0;
        int flag = 1;
        emu::launch(adam_step_f32, {1}, {32}, p.data(), (const float*)g.data(), m.data(), v.data(), (long long)n, lr, b1, b2, eps, wd, 1,
                    (float)step_size, (float)bc2, (const float*)nullptr, (const int*)&flag);
        std::vector<double> same(p0.begin(), p0.end());
        check("adam_step_f32 skipped on found_inf", same, p.data(), 0, 0);
    }
    const float mu = 0.9f, damp = 0.1f, swd = 5e-4f, slr = 0.1f, inv = 0.5f;
    for (int variant = 0; variant < 3; variant++)  // 0: first step, 1: later step, 2: Nesterov later step
    {
        auto p = p0, buf = m0;
        int first = variant == 0, nesterov = variant == 2;
        emu::launch(sgd_step_f32, {3}, {32}, p.data(), (const float*)g.data(), buf.data(), (long long)n, slr, mu, damp, swd, nesterov, first,
                    (const float*)&inv, (const int*)nullptr);
        std::vector<double> ep(n);
        for (int i = 0; i < n; i++)
        {
            double gi = g[i] * (double)inv + swd * (double)p0[i];
            double bi = first ? gi : mu * (double)m0[i] + (1 - damp) * gi;
            ep[i] = p0[i] - slr * (nesterov ? gi + mu * bi : bi);
        }
        const char* names[] = {"sgd_step_f32 (first step)", "sgd_step_f32 (momentum)", "sgd_step_f32 (nesterov)"};
        check(names[variant], ep, p.data(), 1e-6, 1e-5);
    }
}

static void loss_scaling()
{
    std::vector<float> g = {2, -4, 8, 0.5f};
    float inv = 0.25f;
    int flag = 0;
    emu::launch(unscale_check_f32, {1}, {32}, g.data(), (long long)g.size(), (const float*)&inv, &flag);
    check("unscale_check_f32 values", {0.5, -1, 2, 0.125}, g.data(), 0, 0);
    std::vector<double> flags = {(double)flag};
    std::vector<half_t> h(70);
    for (auto& x : h) x.bits = host_float_to_half(1.0f);
    h[65].bits = 0x7c00;  // +inf in the third warp of a 2-block grid
    emu::launch(unscale_check_f16, {2}, {32}, h.data(), (long long)h.size(), (const float*)&inv, &flag);
    flags.push_back(flag);
    float scale = 1024, inv_scale = 0;
    int tracker = 7;
    emu::launch(update_scale, {1}, {32}, &scale, &inv_scale, &tracker, (const int*)&flag, 2.0f, 0.5f, 8);
    flag = 0;
    emu::launch(update_scale, {1}, {32}, &scale, &inv_scale, &tracker, (const int*)&flag, 2.0f, 0.5f, 2);
    float before = scale;
    emu::launch(update_scale, {1}, {32}, &scale, &inv_scale, &tracker, (const int*)&flag, 2.0f, 0.5f, 2);
    std::vector<float> got = {(float)flags[0], (float)flags[1], before, scale, inv_scale, (float)tracker};
    check("unscale flag + update_scale (clean, inf, backoff, growth)", {0, 1, 512, 1024, 1.0 / 1024, 0}, got.data(), 0, 0);
}

static void dev_variants()
{
    // Row counts that leave the last block partly idle: warp-per-row kernels then exit whole warps early.
    const int rows = 5, cols = 77;
    auto x = random_floats(rows * cols, 14, 5.0f), w = random_floats(cols, 15), b = random_floats(cols, 16);
    std::vector<double> ey(rows * cols), eln(rows * cols), emean(rows), erstd(rows);
    for (int r = 0; r < rows; r++)
    {
        double m = -INFINITY, s = 0, mu = 0, var = 0;
        for (int j = 0; j < cols; j++) m = std::fmax(m, x[r * cols + j]), mu += x[r * cols + j];
        for (int j = 0; j < cols; j++) s += std::exp(x[r * cols + j] - m);
        mu /= cols;
        for (int j = 0; j < cols; j++) var += (x[r * cols + j] - mu) * (x[r * cols + j] - mu);
        double rs = 1 / std::sqrt(var / cols + 1e-5);
        for (int j = 0; j < cols; j++)
        {
            ey[r * cols + j] = std::exp(x[r * cols + j] - m) / s;
            eln[r * cols + j] = (x[r * cols + j] - mu) * rs * w[j] + b[j];
        }
        emean[r] = mu, erstd[r] = rs;
    }
    const float* xp = x.data();
    for (int k = 1; k <= 3; k++)
    {
        std::vector<float> y(rows * cols);
        if (k == 1) emu::launch(softmax_forward_kernel1, {2}, {4}, y.data(), xp, rows, cols);
        if (k == 2) emu::launch(softmax_forward_kernel2, {rows}, {64}, y.data(), xp, rows, cols);
        if (k == 3) emu::launch(softmax_forward_kernel3, {3}, {64}, y.data(), xp, rows, cols);
        char name[48];
        std::snprintf(name, sizeof name, "dev softmax_forward_kernel%d", k);
        check(name, ey, y.data(), 1e-7, 1e-5);
    }
    for (int k = 1; k <= 2; k++)
    {
        std::vector<float> y(rows * cols), mean(rows), rstd(rows);
        if (k == 1) emu::launch(layernorm_forward_kernel1, {2}, {4}, y.data(), mean.data(), rstd.data(), xp, (const float*)w.data(), (const float*)b.data(), rows, cols);
        if (k == 2) emu::launch(layernorm_forward_kernel2, {3}, {64}, y.data(), mean.data(), rstd.data(), xp, (const float*)w.data(), (const float*)b.data(), rows, cols);
        char name[48];
        std::snprintf(name, sizeof name, "dev layernorm_forward_kernel%d", k);
        check(name, eln, y.data(), 1e-5, 1e-5);
        std::snprintf(name, sizeof name, "dev layernorm_forward_kernel%d mean", k);
        check(name, emean, mean.data(), 1e-6, 1e-6);
        std::snprintf(name, sizeof name, "dev layernorm_forward_kernel%d rstd", k);
        check(name, erstd, rstd.data(), 1e-5, 1e-5);
    }
}

int main()
{
    softmax_and_cross_entropy();
    layernorm();
    bias_activation();
    optimizers();
    loss_scaling();
    dev_variants();
    std::printf(failures ? "%d check(s) FAILED\n" : "all kernel checks passed\n", failures);
    return failures ? 1 : 0;
}
