// The ONNX operators OnnxGraphModule interprets, each in terms of our tensor ops (so each has a gradient).
// Shape-like values (Shape, Constant shapes, axes) are int64 tensors and are read back to the host when used.
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Onnx;

internal static class OnnxOps
{
    public static Tensor[] Run(NodeProto node, Dictionary<string, Tensor> env, bool training)
    {
        Tensor In(int i) => i < node.Input.Count && node.Input[i].Length > 0
            ? env.TryGetValue(node.Input[i], out var t) ? t : throw new KeyNotFoundException($"input '{node.Input[i]}' is not computed before this node")
            : throw new ArgumentException($"input {i} is required");
        Tensor? Opt(int i) => i < node.Input.Count && node.Input[i].Length > 0 ? In(i) : null;
        var a = new Attrs(node);

        switch (node.OpType)
        {
            case "Identity": case "Dropout": return [In(0).Share()];
            case "Constant": return [ConstantValue(node, a)];
            case "Relu": return [In(0).Relu()];
            case "Sigmoid": return [In(0).Sigmoid()];
            case "Tanh": return [In(0).Tanh()];
            case "Erf": return [In(0).Erf()];
            case "Exp": return [In(0).Exp()];
            case "Log": return [In(0).Log()];
            case "Sqrt": return [In(0).Sqrt()];
            case "Neg": return [In(0).Neg()];
            case "Abs": return [In(0).Abs()];
            case "Reciprocal": return [In(0).Reciprocal()];
            case "Softplus": return [In(0).Softplus()];
            case "HardSwish": return [In(0).Hardswish()];
            case "LeakyRelu": return [In(0).LeakyRelu(a.Float("alpha", 0.01f))];
            case "HardSigmoid":
            {
                double alpha = a.Float("alpha", 0.2f), beta = a.Float("beta", 0.5f);
                if (Math.Abs(alpha - 1.0 / 6) < 1e-6 && beta == 0.5) return [In(0).Hardsigmoid()];
                using var lin = In(0).Mul(alpha);
                using var shifted = lin.Add(beta);
                return [shifted.Clamp(0, 1)];
            }
            case "Clip":
            {
                double? lo = Opt(1) is { } l ? l.Item() : null, hi = Opt(2) is { } h ? h.Item() : null;
                return [In(0).Clamp(lo, hi)];
            }
            case "Pow":
                if (In(1).Numel != 1) throw new NotSupportedException("Pow: only a scalar exponent is supported");
                return [In(0).Pow(In(1).Item())];
            case "Add": return [In(0).Add(In(1))];
            case "Sub": return [In(0).Sub(In(1))];
            case "Mul": return [In(0).Mul(In(1))];
            case "Div": return [In(0).Div(In(1))];
            case "MatMul": return [In(0).MatMul(In(1))];
            case "Gemm": return [Gemm(In(0), In(1), Opt(2), a)];
            case "Conv": return [Conv(In(0), In(1), Opt(2), a)];
            case "BatchNormalization":
            {
                // ONNX's momentum weights the old running value; ours (PyTorch's) weights the new batch value.
                var y = F.BatchNorm(In(0), In(3), In(4), In(1), In(2), training, 1 - a.Float("momentum", 0.9f), a.Float("epsilon", 1e-5f));
                return [y];
            }
            case "MaxPool":
            {
                var (k, s, p) = Pool2d(In(0), a);
                var d = a.Ints("dilations") is { } dl ? ((int)dl[0], (int)dl[1]) : (1, 1);
                return [F.MaxPool2d(In(0), k, s, p, d, a.Int("ceil_mode", 0) != 0)];
            }
            case "AveragePool":
            {
                var (k, s, p) = Pool2d(In(0), a);
                return [F.AvgPool2d(In(0), k, s, p, a.Int("ceil_mode", 0) != 0, a.Int("count_include_pad", 0) != 0)];
            }
            case "GlobalAveragePool":
                if (In(0).Rank < 3) throw new ArgumentException($"GlobalAveragePool needs [N, C, ...], got {Layout.ShapeString(In(0).ShapeRef)}");
                return [In(0).Mean(Enumerable.Range(2, In(0).Rank - 2).ToArray(), keepDim: true)];
            case "ReduceMean": case "ReduceSum":
            {
                var x = In(0);
                var axes = a.Ints("axes") ?? Opt(1)?.ToLongArray();
                int[]? dims = axes is null || axes.Length == 0 ? null : axes.Select(v => Axis(v, x.Rank)).ToArray();
                if (dims is null && a.Int("noop_with_empty_axes", 0) != 0) return [x.Share()];
                bool keep = a.Int("keepdims", 1) != 0;
                return [node.OpType == "ReduceMean" ? x.Mean(dims, keep) : x.Sum(dims, keep)];
            }
            case "Softmax": return [F.Softmax(In(0), (int)a.Int("axis", -1))];
            case "LayerNormalization":
            {
                var x = In(0);
                int axis = Axis(a.Int("axis", -1), x.Rank);
                return [F.LayerNorm(x, x.ShapeRef[axis..].ToArray(), In(1), Opt(2), a.Float("epsilon", 1e-5f))];
            }
            case "Flatten":
            {
                var x = In(0);
                int axis = Bound(a.Int("axis", 1), x.Rank);
                int outer = x.ShapeRef[..axis].Aggregate(1, (p, d) => p * d);
                return [x.Reshape(outer, x.Numel / Math.Max(1, outer))];
            }
            case "Reshape": return [In(0).Reshape(ReshapeDims(In(0).ShapeRef, In(1).ToLongArray(), a.Int("allowzero", 0) != 0))];
            case "Transpose":
            {
                var x = In(0);
                int[] perm = a.Ints("perm") is { } p ? p.Select(v => (int)v).ToArray() : Enumerable.Range(0, x.Rank).Reverse().ToArray();
                return [x.Permute(perm)];
            }
            case "Concat":
            {
                var xs = node.Input.Where(n => n.Length > 0).Select(n => env[n]).ToList();
                return [Tensor.Cat(xs, Axis(a.Int("axis", 0), xs[0].Rank))];
            }
            case "Gather":
            {
                var x = In(0);
                int axis = Axis(a.Int("axis", 0), x.Rank);
                var idx = In(1).ToLongArray().Select(v => v < 0 ? v + x.ShapeRef[axis] : v).ToArray();
                if (In(1).Rank == 0) return [x.Select(axis, (int)idx[0])];
                using var index = Tensor.FromArray(idx, idx.Length);
                using var picked = x.IndexSelect(axis, index);
                int[] shape = [.. x.ShapeRef[..axis], .. In(1).ShapeRef, .. x.ShapeRef[(axis + 1)..]];
                return [picked.Reshape(shape)];
            }
            case "Shape":
            {
                var s = In(0).ShapeRef;
                int start = Bound(a.Int("start", 0), s.Length), end = Bound(a.Int("end", s.Length), s.Length);
                var dims = s[start..Math.Max(start, end)].Select(d => (long)d).ToArray();
                return [Tensor.FromArray(dims, dims.Length)];
            }
            case "Expand":
            {
                var x = In(0);
                var target = In(1).ToLongArray().Select(v => (int)v).ToArray();
                int rank = Math.Max(x.Rank, target.Length);
                var shape = new int[rank];
                for (int i = 0; i < rank; i++)
                {
                    int xd = i - (rank - x.Rank) >= 0 ? x.ShapeRef[i - (rank - x.Rank)] : 1, td = i - (rank - target.Length) >= 0 ? target[i - (rank - target.Length)] : 1;
                    if (xd != 1 && td != 1 && xd != td) throw new ArgumentException($"Expand: {Layout.ShapeString(x.ShapeRef)} does not broadcast to {Layout.ShapeString(target)}");
                    shape[i] = xd == 1 ? td : xd;
                }
                using var lifted = x.Reshape([.. Enumerable.Repeat(1, rank - x.Rank), .. x.ShapeRef]);
                return [lifted.Expand(shape)];
            }
            case "Unsqueeze":
            {
                var x = In(0);
                var given = a.Ints("axes") ?? In(1).ToLongArray();
                var axes = given.Select(v => Axis(v, x.Rank + given.Length)).Order().ToArray(); // negative axes count in the output
                var shape = x.ShapeRef.ToList();
                foreach (var ax in axes) shape.Insert(ax, 1);
                return [x.Reshape(shape.ToArray())];
            }
            case "Squeeze":
            {
                var x = In(0);
                var axes = a.Ints("axes") ?? Opt(1)?.ToLongArray();
                var drop = axes is null ? Enumerable.Range(0, x.Rank).Where(i => x.ShapeRef[i] == 1).ToHashSet() : axes.Select(v => Axis(v, x.Rank)).ToHashSet();
                return [x.Reshape(x.ShapeRef.Where((_, i) => !drop.Contains(i)).ToArray())];
            }
            case "Max": case "Min":
            {
                var y = In(0).Share();
                for (int i = 1; i < node.Input.Count; i++)
                {
                    var next = node.OpType == "Max" ? y.Maximum(In(i)) : y.Minimum(In(i));
                    y.Dispose();
                    y = next;
                }
                return [y];
            }
            case "Slice": return [Slice(In(0), In(1).ToLongArray(), In(2).ToLongArray(), Opt(3)?.ToLongArray(), Opt(4)?.ToLongArray())];
            case "Split":
            {
                var x = In(0);
                int axis = Axis(a.Int("axis", 0), x.Rank), n = node.Output.Count, size = x.ShapeRef[axis];
                int[] sizes = Opt(1) is { } sp ? sp.ToLongArray().Select(v => (int)v).ToArray()
                    : Enumerable.Range(0, n).Select(i => size / n + (i < size % n ? 1 : 0)).ToArray();
                if (Opt(1) is null && size % n != 0) throw new ArgumentException($"Split: dim {axis} of {Layout.ShapeString(x.ShapeRef)} does not divide into {n} equal parts");
                return x.Split(sizes, axis);
            }
            case "Cast":
            {
                // Values are float32 or int64 here (see OnnxImporter.ToTensor), so casts map onto those two.
                var to = (TensorProto.Types.DataType)a.Int("to", 0);
                var dtype = to switch
                {
                    TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double => DType.F32,
                    TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Int32 => DType.I64,
                    _ => throw new NotSupportedException($"Cast to {to} is not supported (FLOAT, DOUBLE, INT32, INT64 are)"),
                };
                return [In(0).To(dtype)];
            }
            case "ConstantOfShape":
            {
                var shape = In(0).ToLongArray().Select(v => checked((int)v)).ToArray();
                if (a.Attr("value") is not { } v) return [Tensor.Zeros(shape)];
                using var one = OnnxImporter.ToTensor(v.T, $"ConstantOfShape '{node.Name}'");
                return [Tensor.Full(shape, one.Item(), one.DType)];
            }
            default:
                throw new NotSupportedException($"operator {node.OpType} is not supported");
        }
    }

