// CPU batch-norm kernels over x [N, C, ...] (the trailing dims flattened to one "inner" span per (n, c)):
// per-channel statistics, the per-channel affine map (the folded inference form and the normalisation
// itself), and the backward pass. Channel sums accumulate in double; spans are vectorised.
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static (int N, int C, int Inner) ChannelDims(Layout l, string op)
    {
        if (l.Rank < 2) throw new ArgumentException($"{op} needs an input of shape [N, C, ...], got {Layout.ShapeString(l.Shape)}");
        int inner = 1;
        for (int i = 2; i < l.Rank; i++) inner *= l.Shape[i];
        return (l.Shape[0], l.Shape[1], inner);
    }

    public void ChannelStats(Storage x, Layout xLayout, Storage mean, Storage var)
    {
        var dt = ConvType(C(mean).DType, "batch_norm statistics");
        var (n, c, inner) = ChannelDims(xLayout, "batch_norm");
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        if (dt == DType.F32) CpuBatchNorm.Stats((float*)px, n, c, inner, C(mean).Ptr<float>(), C(var).Ptr<float>());
        else CpuBatchNorm.Stats((double*)px, n, c, inner, C(mean).Ptr<double>(), C(var).Ptr<double>());
    }

    public void ChannelAffine(Storage x, Layout xLayout, Storage scale, Storage shift, Storage y)
    {
        var dt = ConvType(C(y).DType, "channel affine");
        var (n, c, inner) = ChannelDims(xLayout, "channel affine");
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        if (dt == DType.F32) CpuBatchNorm.Affine((float*)px, n, c, inner, C(scale).Ptr<float>(), C(shift).Ptr<float>(), C(y).Ptr<float>());
        else CpuBatchNorm.Affine((double*)px, n, c, inner, C(scale).Ptr<double>(), C(shift).Ptr<double>(), C(y).Ptr<double>());
    }

    public void BatchNormBackward(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage mean, Storage invstd, Storage? gamma, bool training,
        Storage? gx, Storage? ggamma, Storage? gbeta)
    {
        var dt = ConvType(C(mean).DType, "batch_norm backward");
        var (n, c, inner) = ChannelDims(xLayout, "batch_norm backward");
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        byte* Ptr(Storage? s) => s is null ? null : C(s).Pointer;
        if (dt == DType.F32)
            CpuBatchNorm.Backward((float*)px, (float*)pg, n, c, inner, C(mean).Ptr<float>(), C(invstd).Ptr<float>(), (float*)Ptr(gamma), training,
                (float*)Ptr(gx), (float*)Ptr(ggamma), (float*)Ptr(gbeta));
        else
            CpuBatchNorm.Backward((double*)px, (double*)pg, n, c, inner, C(mean).Ptr<double>(), C(invstd).Ptr<double>(), (double*)Ptr(gamma), training,
                (double*)Ptr(gx), (double*)Ptr(ggamma), (double*)Ptr(gbeta));
    }
}

internal static unsafe class CpuBatchNorm
{
    private const long ParallelMin = 1 << 15;

    private static int MinChunk(int items, long total) => total < ParallelMin ? Math.Max(1, items) : 1;

