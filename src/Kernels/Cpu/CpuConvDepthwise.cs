// Direct depthwise convolution (groups == C; O = m C, output channel o reads input channel o / m), NCHW.
// Threads take contiguous runs of planes (ForPlanes). Inside a plane the interior columns (every tap in bounds)
// of a stride-1 row are computed a vector of outputs at a time with all KH x KW taps accumulated in registers
// and stored once (3x3: weights held in registers); border columns and other strides take the scalar path.
// Stride-1 planes with padding are first copied into a zero-bordered scratch plane so every column is interior.
// Backward-data with stride 1 is the same kernel run on gy with the kernel flipped and padding d(k-1) - p;
// backward-filter is one dot product per tap and row. The plane kernels are AggressiveOptimization: on two
// cores, tiering's background JIT otherwise competes with both workers during the first calls.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConvDepthwise
{
    /// <summary>Shape of one plane-to-plane correlation.</summary>
    private readonly record struct Plane(int H, int W, int OH, int OW, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW);

    public static void Forward<T>(T* x, T* w, T* b, T* y, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ForPlanes(g.N * g.O, (s, e) => ForwardPlanes(x, w, b, y, g, s, e));
    }

    /// <summary>Output planes [s, e) of the forward pass (plane index n O + o).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardPlanes<T>(T* x, T* w, T* b, T* y, in Conv2dGeometry g, int s, int e) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        var pl = new Plane(g.H, g.W, g.OH, g.OW, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW);
        for (int idx = s; idx < e; idx++)
        {
            int n = idx / g.O, o = idx % g.O;
            T* xp = x + ((long)n * g.C + o / m) * hw;
            CorrelatePadded(xp, w + (long)o * kk, b == null ? T.Zero : b[o], false, y + (long)idx * p, pl);
        }
    }

    public static void BackwardData<T>(T* gy, T* w, T* gx, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        ForPlanes(g.N * g.C, (s, e) => BackwardDataPlanes(gy, w, gx, g, s, e));
    }

    /// <summary>Input-gradient planes [s, e) (plane index n C + c), each summed over its m output channels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardDataPlanes<T>(T* gy, T* w, T* gx, in Conv2dGeometry g, int s, int e) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        int qh = g.DH * (g.KH - 1) - g.PH, qw = g.DW * (g.KW - 1) - g.PW;
        bool flipped = g.SH == 1 && g.SW == 1 && qh >= 0 && qw >= 0;
        var pl = new Plane(g.OH, g.OW, g.H, g.W, g.KH, g.KW, 1, 1, qh, qw, g.DH, g.DW);
        T* wf = stackalloc T[kk];
        for (int idx = s; idx < e; idx++)
        {
            int n = idx / g.C, c = idx % g.C;
            T* gxp = gx + (long)idx * hw;
            if (flipped)
            {
                for (int j = 0; j < m; j++)
                {
                    int o = c * m + j;
                    T* wo = w + (long)o * kk;
                    for (int t = 0; t < kk; t++) wf[t] = wo[kk - 1 - t];
                    CorrelatePadded(gy + ((long)n * g.O + o) * p, wf, T.Zero, j > 0, gxp, pl);
                }
                continue;
            }
            new Span<T>(gxp, hw).Clear();
            for (int j = 0; j < m; j++)
            {
                int o = c * m + j;
                T* wo = w + (long)o * kk;
                T* gyp = gy + ((long)n * g.O + o) * p;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        T wv = wo[kh * g.KW + kw];
                        int off = kw * g.DW - g.PW;
                        var (lo, hi) = CpuConv.ValidRange(off, g.SW, g.OW, g.W);
                        for (int oh = 0; oh < g.OH; oh++)
                        {
                            int ih = oh * g.SH - g.PH + kh * g.DH;
                            if ((uint)ih >= (uint)g.H) continue;
                            T* src = gyp + (long)oh * g.OW;
                            T* dst = gxp + (long)ih * g.W + off;
                            for (int ow = lo; ow < hi; ow++) dst[(long)ow * g.SW] += wv * src[ow];
                        }
                    }
            }
        }
    }

    /// <summary>
    /// Runs body(s, e) over [0, count) planes in contiguous runs, a few per thread. One plane per work item makes
    /// the threads take alternate planes, so neither reads or writes memory sequentially and the hardware
    /// prefetchers restart at every 12 KB plane; a plane then costs ~1.5x as much as in a sequential sweep.
    /// Several runs per thread still balance the load when a core is busy elsewhere.
    /// </summary>
    private static void ForPlanes(int count, Action<int, int> body)
    {
        int per = Math.Max(1, (count + CpuWorkers.ThreadCount * 8 - 1) / (CpuWorkers.ThreadCount * 8));
        CpuWorkers.For((count + per - 1) / per, c => body(c * per, Math.Min(count, c * per + per)));
    }

    public static void BackwardFilter<T>(T* x, T* gy, T* gw, Conv2dGeometry g) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int m = g.O / g.C, hw = g.H * g.W, p = g.OH * g.OW, kk = g.KH * g.KW;
        int hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW;
        CpuWorkers.For(g.O, o =>
        {
            int c = o / m;
            double* acc = stackalloc double[kk];
            for (int t = 0; t < kk; t++) acc[t] = 0;
            for (int n = 0; n < g.N; n++)
            {
                // The input plane, zero-padded, so every tap reads whole rows: gw[tap] = sum over rows of dot(gy row, x row).
                T* xp = PaddedPlane(x + ((long)n * g.C + c) * hw, g.H, g.W, g.PH, g.PW);
                T* gyp = gy + ((long)n * g.O + o) * p;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        T* bx = xp + (long)kh * g.DH * wp + kw * g.DW;
                        T dot = g.SW == 1 ? PlaneDot(gyp, g.OW, bx, g.SH * wp, g.OH, g.OW) : T.Zero;
                        if (g.SW != 1)
                            for (int oh = 0; oh < g.OH; oh++) dot += DotStrided(gyp + (long)oh * g.OW, bx + (long)oh * g.SH * wp, g.SW, g.OW);
                        acc[kh * g.KW + kw] += double.CreateTruncating(dot);
                    }
            }
            for (int t = 0; t < kk; t++) gw[(long)o * kk + t] = T.CreateTruncating(acc[t]);
        });
    }

    /// <summary>Copies an h x w plane into this thread's scratch with pad rows/columns of zeros around it (no copy without padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T* PaddedPlane<T>(T* x, int h, int w, int ph, int pw) where T : unmanaged
    {
        if (ph == 0 && pw == 0) return x;
        int hp = h + 2 * ph, wp = w + 2 * pw;
        T* buf = Scratch<T>((long)hp * wp);
        // Only the pad is cleared and rows are copied by vectors in line: clearing the whole plane and a
        // Span.CopyTo per row cost as much as the 3x3 arithmetic itself (~1 us per 56x56 plane).
        new Span<T>(buf, ph * wp).Clear();
        new Span<T>(buf + (long)(ph + h) * wp, ph * wp).Clear();
        for (int r = 0; r < h; r++)
        {
            T* src = x + (long)r * w, dst = buf + (long)(r + ph) * wp;
            for (int i = 0; i < pw; i++) dst[i] = dst[pw + w + i] = default;
            dst += pw;
            int j = 0;
            if (Vector512.IsHardwareAccelerated && w >= Vector512<T>.Count)
            {
                for (; j + Vector512<T>.Count <= w; j += Vector512<T>.Count) Vector512.Load(src + j).Store(dst + j);
                if (j < w) Vector512.Load(src + w - Vector512<T>.Count).Store(dst + w - Vector512<T>.Count);
                j = w;
            }
            else if (Vector256.IsHardwareAccelerated)
                for (; j + Vector256<T>.Count <= w; j += Vector256<T>.Count) Vector256.Load(src + j).Store(dst + j);
            for (; j < w; j++) dst[j] = src[j];
        }
        return buf;
    }

    [ThreadStatic] private static byte* _scratch;
    [ThreadStatic] private static long _scratchBytes;

    /// <summary>A per-thread buffer that only grows (one zero-padded input plane).</summary>
    private static T* Scratch<T>(long elements) where T : unmanaged
    {
        long bytes = elements * sizeof(T);
        if (bytes > _scratchBytes)
        {
            if (_scratch != null) System.Runtime.InteropServices.NativeMemory.AlignedFree(_scratch);
            _scratchBytes = Math.Max(bytes, 64 * 1024);
            _scratch = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)_scratchBytes, 64);
        }
        return (T*)_scratch;
    }

    /// <summary>
    /// Stride-1 planes with padding are first copied into a zero-padded scratch plane (it stays in L1/L2), so every
    /// output column takes the vector path; other planes go straight to Correlate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CorrelatePadded<T>(T* x, T* k, T bias, bool accumulate, T* y, in Plane s) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if ((s.SW == 2 || s.OW < 16) && CorrelateRows(x, k, bias, accumulate, y, s)) return;
        if (s.SW != 1 || (s.PH == 0 && s.PW == 0) || s.OW < 16)
        {
            Correlate(x, k, bias, accumulate, y, s);
            return;
        }
        T* buf = PaddedPlane(x, s.H, s.W, s.PH, s.PW);
        Correlate(buf, k, bias, accumulate, y, s with { H = s.H + 2 * s.PH, W = s.W + 2 * s.PW, PH = 0, PW = 0 });
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);

    /// <summary>
    /// Stride 1 or 2 (the same both ways), no dilation, with 512-bit vectors: the plane is copied zero-padded into
    /// scratch rows of a vector-rounded pitch, for stride 2 with its even and odd columns in two phase planes, so each
    /// tap of an output row is one contiguous load per vector of outputs: output ow reads phase kw mod 2 at column
    /// ow + kw / 2. Rows narrower than a vector (EfficientNet's 14x14 and 7x7 planes, which Interior leaves to the
    /// scalar loop) end in a partial vector through a row buffer. False where it does not apply.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool CorrelateRows<T>(T* x, T* k, T bias, bool accumulate, T* y, in Plane s) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (!Vector512.IsHardwareAccelerated || s.DH != 1 || s.DW != 1 || s.SH != s.SW || s.SW > 2 || s.OH <= 0 || s.OW <= 0) return false;
        int st = s.SW, vn = Vector512<T>.Count;
        int hp = Math.Max(s.H + 2 * s.PH, (s.OH - 1) * st + s.KH), wp = s.W + 2 * s.PW;
        int owv = (s.OW + vn - 1) / vn * vn, reach = (s.KW - 1) / st;
        int pitch = (Math.Max((wp + st - 1) / st, owv + reach) + vn - 1) / vn * vn;
        long phase = (long)hp * pitch;
        T* buf = Scratch<T>(st * phase + 2L * pitch + 2 * vn);
        T* row = buf + st * phase; // one padded input row (stride 2), then one output row
        new Span<T>(buf, (int)(st * phase)).Clear();
        for (int r = 0; r < s.H; r++)
        {
            T* src = x + (long)r * s.W;
            if (st == 1)
            {
                new Span<T>(src, s.W).CopyTo(new Span<T>(buf + (long)(r + s.PH) * pitch + s.PW, s.W));
                continue;
            }
            // Stride 2: the padded row, then its even columns to phase 0 and odd ones to phase 1.
            new Span<T>(row, 2 * pitch).Clear();
            new Span<T>(src, s.W).CopyTo(new Span<T>(row + s.PW, s.W));
            T* even = buf + (long)(r + s.PH) * pitch, odd = even + phase;
            int half = (wp + 1) / 2, j = 0;
            if (typeof(T) == typeof(float) && Avx512F.IsSupported)
                for (; j + 16 <= half; j += 16) // 32 columns in, 16 even and 16 odd out: two vpermt2ps
                {
                    var a = Vector512.Load((float*)row + 2 * j);
                    var b = Vector512.Load((float*)row + 2 * j + 16);
                    Avx512F.PermuteVar16x32x2(a, EvenLanes, b).Store((float*)even + j);
                    Avx512F.PermuteVar16x32x2(a, OddLanes, b).Store((float*)odd + j);
                }
            for (; j < half; j++)
            {
                even[j] = row[2 * j];
                odd[j] = row[2 * j + 1];
            }
        }
        T* outRow = row + pitch;
        var vb = Vector512.Create(bias);
        // Four output rows at a time: each tap's weight is broadcast once for four independent FMA chains. One row
        // alone is a chain of KH x KW dependent FMAs per vector (25 for 5x5), which bound the small planes by latency.
        int oh = 0;
        for (; oh + 4 <= s.OH; oh += 4)
            for (int ow = 0; ow < s.OW; ow += vn)
            {
                Vector512<T> a0 = vb, a1 = vb, a2 = vb, a3 = vb;
                long rowStep = (long)st * pitch;
                for (int kh = 0; kh < s.KH; kh++)
                {
                    T* xr = buf + (long)(oh * st + kh) * pitch + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++)
                    {
                        var wv = Vector512.Create(kr[kw]);
                        T* p = xr + (kw % st) * phase + kw / st;
                        a0 = Fma(wv, Vector512.Load(p), a0);
                        a1 = Fma(wv, Vector512.Load(p + rowStep), a1);
                        a2 = Fma(wv, Vector512.Load(p + 2 * rowStep), a2);
                        a3 = Fma(wv, Vector512.Load(p + 3 * rowStep), a3);
                    }
                }
                StoreRow(a0, y + (long)oh * s.OW, ow, s.OW, accumulate, outRow);
                StoreRow(a1, y + (long)(oh + 1) * s.OW, ow, s.OW, accumulate, outRow);
                StoreRow(a2, y + (long)(oh + 2) * s.OW, ow, s.OW, accumulate, outRow);
                StoreRow(a3, y + (long)(oh + 3) * s.OW, ow, s.OW, accumulate, outRow);
            }
        for (; oh < s.OH; oh++)
            for (int ow = 0; ow < s.OW; ow += vn)
            {
                var acc = vb;
                for (int kh = 0; kh < s.KH; kh++)
                {
                    T* xr = buf + (long)(oh * st + kh) * pitch + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++)
                        acc = Fma(Vector512.Create(kr[kw]), Vector512.Load(xr + (kw % st) * phase + kw / st), acc);
                }
                StoreRow(acc, y + (long)oh * s.OW, ow, s.OW, accumulate, outRow);
            }
        return true;
    }

    /// <summary>Outputs [ow, ow + 16) of row yr (= or +=), the part inside the row's ow width only (a partial vector
    /// through the row buffer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T>(Vector512<T> acc, T* yr, int ow, int width, bool accumulate, T* rowBuffer) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (ow + Vector512<T>.Count <= width)
        {
            if (accumulate) acc += Vector512.Load(yr + ow);
            acc.Store(yr + ow);
            return;
        }
        acc.Store(rowBuffer);
        for (int j = ow; j < width; j++) yr[j] = accumulate ? yr[j] + rowBuffer[j - ow] : rowBuffer[j - ow];
    }

    /// <summary>
    /// y[oh, ow] (= or +=) bias + sum over taps of k[kh, kw] * x[oh sH - pH + kh dH, ow sW - pW + kw dW] for one plane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Correlate<T>(T* x, T* k, T bias, bool accumulate, T* y, in Plane s) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        // Interior columns: every tap of the row in bounds.
        int a = Math.Min(s.OW, (s.PW + s.SW - 1) / s.SW);
        int lastSpan = s.W - 1 + s.PW - (s.KW - 1) * s.DW;
        int bEnd = lastSpan < 0 ? 0 : Math.Min(s.OW, lastSpan / s.SW + 1);
        bEnd = Math.Max(a, bEnd);
        for (int oh = 0; oh < s.OH; oh++)
        {
            T* yr = y + (long)oh * s.OW;
            int ih0 = oh * s.SH - s.PH;
            // Rows of the kernel that fall inside the input.
            int khLo = ih0 >= 0 ? 0 : (-ih0 + s.DH - 1) / s.DH;
            int khHi = s.H - 1 - ih0 < 0 ? 0 : Math.Min(s.KH, (s.H - 1 - ih0) / s.DH + 1);
            for (int ow = 0; ow < a; ow++) yr[ow] = Edge(x, k, bias, accumulate ? yr[ow] : T.Zero, s, ih0, khLo, khHi, ow);
            int ow0 = a;
            if (s.SW == 1 && khHi > khLo) ow0 = Interior(x, k, bias, accumulate, yr, s, ih0, khLo, khHi, a, bEnd);
            for (int ow = ow0; ow < bEnd; ow++)
            {
                T acc = accumulate ? yr[ow] + bias : bias;
                int iw0 = ow * s.SW - s.PW;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = x + (long)(ih0 + kh * s.DH) * s.W + iw0;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc += kr[kw] * xr[kw * s.DW];
                }
                yr[ow] = acc;
            }
            for (int ow = bEnd; ow < s.OW; ow++) yr[ow] = Edge(x, k, bias, accumulate ? yr[ow] : T.Zero, s, ih0, khLo, khHi, ow);
        }
    }

    /// <summary>One output with bounds checks on the columns (border outputs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T Edge<T>(T* x, T* k, T bias, T start, in Plane s, int ih0, int khLo, int khHi, int ow) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T acc = start + bias;
        int iw0 = ow * s.SW - s.PW;
        for (int kh = khLo; kh < khHi; kh++)
        {
            T* xr = x + (long)(ih0 + kh * s.DH) * s.W;
            for (int kw = 0; kw < s.KW; kw++)
            {
                int iw = iw0 + kw * s.DW;
                if ((uint)iw < (uint)s.W) acc += k[kh * s.KW + kw] * xr[iw];
            }
        }
        return acc;
    }

    /// <summary>Stride-1 interior columns [a, b) a vector at a time; returns the first column it did not do.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Interior<T>(T* x, T* k, T bias, bool accumulate, T* yr, in Plane s, int ih0, int khLo, int khHi, int a, int b) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int ow = a;
        T* xbase = x + (long)ih0 * s.W - s.PW;
        long rs = (long)s.DH * s.W;
        int d = s.DW;
        // Three kernel rows of three taps (3x3, any dilation): the nine weights stay in registers across the row.
        bool k3x3 = s.KW == 3 && khHi - khLo == 3;
        T* k0 = k + khLo * s.KW;
        if (Vector512.IsHardwareAccelerated)
        {
            int vn = Vector512<T>.Count;
            var vb = Vector512.Create(bias);
            if (k3x3)
            {
                var w0 = Vector512.Create(k0[0]); var w1 = Vector512.Create(k0[1]); var w2 = Vector512.Create(k0[2]);
                var w3 = Vector512.Create(k0[3]); var w4 = Vector512.Create(k0[4]); var w5 = Vector512.Create(k0[5]);
                var w6 = Vector512.Create(k0[6]); var w7 = Vector512.Create(k0[7]); var w8 = Vector512.Create(k0[8]);
                T* r0 = xbase + khLo * rs;
                // Rows are short (56 columns: 3.5 vectors), so the 9-FMA dependency chain of each vector, not the
                // FMA throughput, bounds a row: one partial sum per kernel row cuts the chain to 3 FMAs and 2 adds.
                // Without accumulation the last partial vector is done as one overlapping the previous one.
                for (; ; ow += vn)
                {
                    if (ow + vn > b)
                    {
                        if (accumulate || ow >= b || b - a < vn) break;
                        ow = b - vn;
                    }
                    T* p0 = r0 + ow, p1 = p0 + rs, p2 = p1 + rs;
                    var s0 = Fma(w0, Vector512.Load(p0), Fma(w1, Vector512.Load(p0 + d), Fma(w2, Vector512.Load(p0 + 2 * d), vb)));
                    var s1 = Fma(w3, Vector512.Load(p1), Fma(w4, Vector512.Load(p1 + d), w5 * Vector512.Load(p1 + 2 * d)));
                    var s2 = Fma(w6, Vector512.Load(p2), Fma(w7, Vector512.Load(p2 + d), w8 * Vector512.Load(p2 + 2 * d)));
                    var acc = s0 + (s1 + s2);
                    if (accumulate) acc += Vector512.Load(yr + ow);
                    acc.Store(yr + ow);
                    if (ow + vn == b) { ow = b; break; }
                }
            }
            for (; ow + vn <= b; ow += vn)
            {
                var acc = accumulate ? Vector512.Load(yr + ow) + vb : vb;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = xbase + kh * rs + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc = Fma(Vector512.Create(kr[kw]), Vector512.Load(xr + kw * d), acc);
                }
                acc.Store(yr + ow);
            }
            // The tail as one more vector overlapping the last one (recomputes a few outputs; not when accumulating).
            if (!accumulate && ow < b && b - a >= vn)
            {
                int o2 = b - vn;
                var acc = vb;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = xbase + kh * rs + o2;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc = Fma(Vector512.Create(kr[kw]), Vector512.Load(xr + kw * d), acc);
                }
                acc.Store(yr + o2);
                ow = b;
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            int vn = Vector256<T>.Count;
            var vb = Vector256.Create(bias);
            for (; ow + vn <= b; ow += vn)
            {
                var acc = accumulate ? Vector256.Load(yr + ow) + vb : vb;
                for (int kh = khLo; kh < khHi; kh++)
                {
                    T* xr = xbase + kh * rs + ow;
                    T* kr = k + kh * s.KW;
                    for (int kw = 0; kw < s.KW; kw++) acc = Fma(Vector256.Create(kr[kw]), Vector256.Load(xr + kw * d), acc);
                }
                acc.Store(yr + ow);
            }
        }
        return ow;
    }

    /// <summary>a b + c, fused for float and double (one rounding; the JIT does not contract a * b + c itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    /// <summary>sum over rows r &lt; rows of dot(a + r aStride, b + r bStride) over n values; vector partial sums stay
    /// in registers across rows and are reduced once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T PlaneDot<T>(T* a, int aStride, T* b, int bStride, int rows, int n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        var v512 = Vector512<T>.Zero;
        var v256 = Vector256<T>.Zero;
        T sc = T.Zero;
        int n512 = Vector512.IsHardwareAccelerated ? n - n % Vector512<T>.Count : 0;
        int n256 = Vector256.IsHardwareAccelerated ? n512 + (n - n512) - (n - n512) % Vector256<T>.Count : n512;
        for (int r = 0; r < rows; r++)
        {
            T* ar = a + (long)r * aStride, br = b + (long)r * bStride;
            int i = 0;
            for (; i < n512; i += Vector512<T>.Count) v512 += Vector512.Load(ar + i) * Vector512.Load(br + i);
            for (; i < n256; i += Vector256<T>.Count) v256 += Vector256.Load(ar + i) * Vector256.Load(br + i);
            for (; i < n; i++) sc += ar[i] * br[i];
        }
        return Vector512.Sum(v512) + Vector256.Sum(v256) + sc;
    }

    private static T DotStrided<T>(T* a, T* b, int stride, int n) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        T sum = T.Zero;
        for (int i = 0; i < n; i++) sum += a[i] * b[(long)i * stride];
        return sum;
    }
}