    private static int Axis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw new ArgumentException($"axis {axis} is out of range for rank {rank}");
        return (int)a;
    }

    /// <summary>ONNX Slice with step 1 (negative starts/ends count from the end, out-of-range ones clamp).</summary>
    private static Tensor Slice(Tensor x, long[] starts, long[] ends, long[]? axes, long[]? steps)
    {
        if (steps is not null && steps.Any(v => v != 1)) throw new NotSupportedException($"Slice: only step 1 is supported, got steps [{string.Join(", ", steps)}]");
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var y = x.Share();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = Axis(axes[i], x.Rank), size = x.ShapeRef[axis];
            long start = Math.Clamp(starts[i] < 0 ? starts[i] + size : starts[i], 0, size);
            long end = Math.Clamp(ends[i] < 0 ? ends[i] + size : ends[i], 0, size);
            var next = y.Narrow(axis, (int)start, (int)Math.Max(0, end - start));
            y.Dispose();
            y = next;
        }
        return y;
    }

    /// <summary>A slice bound (Shape's start/end, Flatten's axis): negative counts from the end, then clamped to [0, rank].</summary>
    private static int Bound(long v, int rank) => (int)Math.Clamp(v < 0 ? v + rank : v, 0, rank);

    private static int[] ReshapeDims(int[] input, long[] shape, bool allowZero)
    {
        var dims = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++)
            dims[i] = shape[i] == 0 && !allowZero ? (i < input.Length ? input[i] : throw new ArgumentException($"Reshape: dim {i} copies an input dim that {Layout.ShapeString(input)} lacks")) : (int)shape[i];
        return dims; // a -1 left here is inferred by Tensor.Reshape
    }

    private static Tensor Gemm(Tensor x, Tensor w, Tensor? c, Attrs a)
    {
        using var scope = new DisposeScope();
        var xa = a.Int("transA", 0) != 0 ? x.T() : x;
        var wb = a.Int("transB", 0) != 0 ? w.T() : w;
        var y = xa.MatMul(wb);
        double alpha = a.Float("alpha", 1), beta = a.Float("beta", 1);
        if (alpha != 1) y = y.Mul(alpha);
        if (c is not null) y = y.Add(beta == 1 ? c : c.Mul(beta));
        return scope.MoveToOuter(y);
    }

    internal static Tensor Conv(Tensor x, Tensor w, Tensor? b, Attrs a)
    {
        if (x.Rank != 4) throw new NotSupportedException($"Conv: only 2-D convolution ([N, C, H, W]) is supported, got {Layout.ShapeString(x.ShapeRef)}");
        if (a.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID"))
            throw new NotSupportedException($"Conv: auto_pad {a.String("auto_pad", "")} is not supported (give explicit pads)");
        var s = a.Ints("strides") ?? [1, 1];
        var d = a.Ints("dilations") ?? [1, 1];
        var p = a.Ints("pads") ?? [0, 0, 0, 0];
        int groups = (int)a.Int("group", 1);
        if (p[0] == p[2] && p[1] == p[3])
            return F.Conv2d(x, w, b, ((int)s[0], (int)s[1]), ((int)p[0], (int)p[1]), ((int)d[0], (int)d[1]), groups);
        // Asymmetric padding (ONNX order: top, left, bottom, right) is a zero pad first.
        using var padded = F.Pad(x, [(int)p[1], (int)p[3], (int)p[0], (int)p[2]]);
        return F.Conv2d(padded, w, b, ((int)s[0], (int)s[1]), (0, 0), ((int)d[0], (int)d[1]), groups);
    }

    private static ((int, int) Kernel, (int, int) Stride, (int, int) Pad) Pool2d(Tensor x, Attrs a)
    {
        if (x.Rank != 4) throw new NotSupportedException($"only 2-D pooling ([N, C, H, W]) is supported, got {Layout.ShapeString(x.ShapeRef)}");
        if (a.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID")) throw new NotSupportedException("pooling: auto_pad other than NOTSET/VALID is not supported");
        var k = a.Ints("kernel_shape") ?? throw new ArgumentException("pooling needs kernel_shape");
        var s = a.Ints("strides") ?? [1, 1];
        var p = a.Ints("pads") ?? [0, 0, 0, 0];
        if (p[0] != p[2] || p[1] != p[3]) throw new NotSupportedException($"pooling: asymmetric pads [{string.Join(", ", p)}] are not supported");
        return (((int)k[0], (int)k[1]), ((int)s[0], (int)s[1]), ((int)p[0], (int)p[1]));
    }

    private static Tensor ConstantValue(NodeProto node, Attrs a)
    {
        if (a.Attr("value") is { } v) return OnnxImporter.ToTensor(v.T, $"Constant '{node.Name}'");
        if (a.Attr("value_float") is { } f) return Tensor.Scalar(f.F);
        if (a.Attr("value_floats") is { } fs) return Tensor.FromArray(fs.Floats.ToArray(), fs.Floats.Count);
        if (a.Attr("value_int") is { } i) return Tensor.FromArray(new[] { i.I }, []);
        if (a.Attr("value_ints") is { } ints) return Tensor.FromArray(ints.Ints.ToArray(), ints.Ints.Count);
        throw new NotSupportedException("Constant: only value, value_float(s) and value_int(s) are supported");
    }

    internal readonly struct Attrs(NodeProto node)
    {
        public AttributeProto? Attr(string name) => node.Attribute.FirstOrDefault(x => x.Name == name);
        public long Int(string name, long fallback) => Attr(name) is { } x ? x.I : fallback;
        public float Float(string name, float fallback) => Attr(name) is { } x ? x.F : fallback;
        public long[]? Ints(string name) => Attr(name) is { } x ? x.Ints.ToArray() : null;
        public string String(string name, string fallback) => Attr(name) is { } x ? x.S.ToStringUtf8() : fallback;
    }
}
