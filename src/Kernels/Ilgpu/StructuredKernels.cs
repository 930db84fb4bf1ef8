// Row-wise kernels (reductions, softmax, layer norm) and the tiled GEMM.
using ILGPU;

namespace Cuda.Nn.Kernels.Ilgpu;

/// <summary>Multiply-add for the GEMM's element type (ILGPU kernels are generic over structs, not over operators).</summary>
internal interface IMulAdd<T> where T : unmanaged
{
    T MulAdd(T acc, T a, T b);
}

internal readonly struct MulAddF32 : IMulAdd<float> { public float MulAdd(float acc, float a, float b) => acc + a * b; }
internal readonly struct MulAddF64 : IMulAdd<double> { public double MulAdd(double acc, double a, double b) => acc + a * b; }

/// <summary>A batched GEMM: C[bi] (contiguous M x N) = A[bi] (M x K) · B[bi] (K x N), operands addressed by strides.</summary>
public struct GemmArgs
{
    public int M, N, K, ARow, ACol, BRow, BCol;
    public Shape6 Batch;
    public Strides6 ABatch, BBatch;
}

internal static class StructuredKernels
{
    public const int Tile = 16;
    public const int Threads = Tile / 2;
    public const int ReduceGroup = 256;

    // ---------- reductions: one thread per output (short rows) or one group per output (long rows) ----------

    public static void ReduceRows(Index1D r, ArrayView<byte> s, int sdt, long sOff, int inner, ArrayView<byte> d, int ddt, int op, ArrayView<byte> arg, int wantArg)
    {
        long b = sOff + (long)r.X * inner;
        int best = 0;
        if (DeviceElem.IsInt(sdt))
        {
            long acc = op == (int)ReduceOp.Prod ? 1 : op == (int)ReduceOp.Sum ? 0 : DeviceElem.LoadL(s, sdt, b);
            for (int i = 0; i < inner; i++)
            {
                long v = DeviceElem.LoadL(s, sdt, b + i);
                if (op == (int)ReduceOp.Sum) acc += v;
                else if (op == (int)ReduceOp.Prod) acc *= v;
                else if (op == (int)ReduceOp.Max ? v > acc : v < acc) { acc = v; best = i; }
            }
            DeviceElem.StoreL(d, ddt, r, acc);
        }
        else
        {
            double acc = op == (int)ReduceOp.Prod ? 1 : op == (int)ReduceOp.Sum ? 0 : DeviceElem.LoadD(s, sdt, b);
            bool nan = double.IsNaN(acc);
            int start = op == (int)ReduceOp.Sum || op == (int)ReduceOp.Prod ? 0 : 1;
            for (int i = start; i < inner && !nan; i++)
            {
                double v = DeviceElem.LoadD(s, sdt, b + i);
                if (op == (int)ReduceOp.Sum) acc += v;
                else if (op == (int)ReduceOp.Prod) acc *= v;
                else if (double.IsNaN(v)) { acc = v; best = i; nan = true; } // the first NaN wins, as on the CPU
                else if (op == (int)ReduceOp.Max ? v > acc : v < acc) { acc = v; best = i; }
            }
            DeviceElem.StoreD(d, ddt, r, acc);
        }
        if (wantArg != 0) arg.Cast<long>()[r] = best;
    }

    /// <summary>Sum/prod/max/min of one row per group: strided partials, then a tree in shared memory.</summary>
    public static void ReduceRowsGrouped(ArrayView<byte> s, int sdt, long sOff, int inner, ArrayView<byte> d, int ddt, int op)
    {
        var partial = SharedMemory.Allocate<double>(ReduceGroup);
        int t = Group.IdxX, r = Grid.IdxX;
        long b = sOff + (long)r * inner;
        double acc = op == (int)ReduceOp.Prod ? 1 : op == (int)ReduceOp.Sum ? 0 : DeviceElem.LoadD(s, sdt, b);
        for (int i = t; i < inner; i += Group.DimX) acc = Combine(op, acc, DeviceElem.LoadD(s, sdt, b + i));
        partial[t] = acc;
        Group.Barrier();
        for (int w = Group.DimX / 2; w > 0; w /= 2)
        {
            if (t < w) partial[t] = Combine(op, partial[t], partial[t + w]);
            Group.Barrier();
        }
        if (t == 0) DeviceElem.StoreD(d, ddt, r, partial[0]);
    }

