// ILGPU backend: reductions, matmul, softmax, layer norm, indexing, random fills and optimizer steps.
using Cuda.Nn.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;

namespace Cuda.Nn.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <summary>Shape and strides padded on the left to 6 dims without merging (ops that need each dim's position).</summary>
    private static (Shape6 Shape, Strides6 Strides) Pad6(int[] shape, int[] strides, int offset, string op)
    {
        if (shape.Length > 6) throw new NotSupportedException($"ilgpu backend: {op} takes tensors of rank at most 6, got {Layout.ShapeString(shape)}");
        var d = new int[6];
        var s = new int[6];
        int pad = 6 - shape.Length;
        for (int i = 0; i < 6; i++)
        {
            d[i] = i < pad ? 1 : shape[i - pad];
            s[i] = i < pad ? 0 : strides[i - pad];
        }
        return (new Shape6 { D0 = d[0], D1 = d[1], D2 = d[2], D3 = d[3], D4 = d[4], D5 = d[5] },
            new Strides6 { S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3], S4 = s[4], S5 = s[5], Offset = offset });
    }

    public void Reduce(ReduceOp op, Storage src, Layout srcLayout, int[] dims, Storage dst, Storage? argDst = null)
    {
        var s = S(src); var d = S(dst);
        var arg = argDst is null ? null : S(argDst);
        if (s.DType != d.DType) throw new ArgumentException($"reduce from {s.DType} into {d.DType}: convert first");
        int rank = srcLayout.Rank;
        var reduced = new bool[rank];
        foreach (var dim in dims) reduced[dim] = true;
        var order = new List<int>(rank);
        int outer = 1, inner = 1;
        for (int i = 0; i < rank; i++) if (!reduced[i]) { order.Add(i); outer *= srcLayout.Shape[i]; }
        for (int i = 0; i < rank; i++) if (reduced[i]) { order.Add(i); inner *= srcLayout.Shape[i]; }
        if (outer == 0) return;
        if (inner == 0 && op is ReduceOp.Max or ReduceOp.Min) throw new ArgumentException("max/min of an empty dimension has no identity");
        lock (_gate)
        {
            var x = Dense(s, srcLayout.Permute(order.ToArray()), out long off);
            try
            {
                // Long rows of few outputs: a group per row, so one full-tensor sum is not a single thread's loop.
                int group = Math.Min(StructuredKernels.ReduceGroup, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Accelerator.MaxNumThreadsPerGroup + 1) / 2);
                if (arg == null && s.DType.IsFloatingPoint() && inner >= 4 * group && outer < 4 * Accelerator.NumMultiprocessors * group)
                    K.ReduceRowsGrouped(Stream, outer, group, x.Bytes, (int)s.DType, off, inner, d.Bytes, (int)d.DType, (int)op);
                else
                    K.ReduceRows(Stream, outer, x.Bytes, (int)s.DType, off, inner, d.Bytes, (int)d.DType, (int)op, (arg ?? d).Bytes, arg == null ? 0 : 1);
            }
            finally { x.Release(); }
        }
    }

    public void MatMul(Storage a, Layout aLayout, Storage b, Layout bLayout, Storage c, int[] cShape)
    {
        var sc = S(c);
        if (!sc.DType.IsFloatingPoint()) throw Unsupported("matmul", sc.DType);
        var ct = FloatCompute(sc.DType);
        int rank = cShape.Length;
        int m = cShape[rank - 2], n = cShape[rank - 1], k = aLayout.Shape[rank - 1];
        int batch = 1;
        for (int i = 0; i < rank - 2; i++) batch *= cShape[i];
        if (batch * m * n == 0) return;
        if (batch > 65535) throw new NotSupportedException($"ilgpu backend: matmul over {batch} batches (the grid's z extent is at most 65535)");
        lock (_gate)
        {
            var sa = S(a); var sb = S(b);
            IlgpuStorage? ca = null, cb = null, y = null;
            try
            {
                // F16/BF16 operands are widened to F32 once; F32/F64 operands are read in place through their strides.
                if (sa.DType != ct) { ca = Converted(sa, aLayout, ct); aLayout = Layout.Contiguous(aLayout.Shape); }
                if (sb.DType != ct) { cb = Converted(sb, bLayout, ct); bLayout = Layout.Contiguous(bLayout.Shape); }
                y = sc.DType == ct ? sc : new IlgpuStorage(this, ct, batch * m * n);
                if (k == 0) y.Bytes.MemSetToZero(Stream);
                else
                {
                    var batchShape = cShape[..(rank - 2)];
                    var (bs, aBatch) = Pad6(batchShape, aLayout.Strides[..(rank - 2)], aLayout.Offset, "matmul");
                    var (_, bBatch) = Pad6(batchShape, bLayout.Strides[..(rank - 2)], bLayout.Offset, "matmul");
                    var g = new GemmArgs
                    {
                        M = m, N = n, K = k,
                        ARow = aLayout.Strides[rank - 2], ACol = aLayout.Strides[rank - 1],
                        BRow = bLayout.Strides[rank - 2], BCol = bLayout.Strides[rank - 1],
                        Batch = bs, ABatch = aBatch, BBatch = bBatch,
                    };
                    const int t = StructuredKernels.Tile, th = StructuredKernels.Threads;
                    var cfg = new KernelConfig(new Index3D((n + t - 1) / t, (m + t - 1) / t, batch), new Index3D(th, th, 1));
                    var av = (ca ?? sa).Bytes; var bv = (cb ?? sb).Bytes;
                    if (ct == DType.F32) K.GemmF32(Stream, cfg, av.Cast<float>(), bv.Cast<float>(), y.Bytes.Cast<float>(), g);
                    else K.GemmF64(Stream, cfg, av.Cast<double>(), bv.Cast<double>(), y.Bytes.Cast<double>(), g);
                }
                if (!ReferenceEquals(y, sc)) DeviceCopy(y, Flat(batch * m * n), sc, Flat(batch * m * n));
            }
            finally
            {
                ca?.Release(); cb?.Release();
                if (y != null && !ReferenceEquals(y, sc)) y.Release();
            }
        }
    }

    private static (int Rows, int Len) Rows(Layout l)
    {
        int len = l.Shape.Length == 0 ? 1 : l.Shape[^1];
        return (len == 0 ? 0 : l.Numel / len, len);
    }

    public void Softmax(Storage src, Layout srcLayout, Storage dst, bool log)
    {
        var d = S(dst);
        if (!d.DType.IsFloatingPoint()) throw Unsupported("softmax", d.DType);
        var (rows, len) = Rows(srcLayout);
        if (rows == 0) return;
        lock (_gate)
        {
            var x = Dense(S(src), srcLayout, out long off);
            try { K.Softmax(Stream, rows, x.Bytes, (int)x.DType, off, len, d.Bytes, (int)d.DType, log ? 1 : 0); }
            finally { x.Release(); }
        }
    }

    public void SoftmaxBackward(Storage y, Layout yLayout, Storage gy, Layout gyLayout, Storage gx, bool log)
    {
        var d = S(gx);
        if (!d.DType.IsFloatingPoint()) throw Unsupported("softmax backward", d.DType);
        var (rows, len) = Rows(yLayout);
        if (rows == 0) return;
        lock (_gate)
        {
            var ys = Dense(S(y), yLayout, out long yo);
            var gs = Dense(S(gy), gyLayout, out long go);
            try { K.SoftmaxBackward(Stream, rows, ys.Bytes, (int)ys.DType, yo, gs.Bytes, (int)gs.DType, go, len, d.Bytes, (int)d.DType, log ? 1 : 0); }
            finally { ys.Release(); gs.Release(); }
        }
    }

    private static ArrayView<float> F(IlgpuStorage s) => s.Bytes.Cast<float>();

    public void LayerNorm(Storage x, int rows, int d, Storage? weight, Storage? bias, double eps, Storage y, Storage mean, Storage rstd)
    {
        if (x.DType != DType.F32) throw new NotSupportedException($"layer_norm kernel takes F32, got {x.DType}");
        if (rows == 0) return;
        var sx = S(x);
        var w = weight is null ? sx : S(weight);
        var b = bias is null ? sx : S(bias);
        lock (_gate) K.LayerNorm(Stream, rows, F(sx), d, F(w), F(b), weight is null ? 0 : 1, bias is null ? 0 : 1, (float)eps, F(S(y)), F(S(mean)), F(S(rstd)));
    }

    public void LayerNormBackward(Storage x, Storage gy, int rows, int d, Storage? weight, Storage mean, Storage rstd, Storage gx, Storage? gweight, Storage? gbias)
    {
        if (x.DType != DType.F32) throw new NotSupportedException($"layer_norm backward takes F32, got {x.DType}");
        var sx = S(x); var sg = S(gy);
        lock (_gate)
        {
            if (rows > 0) K.LayerNormBackwardRows(Stream, rows, F(sx), F(sg), d, F(weight is null ? sx : S(weight)), weight is null ? 0 : 1, F(S(mean)), F(S(rstd)), F(S(gx)));
            if ((gweight != null || gbias != null) && d > 0)
                K.LayerNormBackwardColumns(Stream, d, F(sx), F(sg), rows, F(S(mean)), F(S(rstd)), F(gweight is null ? sx : S(gweight)), F(gbias is null ? sx : S(gbias)),
                    gweight is null ? 0 : 1, gbias is null ? 0 : 1);
        }
    }

    /// <summary>Index values on the host, for range checks a kernel cannot report (costs one synchronising copy).</summary>
    private unsafe long[] IndexValues(IlgpuStorage ix, Layout l)
    {
        if (ix.DType is not (DType.I64 or DType.I32)) throw new ArgumentException($"indices must be I64 or I32, got {ix.DType}");
        var host = new CpuStorage(DType.I64, l.Numel);
        try
        {
            if (l.Numel > 0) Copy(ix, l, host, Layout.Contiguous(l.Shape));
            return host.AsSpan<long>().ToArray();
        }
        finally { host.Release(); }
    }

    public void IndexSelect(Storage src, Layout srcLayout, int dim, Storage index, int indexLength, Storage dst)
    {
        var s = S(src); var d = S(dst); var ix = S(index);
        int outer = 1, inner = 1, mid = srcLayout.Shape[dim];
        for (int i = 0; i < dim; i++) outer *= srcLayout.Shape[i];
        for (int i = dim + 1; i < srcLayout.Rank; i++) inner *= srcLayout.Shape[i];
        foreach (var v in IndexValues(ix, Flat(indexLength)))
            if (v < -mid || v >= mid) throw new IndexOutOfRangeException($"index_select: index {v} is out of range for dimension {dim} of size {mid}");
        int n = outer * indexLength * inner;
        if (n == 0) return;
        lock (_gate)
        {
            var x = Dense(s, srcLayout, out long off);
            try { K.IndexSelect(Stream, n, x.Bytes, off, mid, inner, indexLength, ix.Bytes, (int)ix.DType, 0, d.Bytes, s.DType.SizeOf()); }
            finally { x.Release(); }
        }
    }

    private void CheckIndexed(Layout target, int dim, Layout indexLayout, IlgpuStorage ix, string op)
    {
        var shape = indexLayout.Shape;
        if (shape.Length != target.Rank) throw new ArgumentException($"{op}: index rank {shape.Length} differs from tensor rank {target.Rank}");
        for (int i = 0; i < shape.Length; i++)
            if (i != dim && shape[i] > target.Shape[i])
                throw new ArgumentException($"{op}: index shape {Layout.ShapeString(shape)} exceeds tensor shape {Layout.ShapeString(target.Shape)} at dimension {i}");
        int size = target.Shape[dim];
        foreach (var v in IndexValues(ix, indexLayout))
            if (v < -size || v >= size) throw new IndexOutOfRangeException($"{op}: index {v} is out of range for dimension {dim} of size {size}");
    }

    public void Gather(Storage src, Layout srcLayout, int dim, Storage index, Layout indexLayout, Storage dst)
    {
        var s = S(src); var d = S(dst); var ix = S(index);
        CheckIndexed(srcLayout, dim, indexLayout, ix, "gather");
        int n = indexLayout.Numel;
        if (n == 0) return;
        var (ishape, _) = Pad6(indexLayout.Shape, indexLayout.Strides, 0, "gather");
        var (_, ss) = Pad6(srcLayout.Shape, srcLayout.Strides, srcLayout.Offset, "gather");
        int pad = 6 - srcLayout.Rank;
        lock (_gate)
        {
            var idx = Dense(ix, indexLayout, out long io);
            try { K.Gather(Stream, n, s.Bytes, ss, ishape, dim + pad, srcLayout.Shape[dim], idx.Bytes, (int)idx.DType, io, d.Bytes, s.DType.SizeOf()); }
            finally { idx.Release(); }
        }
    }

    public void ScatterAdd(Storage dst, Layout dstLayout, int dim, Storage index, Layout indexLayout, Storage src, Layout srcLayout)
    {
        var d = S(dst); var ix = S(index);
        if (d.DType is not (DType.F32 or DType.F64 or DType.I64 or DType.I32)) throw Unsupported("scatter_add", d.DType);
        CheckIndexed(dstLayout, dim, indexLayout, ix, "scatter_add");
        int n = indexLayout.Numel;
        if (n == 0) return;
        var (ishape, _) = Pad6(indexLayout.Shape, indexLayout.Strides, 0, "scatter_add");
        var (_, ds) = Pad6(dstLayout.Shape, dstLayout.Strides, dstLayout.Offset, "scatter_add");
        int pad = 6 - dstLayout.Rank;
        lock (_gate)
        {
            var idx = Dense(ix, indexLayout, out long io);
            var s = S(src);
            IlgpuStorage? cs = null;
            if (s.DType != d.DType) { cs = Converted(s, srcLayout, d.DType); srcLayout = Layout.Contiguous(srcLayout.Shape); }
            var (_, ss) = Pad6(srcLayout.Shape, srcLayout.Strides, srcLayout.Offset, "scatter_add");
            try { K.ScatterAdd(Stream, n, d.Bytes, (int)d.DType, ds, ishape, dim + pad, dstLayout.Shape[dim], idx.Bytes, (int)idx.DType, io, (cs ?? s).Bytes, ss); }
            finally { idx.Release(); cs?.Release(); }
        }
    }

    public void FillRandom(Storage dst, int length, ulong seed, ulong offset, bool normal, double low, double high)
    {
        var d = S(dst);
        if (length == 0) return;
        // The CPU's rule: uniform values carry only as many random bits as the dtype's significand holds.
        int bits = d.DType switch { DType.F16 => 11, DType.BF16 => 8, _ => 24 };
        lock (_gate) K.FillRandom(Stream, length, d.Bytes, (int)d.DType, seed, offset, normal ? 1 : 0, low, high, bits);
    }

    private static void CheckF32(Storage s, string what)
    {
        if (s.DType != DType.F32) throw new NotSupportedException($"optimizer {what} must be F32 (master weights), got {s.DType}");
    }

    public void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, int n, double lr, double momentum, double dampening, double weightDecay, bool nesterov, bool firstStep)
    {
        CheckF32(param, "parameters"); CheckF32(grad, "gradients");
        if (n == 0) return;
        var g = F(S(grad));
        lock (_gate)
            K.Sgd(Stream, n, F(S(param)), g, momentumBuffer is null ? g : F(S(momentumBuffer)), momentumBuffer is null ? 0 : 1,
                (float)lr, (float)momentum, (float)(1 - dampening), (float)weightDecay, nesterov ? 1 : 0, firstStep ? 1 : 0);
    }

    public void AdamStep(Storage param, Storage grad, Storage expAvg, Storage expAvgSq, int n, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, long step)
    {
        CheckF32(param, "parameters"); CheckF32(grad, "gradients");
        if (n == 0) return;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        var args = new AdamArgs
        {
            StepSize = (float)(lr / bc1), Bc2Sqrt = (float)Math.Sqrt(bc2), B1 = (float)beta1, B2 = (float)beta2, Eps = (float)eps,
            Wd = (float)weightDecay, Decay = (float)(1 - lr * weightDecay), Decoupled = decoupled ? 1 : 0,
        };
        lock (_gate) K.Adam(Stream, n, F(S(param)), F(S(grad)), F(S(expAvg)), F(S(expAvgSq)), args);
    }
}
