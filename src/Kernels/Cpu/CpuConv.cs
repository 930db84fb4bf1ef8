// conv2d on the CPU. Algorithm per shape: 1x1 stride-1 convolutions are a GEMM straight on NCHW; depthwise
// convolutions use a direct kernel (im2col would copy KH*KW times the input for no reuse); everything else
// is im2col into a pooled per-thread workspace followed by the packed GEMM. Images run in parallel across
// the worker pool (GEMMs inside run single-threaded); a batch smaller than the pool lets GEMM parallelise.
using System.Numerics;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuConv
{
    private static void Gemm<T>(bool ta, bool tb, int m, int n, int k, T* a, int lda, T* b, int ldb, float beta, T* c, int ldc) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) Cpu.Gemm.Sgemm(ta, tb, m, n, k, 1f, (float*)a, lda, (float*)b, ldb, beta, (float*)c, ldc);
        else Cpu.Gemm.Dgemm(ta, tb, m, n, k, 1.0, (double*)a, lda, (double*)b, ldb, beta, (double*)c, ldc);
    }

    /// <summary>Runs body(image) over the batch: in parallel when there are enough images, else serially so GEMM parallelises.</summary>
    private static void ForImages(int n, Action<int> body)
    {
        if (n >= CpuWorkers.ThreadCount && CpuWorkers.ThreadCount > 1) CpuWorkers.For(n, body);
        else for (int i = 0; i < n; i++) body(i);
    }

    /// <summary>col [C/G*KH*KW, OH*OW] from one group of one image (zero where the window hangs over the padding).</summary>
    private static void Im2Col<T>(T* x, ConvGeometry g, T* col) where T : unmanaged, INumberBase<T>
    {
        int oh = g.OH, ow = g.OW, cg = g.CPerGroup;
        for (int c = 0; c < cg; c++)
            for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                {
                    T* dst = col + ((long)(c * g.KH + kh) * g.KW + kw) * oh * ow;
                    T* plane = x + (long)c * g.H * g.W;
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * g.SH - g.PH + kh * g.DH;
                        T* row = dst + (long)y * ow;
                        if ((uint)iy >= (uint)g.H) { new Span<T>(row, ow).Clear(); continue; }
                        T* srcRow = plane + (long)iy * g.W;
                        int ix0 = -g.PW + kw * g.DW;
                        if (g.SW == 1 && ix0 >= 0 && ix0 + ow <= g.W)
                        {
                            new ReadOnlySpan<T>(srcRow + ix0, ow).CopyTo(new Span<T>(row, ow));
                            continue;
                        }
                        for (int xo = 0; xo < ow; xo++)
                        {
                            int ix = ix0 + xo * g.SW;
                            row[xo] = (uint)ix < (uint)g.W ? srcRow[ix] : T.Zero;
                        }
                    }
                }
    }

    /// <summary>Adds col [C/G*KH*KW, OH*OW] back into one group of one image (the adjoint of Im2Col).</summary>
    private static void Col2Im<T>(T* col, ConvGeometry g, T* x) where T : unmanaged, INumberBase<T>
    {
        int oh = g.OH, ow = g.OW, cg = g.CPerGroup;
        for (int c = 0; c < cg; c++)
            for (int kh = 0; kh < g.KH; kh++)
                for (int kw = 0; kw < g.KW; kw++)
                {
                    T* src = col + ((long)(c * g.KH + kh) * g.KW + kw) * oh * ow;
                    T* plane = x + (long)c * g.H * g.W;
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * g.SH - g.PH + kh * g.DH;
                        if ((uint)iy >= (uint)g.H) continue;
                        T* dstRow = plane + (long)iy * g.W;
                        T* srcRow = src + (long)y * ow;
                        int ix0 = -g.PW + kw * g.DW;
                        for (int xo = 0; xo < ow; xo++)
                        {
                            int ix = ix0 + xo * g.SW;
                            if ((uint)ix < (uint)g.W) dstRow[ix] += srcRow[xo];
                        }
                    }
                }
    }

    public static void Forward<T>(T* x, T* w, T* bias, T* y, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.IsDepthwise) { DepthwiseForward(x, w, bias, y, g); return; }
        int cg = g.CPerGroup, og = g.OPerGroup, ohw = g.OH * g.OW, ckk = cg * g.KH * g.KW;
        long xImage = (long)g.C * g.H * g.W, yImage = (long)g.O * ohw;
        ForImages(g.N, n =>
        {
            T* col = null;
            long colBytes = g.IsPointwise ? 0 : (long)ckk * ohw * sizeof(T);
            if (colBytes > 0) col = (T*)CpuMemoryPool.Rent(colBytes, out colBytes);
            try
            {
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    T* xg = x + n * xImage + (long)grp * cg * g.H * g.W;
                    T* yg = y + n * yImage + (long)grp * og * ohw;
                    T* wg = w + (long)grp * og * ckk;
                    T* b = xg;
                    if (!g.IsPointwise) { Im2Col(xg, g, col); b = col; }
                    Gemm(false, false, og, ohw, ckk, wg, ckk, b, ohw, 0f, yg, ohw);
                }
                if (bias != null)
                    for (int o = 0; o < g.O; o++)
                        System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<T>(y + n * yImage + (long)o * ohw, ohw), bias[o], new Span<T>(y + n * yImage + (long)o * ohw, ohw));
            }
            finally { if (col != null) CpuMemoryPool.Return((byte*)col, colBytes); }
        });
    }

    public static void BackwardData<T>(T* gy, T* w, T* gx, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.IsDepthwise) { DepthwiseBackwardData(gy, w, gx, g); return; }
        if (g.SH == 1 && g.SW == 1 && !g.IsPointwise && g.PH <= g.DH * (g.KH - 1) && g.PW <= g.DW * (g.KW - 1))
        {
            // Stride 1: the input gradient is a forward convolution of gy with the kernel flipped and its in/out
            // channels swapped, padded by d(k-1) - p. That reuses im2col + GEMM and avoids col2im's scatter.
            TransposedConvolution(gy, w, gx, g);
            return;
        }
        int cg = g.CPerGroup, og = g.OPerGroup, ohw = g.OH * g.OW, ckk = cg * g.KH * g.KW;
        long xImage = (long)g.C * g.H * g.W, yImage = (long)g.O * ohw;
        ForImages(g.N, n =>
        {
            long colBytes = g.IsPointwise ? 0 : (long)ckk * ohw * sizeof(T);
            T* col = colBytes > 0 ? (T*)CpuMemoryPool.Rent(colBytes, out colBytes) : null;
            try
            {
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    T* gxg = gx + n * xImage + (long)grp * cg * g.H * g.W;
                    T* gyg = gy + n * yImage + (long)grp * og * ohw;
                    T* wg = w + (long)grp * og * ckk;
                    if (g.IsPointwise) { Gemm(true, false, ckk, ohw, og, wg, ckk, gyg, ohw, 0f, gxg, ohw); continue; }
                    Gemm(true, false, ckk, ohw, og, wg, ckk, gyg, ohw, 0f, col, ohw);
                    new Span<T>(gxg, cg * g.H * g.W).Clear();
                    Col2Im(col, g, gxg);
                }
            }
            finally { if (col != null) CpuMemoryPool.Return((byte*)col, colBytes); }
        });
    }

    private static void TransposedConvolution<T>(T* gy, T* w, T* gx, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cg = g.CPerGroup, og = g.OPerGroup, kk = g.KH * g.KW;
        long count = (long)g.C * og * kk;
        var flipped = (T*)CpuMemoryPool.Rent(count * sizeof(T), out long bytes);
        try
        {
            // flipped[grp*cg + c, o, kh, kw] = w[grp*og + o, c, KH-1-kh, KW-1-kw]
            for (int grp = 0; grp < g.Groups; grp++)
                for (int o = 0; o < og; o++)
                    for (int c = 0; c < cg; c++)
                        for (int k = 0; k < kk; k++)
                            flipped[(((long)(grp * cg + c) * og + o) * kk) + k] = w[(((long)(grp * og + o) * cg + c) * kk) + (kk - 1 - k)];
            var t = new ConvGeometry(g.N, g.O, g.OH, g.OW, g.C, g.KH, g.KW, 1, 1,
                g.DH * (g.KH - 1) - g.PH, g.DW * (g.KW - 1) - g.PW, g.DH, g.DW, g.Groups);
            Forward(gy, flipped, (T*)null, gx, t);
        }
        finally { CpuMemoryPool.Return((byte*)flipped, bytes); }
    }

    public static void BackwardFilter<T>(T* x, T* gy, T* gw, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.IsDepthwise) { DepthwiseBackwardFilter(x, gy, gw, g); return; }
        int cg = g.CPerGroup, og = g.OPerGroup, ohw = g.OH * g.OW, ckk = cg * g.KH * g.KW;
        long xImage = (long)g.C * g.H * g.W, yImage = (long)g.O * ohw, wSize = (long)g.O * ckk;
        // Each worker accumulates a private copy of gw over its share of the batch; the copies are summed at the end.
        int parts = g.N >= CpuWorkers.ThreadCount && CpuWorkers.ThreadCount > 1 ? CpuWorkers.ThreadCount : 1;
        var partials = new nint[parts];
        var partialBytes = new long[parts];
        try
        {
            void Part(int p)
            {
                T* acc = p == 0 ? gw : (T*)CpuMemoryPool.Rent(wSize * sizeof(T), out partialBytes[p]);
                if (p != 0) partials[p] = (nint)acc;
                new Span<T>(acc, (int)wSize).Clear();
                long colBytes = g.IsPointwise ? 0 : (long)ckk * ohw * sizeof(T);
                T* col = colBytes > 0 ? (T*)CpuMemoryPool.Rent(colBytes, out colBytes) : null;
                try
                {
                    for (int n = p; n < g.N; n += parts)
                        for (int grp = 0; grp < g.Groups; grp++)
                        {
                            T* xg = x + n * xImage + (long)grp * cg * g.H * g.W;
                            T* gyg = gy + n * yImage + (long)grp * og * ohw;
                            T* b = xg;
                            if (!g.IsPointwise) { Im2Col(xg, g, col); b = col; }
                            // gw[g] += gy[g] (og x ohw) · col^T (ohw x ckk)
                            Gemm(false, true, og, ckk, ohw, gyg, ohw, b, ohw, 1f, acc + (long)grp * og * ckk, ckk);
                        }
                }
                finally { if (col != null) CpuMemoryPool.Return((byte*)col, colBytes); }
            }
            if (parts > 1) CpuWorkers.For(parts, Part); else Part(0);
            for (int p = 1; p < parts; p++)
                System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<T>(gw, (int)wSize), new ReadOnlySpan<T>((T*)partials[p], (int)wSize), new Span<T>(gw, (int)wSize));
        }
        finally
        {
            for (int p = 1; p < parts; p++) if (partials[p] != 0) CpuMemoryPool.Return((byte*)partials[p], partialBytes[p]);
        }
    }

    // ---------- depthwise (groups == C): direct kernels ----------

    private static void DepthwiseForward<T>(T* x, T* w, T* bias, T* y, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mult = g.O / g.C, oh = g.OH, ow = g.OW, kk = g.KH * g.KW;
        CpuWorkers.ForRange(g.N * g.O, 1, (s, e) =>
        {
            for (int no = s; no < e; no++)
            {
                int n = no / g.O, o = no % g.O, c = o / mult;
                T* plane = x + ((long)n * g.C + c) * g.H * g.W;
                T* wo = w + (long)o * kk;
                T* dst = y + (long)no * oh * ow;
                T b = bias != null ? bias[o] : T.Zero;
                new Span<T>(dst, oh * ow).Fill(b);
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        T wv = wo[kh * g.KW + kw];
                        int ix0 = kw * g.DW - g.PW;
                        // output columns whose input column is inside the image
                        int xoLo = Math.Max(0, (-ix0 + g.SW - 1) / g.SW), xoHi = Math.Min(ow, (g.W - ix0 + g.SW - 1) / g.SW);
                        for (int yo = 0; yo < oh; yo++)
                        {
                            int iy = yo * g.SH - g.PH + kh * g.DH;
                            if ((uint)iy >= (uint)g.H) continue;
                            T* srcRow = plane + (long)iy * g.W;
                            T* dstRow = dst + (long)yo * ow;
                            if (xoHi <= xoLo) continue;
                            if (g.SW == 1)
                                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(srcRow + ix0 + xoLo, xoHi - xoLo), wv, new ReadOnlySpan<T>(dstRow + xoLo, xoHi - xoLo), new Span<T>(dstRow + xoLo, xoHi - xoLo));
                            else
                                for (int xo = xoLo; xo < xoHi; xo++) dstRow[xo] += wv * srcRow[ix0 + xo * g.SW];
                        }
                    }
            }
        });
    }

    private static void DepthwiseBackwardData<T>(T* gy, T* w, T* gx, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mult = g.O / g.C, oh = g.OH, ow = g.OW, kk = g.KH * g.KW;
        CpuWorkers.ForRange(g.N * g.C, 1, (s, e) =>
        {
            for (int nc = s; nc < e; nc++)
            {
                int n = nc / g.C, c = nc % g.C;
                T* dst = gx + (long)nc * g.H * g.W;
                new Span<T>(dst, g.H * g.W).Clear();
                for (int m = 0; m < mult; m++)
                {
                    int o = c * mult + m;
                    T* src = gy + ((long)n * g.O + o) * oh * ow;
                    T* wo = w + (long)o * kk;
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            T wv = wo[kh * g.KW + kw];
                            int ix0 = kw * g.DW - g.PW;
                            int xoLo = Math.Max(0, (-ix0 + g.SW - 1) / g.SW), xoHi = Math.Min(ow, (g.W - ix0 + g.SW - 1) / g.SW);
                            for (int yo = 0; yo < oh; yo++)
                            {
                                int iy = yo * g.SH - g.PH + kh * g.DH;
                                if ((uint)iy >= (uint)g.H) continue;
                                T* dstRow = dst + (long)iy * g.W;
                                T* srcRow = src + (long)yo * ow;
                                if (xoHi <= xoLo) continue;
                                if (g.SW == 1)
                                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(srcRow + xoLo, xoHi - xoLo), wv, new ReadOnlySpan<T>(dstRow + ix0 + xoLo, xoHi - xoLo), new Span<T>(dstRow + ix0 + xoLo, xoHi - xoLo));
                                else
                                    for (int xo = xoLo; xo < xoHi; xo++) dstRow[ix0 + xo * g.SW] += wv * srcRow[xo];
                            }
                        }
                }
            }
        });
    }

    private static void DepthwiseBackwardFilter<T>(T* x, T* gy, T* gw, ConvGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mult = g.O / g.C, oh = g.OH, ow = g.OW, kk = g.KH * g.KW;
        CpuWorkers.ForRange(g.O, 1, (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                int c = o / mult;
                for (int kh = 0; kh < g.KH; kh++)
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        T acc = T.Zero;
                        int ix0 = kw * g.DW - g.PW;
                        int xoLo = Math.Max(0, (-ix0 + g.SW - 1) / g.SW), xoHi = Math.Min(ow, (g.W - ix0 + g.SW - 1) / g.SW);
                        for (int n = 0; n < g.N; n++)
                        {
                            T* plane = x + ((long)n * g.C + c) * g.H * g.W;
                            T* src = gy + ((long)n * g.O + o) * oh * ow;
                            for (int yo = 0; yo < oh; yo++)
                            {
                                int iy = yo * g.SH - g.PH + kh * g.DH;
                                if ((uint)iy >= (uint)g.H) continue;
                                T* xr = plane + (long)iy * g.W;
                                T* gr = src + (long)yo * ow;
                                if (g.SW == 1 && xoHi > xoLo)
                                    acc += System.Numerics.Tensors.TensorPrimitives.Dot(new ReadOnlySpan<T>(xr + ix0 + xoLo, xoHi - xoLo), new ReadOnlySpan<T>(gr + xoLo, xoHi - xoLo));
                                else
                                    for (int xo = xoLo; xo < xoHi; xo++) acc += xr[ix0 + xo * g.SW] * gr[xo];
                            }
                        }
                        gw[(long)o * kk + kh * g.KW + kw] = acc;
                    }
            }
        });
    }
}