    private static double Combine(int op, double a, double b)
    {
        if (op == (int)ReduceOp.Sum) return a + b;
        if (op == (int)ReduceOp.Prod) return a * b;
        if (double.IsNaN(a) || double.IsNaN(b)) return double.NaN;
        return op == (int)ReduceOp.Max ? (b > a ? b : a) : (b < a ? b : a);
    }

    // ---------- GEMM ----------

    /// <summary>Tile x Tile outputs per group of Threads x Threads: A and B tiles staged through shared memory, each
    /// thread accumulating a 2 x 2 block (rows ty + 8r, columns tx + 8c, so neighbouring threads touch neighbouring
    /// columns). 64-thread groups also keep ILGPU's CPU accelerator, which runs a thread per group lane, light.</summary>
    public static void Gemm<T, TOp>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs g)
        where T : unmanaged where TOp : struct, IMulAdd<T>
    {
        var aTile = SharedMemory.Allocate<T>(Tile * Tile);
        var bTile = SharedMemory.Allocate<T>(Tile * Tile);
        int tx = Group.IdxX, ty = Group.IdxY;
        int row0 = Grid.IdxY * Tile, col0 = Grid.IdxX * Tile, bi = Grid.IdxZ;
        long aBase = g.ABatch.At(bi, g.Batch), bBase = g.BBatch.At(bi, g.Batch);
        T c00 = default, c01 = default, c10 = default, c11 = default;
        for (int k0 = 0; k0 < g.K; k0 += Tile)
        {
            for (int r = 0; r < 2; r++)
                for (int q = 0; q < 2; q++)
                {
                    int tr = ty + Threads * r, tc = tx + Threads * q;
                    int row = row0 + tr, ak = k0 + tc, bk = k0 + tr, col = col0 + tc;
                    aTile[tr * Tile + tc] = row < g.M && ak < g.K ? a[aBase + (long)row * g.ARow + (long)ak * g.ACol] : default;
                    bTile[tr * Tile + tc] = bk < g.K && col < g.N ? b[bBase + (long)bk * g.BRow + (long)col * g.BCol] : default;
                }
            Group.Barrier();
            var op = default(TOp);
            for (int kk = 0; kk < Tile; kk++)
            {
                T a0 = aTile[ty * Tile + kk], a1 = aTile[(ty + Threads) * Tile + kk];
                T b0 = bTile[kk * Tile + tx], b1 = bTile[kk * Tile + tx + Threads];
                c00 = op.MulAdd(c00, a0, b0);
                c01 = op.MulAdd(c01, a0, b1);
                c10 = op.MulAdd(c10, a1, b0);
                c11 = op.MulAdd(c11, a1, b1);
            }
            Group.Barrier();
        }
        long cBase = (long)bi * g.M * g.N;
        int r0 = row0 + ty, r1 = r0 + Threads, q0 = col0 + tx, q1 = q0 + Threads;
        if (r0 < g.M && q0 < g.N) c[cBase + (long)r0 * g.N + q0] = c00;
        if (r0 < g.M && q1 < g.N) c[cBase + (long)r0 * g.N + q1] = c01;
        if (r1 < g.M && q0 < g.N) c[cBase + (long)r1 * g.N + q0] = c10;
        if (r1 < g.M && q1 < g.N) c[cBase + (long)r1 * g.N + q1] = c11;
    }

    // ---------- softmax (one thread per row, double accumulation) ----------

    public static void Softmax(Index1D r, ArrayView<byte> x, int xdt, long xOff, int len, ArrayView<byte> y, int ydt, int log)
    {
        long b = xOff + (long)r.X * len, o = (long)r.X * len;
        double max = double.NegativeInfinity;
        for (int i = 0; i < len; i++) { double v = DeviceElem.LoadD(x, xdt, b + i); if (v > max || double.IsNaN(v)) max = v; }
        if (max == double.NegativeInfinity) max = 0; // an all -inf row: avoid -inf - -inf = NaN
        double sum = 0;
        for (int i = 0; i < len; i++) sum += Math.Exp(DeviceElem.LoadD(x, xdt, b + i) - max);
        double logSum = Math.Log(sum);
        for (int i = 0; i < len; i++)
        {
            double z = DeviceElem.LoadD(x, xdt, b + i) - max;
            DeviceElem.StoreD(y, ydt, o + i, log != 0 ? z - logSum : Math.Exp(z) / sum);
        }
    }

    public static void SoftmaxBackward(Index1D r, ArrayView<byte> y, int ydt, long yOff, ArrayView<byte> gy, int gdt, long gOff, int len, ArrayView<byte> gx, int ddt, int log)
    {
        long yb = yOff + (long)r.X * len, gb = gOff + (long)r.X * len, o = (long)r.X * len;
        double acc = 0;
        for (int i = 0; i < len; i++)
        {
            double g = DeviceElem.LoadD(gy, gdt, gb + i);
            acc += log != 0 ? g : g * DeviceElem.LoadD(y, ydt, yb + i);
        }
        for (int i = 0; i < len; i++)
        {
            double g = DeviceElem.LoadD(gy, gdt, gb + i), v = DeviceElem.LoadD(y, ydt, yb + i);
            DeviceElem.StoreD(gx, ddt, o + i, log != 0 ? g - Math.Exp(v) * acc : v * (g - acc));
        }
    }

    // ---------- layer norm (F32, float arithmetic like the CPU kernel) ----------

    public static void LayerNorm(Index1D r, ArrayView<float> x, int d, ArrayView<float> w, ArrayView<float> b, int hasW, int hasB, float eps,
        ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd)
    {
        long o = (long)r.X * d;
        float s = 0;
        for (int i = 0; i < d; i++) s += x[o + i];
        float m = s / d, v = 0;
        for (int i = 0; i < d; i++) { float c = x[o + i] - m; v += c * c; }
        float rs = 1f / MathF.Sqrt(v / d + eps);
        mean[r] = m;
        rstd[r] = rs;
        for (int i = 0; i < d; i++)
        {
            float t = (x[o + i] - m) * rs;
            if (hasW != 0) t *= w[i];
            if (hasB != 0) t += b[i];
            y[o + i] = t;
        }
    }

    public static void LayerNormBackwardRows(Index1D r, ArrayView<float> x, ArrayView<float> gy, int d, ArrayView<float> w, int hasW,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> gx)
    {
        long o = (long)r.X * d;
        float m = mean[r], rs = rstd[r], sg = 0, sgx = 0;
        for (int i = 0; i < d; i++)
        {
            float g = hasW != 0 ? gy[o + i] * w[i] : gy[o + i];
            sg += g;
            sgx += g * ((x[o + i] - m) * rs);
        }
        float meanG = sg / d, meanGx = sgx / d;
        for (int i = 0; i < d; i++)
        {
            float g = hasW != 0 ? gy[o + i] * w[i] : gy[o + i];
            float xhat = (x[o + i] - m) * rs;
            gx[o + i] = (g - xhat * meanGx - meanG) * rs;
        }
    }

    /// <summary>Per-column sums over rows: gweight = sum(gy * xhat), gbias = sum(gy).</summary>
    public static void LayerNormBackwardColumns(Index1D c, ArrayView<float> x, ArrayView<float> gy, int rows, int d, ArrayView<float> mean, ArrayView<float> rstd,
        ArrayView<float> gw, ArrayView<float> gb, int wantW, int wantB)
    {
        float sw = 0, sb = 0;
        for (int r = 0; r < rows; r++)
        {
            long o = (long)r * d + c;
            sw += gy[o] * ((x[o] - mean[r]) * rstd[r]);
            sb += gy[o];
        }
        if (wantW != 0) gw[c] = sw;
        if (wantB != 0) gb[c] = sb;
    }
}
