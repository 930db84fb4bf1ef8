// Reductions, softmax and layer norm on contiguous rows.
using System.Numerics.Tensors;

namespace Cuda.Nn.Kernels.Cpu;

internal static unsafe class CpuReduce
{
    /// <summary>Reduces each of `rows` contiguous rows of length `len` to one value (and its index for Max/Min).</summary>
    public static void Rows<T>(ReduceOp op, T* src, int rows, int len, T* dst, long* arg) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        CpuWorkers.ForRange(rows, Math.Max(1, CpuElementwise.ParallelThreshold / Math.Max(1, len)), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var row = new ReadOnlySpan<T>(src + (long)r * len, len);
                switch (op)
                {
                    case ReduceOp.Sum: dst[r] = len == 0 ? T.Zero : TensorPrimitives.Sum(row); break;
                    case ReduceOp.Prod: dst[r] = len == 0 ? T.One : TensorPrimitives.Product(row); break;
                    case ReduceOp.Max:
                    case ReduceOp.Min:
                        {
                            if (len == 0) throw new ArgumentException("max/min of an empty dimension has no identity");
                            // First NaN wins (PyTorch propagates NaN), else first extreme on ties.
                            int best = 0;
                            T bv = row[0];
                            if (!T.IsNaN(bv))
                            {
                                for (int i = 1; i < len; i++)
                                {
                                    var v = row[i];
                                    if (T.IsNaN(v)) { best = i; bv = v; break; }
                                    if (op == ReduceOp.Max ? v > bv : v < bv) { best = i; bv = v; }
                                }
                            }
                            dst[r] = bv;
                            if (arg != null) arg[r] = best;
                            break;
                        }
                }
            }
        });
    }

    /// <summary>Sum over the leading `rows` of a contiguous [rows, cols] block into dst [cols] (bias gradients).</summary>
    public static void SumLeading<T>(T* src, int rows, int cols, T* dst) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var d = new Span<T>(dst, cols);
        d.Clear();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(d, new ReadOnlySpan<T>(src + (long)r * cols, cols), d);
    }

    public static void RowsInt<T>(ReduceOp op, T* src, int rows, int len, T* dst, long* arg) where T : unmanaged, System.Numerics.IBinaryInteger<T>
    {
        for (int r = 0; r < rows; r++)
        {
            T* row = src + (long)r * len;
            if (op == ReduceOp.Sum) { T acc = T.Zero; for (int i = 0; i < len; i++) acc += row[i]; dst[r] = acc; continue; }
            if (op == ReduceOp.Prod) { T acc = T.One; for (int i = 0; i < len; i++) acc *= row[i]; dst[r] = acc; continue; }
            if (len == 0) throw new ArgumentException("max/min of an empty dimension has no identity");
            int best = 0;
            for (int i = 1; i < len; i++)
                if (op == ReduceOp.Max ? row[i] > row[best] : row[i] < row[best]) best = i;
            dst[r] = row[best];
            if (arg != null) arg[r] = best;
        }
    }

    public static void Softmax<T>(T* x, T* y, int rows, int len, bool log) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (len == 0) return;
        CpuWorkers.ForRange(rows, Math.Max(1, CpuElementwise.ParallelThreshold / len), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var xr = new ReadOnlySpan<T>(x + (long)r * len, len);
                var yr = new Span<T>(y + (long)r * len, len);
                T max = TensorPrimitives.Max(xr);
                if (T.IsInfinity(max) && max < T.Zero) max = T.Zero; // an all -inf row: avoid -inf - -inf = NaN
                TensorPrimitives.Subtract(xr, max, yr);
                if (log)
                {
                    // log_softmax = (x - max) - log(sum(exp(x - max))); exp into a stack row only when small
                    T sum = T.Zero;
                    for (int i = 0; i < len; i++) sum += T.Exp(yr[i]);
                    TensorPrimitives.Subtract(yr, T.Log(sum), yr);
                }
                else
                {
                    TensorPrimitives.Exp(yr, yr);
                    T sum = TensorPrimitives.Sum(yr);
                    TensorPrimitives.Multiply(yr, T.One / sum, yr);
                }
            }
        });
    }

    public static void SoftmaxBackward<T>(T* y, T* gy, T* gx, int rows, int len, bool log) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (len == 0) return;
        CpuWorkers.ForRange(rows, Math.Max(1, CpuElementwise.ParallelThreshold / len), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var yr = new ReadOnlySpan<T>(y + (long)r * len, len);
                var gyr = new ReadOnlySpan<T>(gy + (long)r * len, len);
                var gxr = new Span<T>(gx + (long)r * len, len);
                if (log)
                {
                    // gx = gy - softmax * sum(gy), with softmax = exp(log_softmax)
                    T sum = TensorPrimitives.Sum(gyr);
                    TensorPrimitives.Exp(yr, gxr);
                    TensorPrimitives.MultiplyAdd(gxr, -sum, gyr, gxr);
                }
                else
                {
                    // gx = y * (gy - sum(gy * y))
                    T dot = TensorPrimitives.Dot(gyr, yr);
                    TensorPrimitives.Subtract(gyr, dot, gxr);
                    TensorPrimitives.Multiply(gxr, yr, gxr);
                }
            }
        });
    }

    public static void LayerNorm(float* x, int rows, int d, float* w, float* b, float eps, float* y, float* mean, float* rstd)
    {
        CpuWorkers.ForRange(rows, Math.Max(1, CpuElementwise.ParallelThreshold / Math.Max(1, d)), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var xr = new ReadOnlySpan<float>(x + (long)r * d, d);
                var yr = new Span<float>(y + (long)r * d, d);
                // Two passes (mean, then centred squares): E[x^2]-E[x]^2 fails for inputs far from 0.
                float m = TensorPrimitives.Sum(xr) / d;
                TensorPrimitives.Subtract(xr, m, yr);
                float v = TensorPrimitives.SumOfSquares(yr) / d;
                float rs = 1f / MathF.Sqrt(v + eps);
                mean[r] = m;
                rstd[r] = rs;
                TensorPrimitives.Multiply(yr, rs, yr);
                if (w != null) TensorPrimitives.Multiply(yr, new ReadOnlySpan<float>(w, d), yr);
                if (b != null) TensorPrimitives.Add(yr, new ReadOnlySpan<float>(b, d), yr);
            }
        });
    }

    public static void LayerNormBackward(float* x, float* gy, int rows, int d, float* w, float* mean, float* rstd, float* gx, float* gw, float* gb)
    {
        if (gw != null) new Span<float>(gw, d).Clear();
        if (gb != null) new Span<float>(gb, d).Clear();
        var xhat = new float[d];
        var g = new float[d];
        for (int r = 0; r < rows; r++)
        {
            var xr = new ReadOnlySpan<float>(x + (long)r * d, d);
            var gyr = new ReadOnlySpan<float>(gy + (long)r * d, d);
            var gxr = new Span<float>(gx + (long)r * d, d);
            TensorPrimitives.Subtract(xr, mean[r], xhat);
            TensorPrimitives.Multiply(xhat, rstd[r], xhat);
            if (gw != null) TensorPrimitives.MultiplyAdd(gyr, xhat, new ReadOnlySpan<float>(gw, d), new Span<float>(gw, d));
            if (gb != null) TensorPrimitives.Add(gyr, new ReadOnlySpan<float>(gb, d), new Span<float>(gb, d));
            if (w != null) TensorPrimitives.Multiply(gyr, new ReadOnlySpan<float>(w, d), g); else gyr.CopyTo(g);
            float meanG = TensorPrimitives.Sum(g) / d;
            float meanGx = TensorPrimitives.Dot(g, xhat) / d;
            // gx = rstd * (g - mean(g) - xhat * mean(g * xhat))
            TensorPrimitives.MultiplyAdd(xhat, -meanGx, g, gxr);
            TensorPrimitives.Subtract(gxr, meanG, gxr);
            TensorPrimitives.Multiply(gxr, rstd[r], gxr);
        }
    }
}