    public static void Stats<T>(T* x, int n, int c, int inner, T* mean, T* var) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long m = (long)n * inner;
        CpuWorkers.ForRange(c, MinChunk(c, m * c), (s, e) =>
        {
            for (int ch = s; ch < e; ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(x + ((long)i * c + ch) * inner, inner)));
                double mu = m == 0 ? double.NaN : sum / m;
                double sq = 0;
                T tmu = T.CreateTruncating(mu);
                for (int i = 0; i < n; i++) sq += double.CreateTruncating(SumSqDiff(x + ((long)i * c + ch) * inner, inner, tmu));
                mean[ch] = tmu;
                var[ch] = T.CreateTruncating(m == 0 ? double.NaN : sq / m);
            }
        });
    }

    public static void Affine<T>(T* x, int n, int c, int inner, T* scale, T* shift, T* y) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int rows = n * c;
        CpuWorkers.ForRange(rows, MinChunk(rows, (long)rows * inner), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                int ch = r % c;
                AxpbyInto(x + (long)r * inner, y + (long)r * inner, inner, scale[ch], shift[ch], null, T.Zero);
            }
        });
    }

    public static void Backward<T>(T* x, T* gy, int n, int c, int inner, T* mean, T* invstd, T* gamma, bool training, T* gx, T* ggamma, T* gbeta)
        where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        long m = (long)n * inner;
        CpuWorkers.ForRange(c, MinChunk(c, m * c), (s, e) =>
        {
            for (int ch = s; ch < e; ch++)
            {
                double sg = 0, sgc = 0;
                T mu = mean[ch];
                for (int i = 0; i < n; i++)
                {
                    long off = ((long)i * c + ch) * inner;
                    sg += double.CreateTruncating(TensorPrimitives.Sum(new ReadOnlySpan<T>(gy + off, inner)));
                    sgc += double.CreateTruncating(DotCentered(gy + off, x + off, inner, mu));
                }
                double istd = double.CreateTruncating(invstd[ch]);
                double sgx = sgc * istd; // sum(gy * xhat)
                if (gbeta != null) gbeta[ch] = T.CreateTruncating(sg);
                if (ggamma != null) ggamma[ch] = T.CreateTruncating(sgx);
                if (gx == null) continue;
                double k = (gamma == null ? 1.0 : double.CreateTruncating(gamma[ch])) * istd;
                // training: gx = k (gy - sg/M - xhat sgx/M) = k gy + a x + b with xhat = (x - mu) istd.
                double a = training ? -k * istd * sgx / m : 0;
                double b = training ? -k * sg / m - a * double.CreateTruncating(mu) : 0;
                T tk = T.CreateTruncating(k), ta = T.CreateTruncating(a), tb = T.CreateTruncating(b);
                for (int i = 0; i < n; i++)
                {
                    long off = ((long)i * c + ch) * inner;
                    AxpbyInto(gy + off, gx + off, inner, tk, tb, training ? x + off : null, ta);
                }
            }
        });
    }

    /// <summary>y = k u + b (+ a v when v is given), elementwise over n values.</summary>
    private static void AxpbyInto<T>(T* u, T* y, int n, T k, T b, T* v, T a) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var vk = Vector512.Create(k); var vb = Vector512.Create(b); var va = Vector512.Create(a);
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count)
            {
                var r = Vector512.Load(u + i) * vk + vb;
                if (v != null) r += Vector512.Load(v + i) * va;
                r.Store(y + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vk = Vector256.Create(k); var vb = Vector256.Create(b); var va = Vector256.Create(a);
            for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count)
            {
                var r = Vector256.Load(u + i) * vk + vb;
                if (v != null) r += Vector256.Load(v + i) * va;
                r.Store(y + i);
            }
        }
        for (; i < n; i++) y[i] = u[i] * k + b + (v != null ? v[i] * a : T.Zero);
    }

    /// <summary>sum((x - mu)^2) over n values.</summary>
    private static T SumSqDiff<T>(T* x, int n, T mu) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var acc = Vector512<T>.Zero; var vm = Vector512.Create(mu);
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count) { var d = Vector512.Load(x + i) - vm; acc += d * d; }
            sum = Vector512.Sum(acc);
        }
        for (; i < n; i++) { T d = x[i] - mu; sum += d * d; }
        return sum;
    }

    /// <summary>sum(g * (x - mu)) over n values.</summary>
    private static T DotCentered<T>(T* g, T* x, int n, T mu) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            var acc = Vector512<T>.Zero; var vm = Vector512.Create(mu);
            for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count) acc += Vector512.Load(g + i) * (Vector512.Load(x + i) - vm);
            sum = Vector512.Sum(acc);
        }
        for (; i < n; i++) sum += g[i] * (x[i] - mu);
        return sum;
    }
}
