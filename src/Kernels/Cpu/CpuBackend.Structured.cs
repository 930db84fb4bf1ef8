// CPU backend: reductions, matmul, softmax, layer norm, indexing and random fills.
namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Reduce(ReduceOp op, Storage src, Layout srcLayout, int[] dims, Storage dst, Storage? argDst = null)
    {
        var s = C(src); var d = C(dst);
        int rank = srcLayout.Rank;
        var reduced = new bool[rank];
        foreach (var dim in dims) reduced[dim] = true;
        var order = new List<int>(rank);
        int outer = 1, inner = 1;
        for (int i = 0; i < rank; i++) if (!reduced[i]) { order.Add(i); outer *= srcLayout.Shape[i]; }
        for (int i = 0; i < rank; i++) if (reduced[i]) { order.Add(i); inner *= srcLayout.Shape[i]; }
        var ct = ComputeType(s.DType);
        var y = Target(d, ct);
        long* arg = argDst != null ? C(argDst).Ptr<long>() : null;

        // Fast path: summing leading dims of a contiguous float tensor (bias and broadcast gradients).
        bool leading = dims.Length > 0 && dims[^1] == dims.Length - 1 && dims[0] == 0;
        if (op == ReduceOp.Sum && leading && srcLayout.IsContiguous && ct.IsFloatingPoint() && s.DType == ct && outer > 1)
        {
            byte* p = s.Pointer + (long)srcLayout.Offset * ct.SizeOf();
            if (ct == DType.F32) CpuReduce.SumLeading((float*)p, inner, outer, y.Ptr<float>());
            else CpuReduce.SumLeading((double*)p, inner, outer, y.Ptr<double>());
            Store(y, d, outer);
            ReleaseIfTemp(y, d);
            return;
        }
        var permuted = srcLayout.Permute(order.ToArray());
        using var x = new Lease(DenseView(s, permuted, ct, out var px));
        switch (ct)
        {
            case DType.F32: CpuReduce.Rows(op, (float*)px, outer, inner, y.Ptr<float>(), arg); break;
            case DType.F64: CpuReduce.Rows(op, (double*)px, outer, inner, y.Ptr<double>(), arg); break;
            case DType.I64: CpuReduce.RowsInt(op, (long*)px, outer, inner, y.Ptr<long>(), arg); break;
            case DType.I32: CpuReduce.RowsInt(op, (int*)px, outer, inner, y.Ptr<int>(), arg); break;
            case DType.U8: case DType.Bool: CpuReduce.RowsInt(op, px, outer, inner, y.Ptr<byte>(), arg); break;
            case DType.I8: CpuReduce.RowsInt(op, (sbyte*)px, outer, inner, y.Ptr<sbyte>(), arg); break;
            default: throw new NotSupportedException($"reduce on {ct}");
        }
        Store(y, d, outer);
        ReleaseIfTemp(y, d);
    }

    public void MatMul(Storage a, Layout aLayout, Storage b, Layout bLayout, Storage c, int[] cShape)
    {
        var sc = C(c);
        var ct = ComputeType(sc.DType);
        if (!ct.IsFloatingPoint()) throw new NotSupportedException($"matmul on {sc.DType}");
        int rank = cShape.Length;
        int m = cShape[rank - 2], n = cShape[rank - 1], k = aLayout.Shape[rank - 1];
        int batch = 1;
        for (int i = 0; i < rank - 2; i++) batch *= cShape[i];
        var sa = Operand(C(a), aLayout, ct, out bool ta, out int lda);
        var sb = Operand(C(b), bLayout, ct, out bool tb, out int ldb);
        using var la = new Lease(sa.Storage);
        using var lb = new Lease(sb.Storage);
        var y = Target(sc, ct);
        int es = ct.SizeOf();
        var batchShape = cShape[..(rank - 2)];
        var aOffsets = BatchOffsets(sa.Layout, batchShape);
        var bOffsets = BatchOffsets(sb.Layout, batchShape);
        byte* pa = sa.Storage.Pointer, pb = sb.Storage.Pointer, pc = y.Pointer;
        if (k == 0) { new Span<byte>(pc, checked(batch * m * n * es)).Clear(); }
        else
        {
            // Small per-batch products (attention heads) run batches in parallel; large ones let GEMM parallelise.
            bool parallelBatches = batch > 1 && (long)m * n * k < 1 << 18;
            void One(int bi)
            {
                if (ct == DType.F32)
                    Gemm.Sgemm(ta, tb, m, n, k, 1f, (float*)(pa + aOffsets[bi] * es), lda, (float*)(pb + bOffsets[bi] * es), ldb, 0f, (float*)(pc + (long)bi * m * n * es), n);
                else
                    Gemm.Dgemm(ta, tb, m, n, k, 1.0, (double*)(pa + aOffsets[bi] * es), lda, (double*)(pb + bOffsets[bi] * es), ldb, 0.0, (double*)(pc + (long)bi * m * n * es), n);
            }
            if (parallelBatches) CpuWorkers.For(batch, One);
            else for (int bi = 0; bi < batch; bi++) One(bi);
        }
        Store(y, sc, batch * m * n);
        ReleaseIfTemp(y, sc);
    }

    /// <summary>A GEMM operand: the matrix dims must be unit-strided in one direction, else it is copied.</summary>
    private static (CpuStorage Storage, Layout Layout) Operand(CpuStorage s, Layout l, DType ct, out bool trans, out int ld)
    {
        int r = l.Rank;
        int rows = l.Shape[r - 2], cols = l.Shape[r - 1];
        int sr = l.Strides[r - 2], sc = l.Strides[r - 1];
        if (s.DType == ct)
        {
            // Row-major with unit column stride and non-overlapping rows: use in place.
            if ((sc == 1 || cols == 1) && (rows == 1 || sr >= cols))
            {
                trans = false;
                ld = rows == 1 ? Math.Max(1, cols) : sr;
                s.AddRef();
                return (s, l);
            }
            // A transposed view (column-major): GEMM reads it with trans.
            if ((sr == 1 || rows == 1) && (cols == 1 || sc >= rows))
            {
                trans = true;
                ld = cols == 1 ? Math.Max(1, rows) : sc;
                s.AddRef();
                return (s, l);
            }
        }
        // Anything else (broadcast rows, odd strides, other dtype): materialise the whole view.
        var dl = Layout.Contiguous(l.Shape);
        var dense = new CpuStorage(ct, l.Numel);
        CpuCopy.Copy(s, l, dense, dl);
        trans = false;
        ld = Math.Max(1, cols);
        return (dense, dl);
    }

    private static long[] BatchOffsets(Layout l, int[] batchShape)
    {
        int batch = 1;
        foreach (var d in batchShape) batch *= d;
        var offs = new long[batch];
        var idx = new int[batchShape.Length];
        for (int bi = 0; bi < batch; bi++)
        {
            long o = l.Offset;
            for (int d = 0; d < batchShape.Length; d++) o += (long)idx[d] * l.Strides[d];
            offs[bi] = o;
            for (int d = batchShape.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < batchShape[d]) break;
                idx[d] = 0;
            }
        }
        return offs;
    }

    public void Softmax(Storage src, Layout srcLayout, Storage dst, bool log)
    {
        var d = C(dst);
        var ct = ComputeType(d.DType);
        int len = srcLayout.Shape.Length == 0 ? 1 : srcLayout.Shape[^1];
        int rows = len == 0 ? 0 : srcLayout.Numel / len;
        using var x = new Lease(DenseView(C(src), srcLayout, ct, out var px));
        var y = Target(d, ct);
        if (ct == DType.F32) CpuReduce.Softmax((float*)px, y.Ptr<float>(), rows, len, log);
        else CpuReduce.Softmax((double*)px, y.Ptr<double>(), rows, len, log);
        Store(y, d, srcLayout.Numel);
        ReleaseIfTemp(y, d);
    }

    public void SoftmaxBackward(Storage y, Layout yLayout, Storage gy, Layout gyLayout, Storage gx, bool log)
    {
        var d = C(gx);
        var ct = ComputeType(d.DType);
        int len = yLayout.Shape.Length == 0 ? 1 : yLayout.Shape[^1];
        int rows = len == 0 ? 0 : yLayout.Numel / len;
        using var ys = new Lease(DenseView(C(y), yLayout, ct, out var py));
        using var gs = new Lease(DenseView(C(gy), gyLayout, ct, out var pg));
        var o = Target(d, ct);
        if (ct == DType.F32) CpuReduce.SoftmaxBackward((float*)py, (float*)pg, o.Ptr<float>(), rows, len, log);
        else CpuReduce.SoftmaxBackward((double*)py, (double*)pg, o.Ptr<double>(), rows, len, log);
        Store(o, d, yLayout.Numel);
        ReleaseIfTemp(o, d);
    }

    public void LayerNorm(Storage x, int rows, int d, Storage? weight, Storage? bias, double eps, Storage y, Storage mean, Storage rstd)
    {
        if (x.DType != DType.F32) throw new NotSupportedException($"layer_norm kernel takes F32, got {x.DType}");
        CpuReduce.LayerNorm(C(x).Ptr<float>(), rows, d, weight is null ? null : C(weight).Ptr<float>(), bias is null ? null : C(bias).Ptr<float>(),
            (float)eps, C(y).Ptr<float>(), C(mean).Ptr<float>(), C(rstd).Ptr<float>());
    }

    public void LayerNormBackward(Storage x, Storage gy, int rows, int d, Storage? weight, Storage mean, Storage rstd, Storage gx, Storage? gweight, Storage? gbias)
    {
        CpuReduce.LayerNormBackward(C(x).Ptr<float>(), C(gy).Ptr<float>(), rows, d, weight is null ? null : C(weight).Ptr<float>(),
            C(mean).Ptr<float>(), C(rstd).Ptr<float>(), C(gx).Ptr<float>(), gweight is null ? null : C(gweight).Ptr<float>(), gbias is null ? null : C(gbias).Ptr<float>());
    }

    private static long ReadIndex(CpuStorage idx, long i) => idx.DType switch
    {
        DType.I64 => idx.Ptr<long>()[i],
        DType.I32 => idx.Ptr<int>()[i],
        _ => throw new ArgumentException($"indices must be I64 or I32, got {idx.DType}"),
    };

    public void IndexSelect(Storage src, Layout srcLayout, int dim, Storage index, int indexLength, Storage dst)
    {
        var s = C(src); var d = C(dst); var ix = C(index);
        using var x = new Lease(DenseView(s, srcLayout, s.DType, out var px));
        int outer = 1, inner = 1, mid = srcLayout.Shape[dim];
        for (int i = 0; i < dim; i++) outer *= srcLayout.Shape[i];
        for (int i = dim + 1; i < srcLayout.Rank; i++) inner *= srcLayout.Shape[i];
        int es = s.DType.SizeOf();
        long rowBytes = (long)inner * es;
        for (int j = 0; j < indexLength; j++)
        {
            long v = ReadIndex(ix, j);
            if (v < 0) v += mid;
            if (v < 0 || v >= mid) throw new IndexOutOfRangeException($"index_select: index {ReadIndex(ix, j)} is out of range for dimension {dim} of size {mid}");
        }
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < indexLength; j++)
            {
                long v = ReadIndex(ix, j);
                if (v < 0) v += mid;
                Buffer.MemoryCopy(px + ((long)o * mid + v) * rowBytes, d.Pointer + ((long)o * indexLength + j) * rowBytes, rowBytes, rowBytes);
            }
    }

    public void Gather(Storage src, Layout srcLayout, int dim, Storage index, Layout indexLayout, Storage dst)
    {
        var s = C(src); var d = C(dst);
        using var ix = new Lease(DenseView(C(index), indexLayout, C(index).DType, out var pix));
        var ixs = (CpuStorage)ix.Storage;
        int es = s.DType.SizeOf();
        ForEachIndexed(srcLayout, dim, indexLayout.Shape, pix, C(index).DType, (pos, srcOffset) =>
            Buffer.MemoryCopy(s.Pointer + srcOffset * es, d.Pointer + pos * es, es, es), "gather");
    }

    public void ScatterAdd(Storage dst, Layout dstLayout, int dim, Storage index, Layout indexLayout, Storage src, Layout srcLayout)
    {
        var d = C(dst);
        using var ix = new Lease(DenseView(C(index), indexLayout, C(index).DType, out var pix));
        using var sv = new Lease(DenseView(C(src), srcLayout, d.DType, out var ps));
        switch (d.DType)
        {
            case DType.F32: { var dp = d.Ptr<float>(); var sp = (float*)ps; ForEachIndexed(dstLayout, dim, indexLayout.Shape, pix, C(index).DType, (pos, off) => dp[off] += sp[pos], "scatter_add"); break; }
            case DType.F64: { var dp = d.Ptr<double>(); var sp = (double*)ps; ForEachIndexed(dstLayout, dim, indexLayout.Shape, pix, C(index).DType, (pos, off) => dp[off] += sp[pos], "scatter_add"); break; }
            case DType.I64: { var dp = d.Ptr<long>(); var sp = (long*)ps; ForEachIndexed(dstLayout, dim, indexLayout.Shape, pix, C(index).DType, (pos, off) => dp[off] += sp[pos], "scatter_add"); break; }
            case DType.I32: { var dp = d.Ptr<int>(); var sp = (int*)ps; ForEachIndexed(dstLayout, dim, indexLayout.Shape, pix, C(index).DType, (pos, off) => dp[off] += sp[pos], "scatter_add"); break; }
            default: throw new NotSupportedException($"scatter_add on {d.DType}");
        }
    }

    /// <summary>Walks every position of an index tensor (row-major), calling body(position, offset into target)
    /// where the target offset uses the index value along dim and the position's own coordinate elsewhere.</summary>
    private static void ForEachIndexed(Layout target, int dim, int[] indexShape, byte* pix, DType indexType, Action<long, long> body, string opName)
    {
        int rank = indexShape.Length;
        if (rank != target.Rank) throw new ArgumentException($"{opName}: index rank {rank} differs from tensor rank {target.Rank}");
        for (int i = 0; i < rank; i++)
            if (i != dim && indexShape[i] > target.Shape[i])
                throw new ArgumentException($"{opName}: index shape {Layout.ShapeString(indexShape)} exceeds tensor shape {Layout.ShapeString(target.Shape)} at dimension {i}");
        long total = 1;
        foreach (var v in indexShape) total *= v;
        var coord = new int[rank];
        int size = target.Shape[dim];
        for (long pos = 0; pos < total; pos++)
        {
            long given = indexType == DType.I64 ? ((long*)pix)[pos] : ((int*)pix)[pos];
            long iv = given < 0 ? given + size : given;
            if (iv < 0 || iv >= size) throw new IndexOutOfRangeException($"{opName}: index {given} is out of range for dimension {dim} of size {size}");
            long off = target.Offset;
            for (int d = 0; d < rank; d++) off += (long)(d == dim ? (int)iv : coord[d]) * target.Strides[d];
            body(pos, off);
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++coord[d] < indexShape[d]) break;
                coord[d] = 0;
            }
        }
    }

    public void FillRandom(Storage dst, int length, ulong seed, ulong offset, bool normal, double low, double high)
    {
        var d = C(dst);
        const int chunk = 4096;
        // Uniform values carry only as many random bits as the dtype's significand holds, so that rounding to
        // F16/BF16 cannot turn 1 - 2^-24 into 1 (Rand must stay in [low, high)).
        int uniformBits = d.DType switch { DType.F16 => 11, DType.BF16 => 8, _ => 24 };
        CpuWorkers.ForRange((length + chunk - 1) / chunk, 4, (s, e) =>
        {
            var buf = new double[chunk];
            fixed (double* pb = buf)
            {
                for (int c = s; c < e; c++)
                {
                    int start = c * chunk, n = Math.Min(chunk, length - start);
                    ulong perValue = normal ? 2UL : 1UL;
                    Philox.Fill(pb, n, seed, offset + (ulong)start * perValue, normal, low, high, uniformBits);
                    CpuCopy.Convert(DType.F64, (byte*)pb, d.DType, d.Pointer + (long)start * d.DType.SizeOf(), n);
                }
            }
        });
    }
}
