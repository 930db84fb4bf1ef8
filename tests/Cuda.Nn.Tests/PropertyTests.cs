// Property tests: random small shapes (rank 0-4, dims 0-5) and values, each op checked against a scalar
// reference loop written over row-major indices. Every property runs from a fixed FsCheck seed.
using System.Buffers.Binary;
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;
using FsCheck;
using FsCheck.Fluent;
using static Cuda.Nn.Tests.Ref;

namespace Cuda.Nn.Tests;

public class PropertyTests
{
    // ---------------------------------------------------------------- broadcasting

    public sealed record BroadcastCase(int[] Out, int Seed, DType DType, bool PermuteA)
    {
        public override string ToString() => $"out {S(Out)} seed {Seed} {DType} permuteA {PermuteA}";
    }

    /// <summary>A shape that broadcasts to `out`: a suffix of its dims, each kept or replaced by 1.</summary>
    private static int[] BroadcastableTo(int[] outShape, Random rnd)
    {
        int rank = rnd.Next(0, outShape.Length + 1);
        var s = outShape[^rank..].ToArray();
        for (int i = 0; i < s.Length; i++) if (rnd.Next(3) == 0) s[i] = 1;
        return s;
    }

    private static int[] RefBroadcast(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            o[i] = da == 1 ? db : da;
        }
        return o;
    }

    /// <summary>Flat index into `shape` of the element that output index `idx` reads under broadcasting.</summary>
    private static int BroadcastSource(int[] idx, int[] shape)
    {
        int lead = idx.Length - shape.Length;
        var s = new int[shape.Length];
        for (int i = 0; i < shape.Length; i++) s[i] = shape[i] == 1 ? 0 : idx[i + lead];
        return Ravel(s, shape);
    }

    [Fact]
    public void BinaryOpsBroadcastLikeAScalarLoop()
    {
        var gen =
            from o in PropCheck.Shape()
            from seed in PropCheck.Seed
            from dt in Gen.Elements(DType.F32, DType.F64, DType.I64, DType.I32)
            from perm in PropCheck.Bool
            select new BroadcastCase(o, seed, dt, perm);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            var aShape = BroadcastableTo(c.Out, rnd);
            var bShape = BroadcastableTo(c.Out, rnd);
            if (rnd.Next(2) == 0) (aShape, bShape) = (bShape, aShape);
            var yShape = RefBroadcast(aShape, bShape);
            int na = Numel(aShape), nb = Numel(bShape), ny = Numel(yShape);
            using var scope = new DisposeScope();
            string ctx = $"{S(aShape)} op {S(bShape)} ({c.DType})";
            if (c.DType.IsFloatingPoint())
            {
                // nonzero multiples of 1/8 (F32) or random doubles (F64): no 0/0, no NaN, no signed zeros
                double V() => c.DType == DType.F32 ? (rnd.Next(1, 65) * (rnd.Next(2) == 0 ? 1 : -1)) / 8.0 : (rnd.NextDouble() + 0.01) * (rnd.Next(2) == 0 ? 100 : -100);
                var av = Enumerable.Range(0, na).Select(_ => V()).ToArray();
                var bv = Enumerable.Range(0, nb).Select(_ => V()).ToArray();
                var a = MakeFloat(av, aShape, c.DType, c.PermuteA);
                var b = MakeFloat(bv, bShape, c.DType, false);
                bool f32 = c.DType == DType.F32;
                double Round(double v) => f32 ? (float)v : v;
                var ops = new (string Name, Func<Tensor, Tensor, Tensor> Op, Func<double, double, double> R)[]
                {
                    ("add", (x, y) => x.Add(y), (x, y) => Round(x + y)),
                    ("sub", (x, y) => x.Sub(y), (x, y) => Round(x - y)),
                    ("mul", (x, y) => x.Mul(y), (x, y) => Round(x * y)),
                    ("div", (x, y) => x.Div(y), (x, y) => Round(x / y)),
                    ("maximum", (x, y) => x.Maximum(y), Math.Max),
                    ("minimum", (x, y) => x.Minimum(y), Math.Min),
                    ("eq", (x, y) => x.Eq(y), (x, y) => x == y ? 1 : 0),
                    ("lt", (x, y) => x.Lt(y), (x, y) => x < y ? 1 : 0),
                    ("ge", (x, y) => x.Ge(y), (x, y) => x >= y ? 1 : 0),
                };
                foreach (var (name, op, r) in ops)
                {
                    var y = op(a, b);
                    Assert.Equal(yShape, y.Shape);
                    Assert.Equal(name is "eq" or "lt" or "ge" ? DType.Bool : c.DType, y.DType);
                    var got = y.ToDoubleArray();
                    for (int i = 0; i < ny; i++)
                    {
                        var idx = Unravel(i, yShape);
                        double e = r(av[BroadcastSource(idx, aShape)], bv[BroadcastSource(idx, bShape)]);
                        Assert.True(got[i] == e, $"{name} {ctx}: element {i} is {got[i]:R}, expected {e:R}");
                    }
                }
            }
            else
            {
                bool i64 = c.DType == DType.I64;
                long V() => i64 ? rnd.NextInt64(-(1L << 60), 1L << 60) | 1 : rnd.Next(int.MinValue / 2, int.MaxValue / 2) | 1;
                var av = Enumerable.Range(0, na).Select(_ => V()).ToArray();
                var bv = Enumerable.Range(0, nb).Select(_ => V()).ToArray();
                var a = i64 ? Make(av, aShape, c.PermuteA) : Make(av.Select(v => (int)v).ToArray(), aShape, c.PermuteA);
                var b = i64 ? Make(bv, bShape, false) : Make(bv.Select(v => (int)v).ToArray(), bShape, false);
                long Wrap(long v) => i64 ? v : unchecked((int)v);
                var ops = new (string Name, Func<Tensor, Tensor, Tensor> Op, Func<long, long, long> R)[]
                {
                    ("add", (x, y) => x.Add(y), (x, y) => Wrap(unchecked(x + y))),
                    ("sub", (x, y) => x.Sub(y), (x, y) => Wrap(unchecked(x - y))),
                    ("mul", (x, y) => x.Mul(y), (x, y) => Wrap(unchecked(x * y))),
                    ("maximum", (x, y) => x.Maximum(y), Math.Max),
                    ("minimum", (x, y) => x.Minimum(y), Math.Min),
                    ("eq", (x, y) => x.Eq(y), (x, y) => x == y ? 1 : 0),
                    ("lt", (x, y) => x.Lt(y), (x, y) => x < y ? 1 : 0),
                    ("ge", (x, y) => x.Ge(y), (x, y) => x >= y ? 1 : 0),
                };
                foreach (var (name, op, r) in ops)
                {
                    var y = op(a, b);
                    Assert.Equal(yShape, y.Shape);
                    bool cmp = name is "eq" or "lt" or "ge";
                    Assert.Equal(cmp ? DType.Bool : c.DType, y.DType);
                    var got = cmp ? y.ToArray<bool>().Select(v => v ? 1L : 0L).ToArray() : i64 ? y.ToArray<long>() : y.ToArray<int>().Select(v => (long)v).ToArray();
                    for (int i = 0; i < ny; i++)
                    {
                        var idx = Unravel(i, yShape);
                        long e = r(av[BroadcastSource(idx, aShape)], bv[BroadcastSource(idx, bShape)]);
                        Assert.True(got[i] == e, $"{name} {ctx}: element {i} is {got[i]}, expected {e}");
                    }
                }
            }
        }, maxTest: 150);
    }

    public sealed record IncompatibleCase(int[] A, int Dim, int Other, int DropLead)
    {
        public override string ToString() => $"a {S(A)} dim {Dim} other {Other} dropLead {DropLead}";
    }

    [Fact]
    public void IncompatibleShapesThrowNamingBothShapes()
    {
        var gen =
            from a in PropCheck.Shape(1, 4, 2, 5)
            from dim in Gen.Choose(0, a.Length - 1)
            from other in Gen.Choose(2, 5).Where(o => o != a[dim])
            from drop in Gen.Choose(0, dim)
            select new IncompatibleCase(a, dim, other, drop);
        PropCheck.Run(gen, c =>
        {
            var bFull = (int[])c.A.Clone();
            bFull[c.Dim] = c.Other;
            var b = bFull[c.DropLead..];
            using var scope = new DisposeScope();
            var ta = Tensor.Zeros(c.A);
            var tb = Tensor.Ones(b);
            foreach (var op in new Func<Tensor, Tensor, Tensor>[] { (x, y) => x.Add(y), (x, y) => x.Mul(y), (x, y) => y.Sub(x), (x, y) => x.Gt(y), (x, y) => Tensor.Where(x.Eq(0), x, y) })
            {
                var e = Assert.Throws<ArgumentException>(() => op(ta, tb));
                Assert.Contains(S(c.A), e.Message);
                Assert.Contains(S(b), e.Message);
            }
        });
    }

    // ---------------------------------------------------------------- views

    public sealed record ViewCase(int[] Shape, int Seed, int Ops, DType DType)
    {
        public override string ToString() => $"shape {S(Shape)} seed {Seed} ops {Ops} {DType}";
    }

    /// <summary>The scalar model of a view: its shape and, for each index, the flat index into the base's row-major data.</summary>
    private sealed record RefView(int[] Shape, Func<int[], int> Map);

    private static int[] RemoveAt(int[] a, int i) => [.. a[..i], .. a[(i + 1)..]];
    private static int[] InsertAt(int[] a, int i, int v) => [.. a[..i], v, .. a[i..]];

    private static int[] Shuffle(Random rnd, int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rnd.Shuffle(p);
        return p;
    }

    /// <summary>A random shape with the same element count (regrouped dims, extra 1s, sometimes one -1).</summary>
    private static (int[] Shape, int[] Arg) RandomReshape(Random rnd, int[] s)
    {
        var dims = s.Where(d => d != 1).ToList();
        rnd.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(dims));
        for (int k = rnd.Next(3); k > 0 && dims.Count > 1; k--)
        {
            int i = rnd.Next(dims.Count - 1);
            dims[i] *= dims[i + 1];
            dims.RemoveAt(i + 1);
        }
        for (int k = rnd.Next(2); k > 0 && dims.Count < 6; k--) dims.Insert(rnd.Next(dims.Count + 1), 1);
        var shape = dims.ToArray();
        var arg = (int[])shape.Clone();
        if (Numel(s) > 0 && shape.Length > 0 && rnd.Next(2) == 0) arg[rnd.Next(arg.Length)] = -1;
        return (shape, arg);
    }

    [Fact]
    public void ViewChainsMatchAScalarModelAndShareStorage()
    {
        var gen =
            from shape in PropCheck.Shape()
            from seed in PropCheck.Seed
            from ops in Gen.Choose(1, 4)
            from dt in Gen.Elements(DType.F32, DType.F64, DType.I64, DType.F16)
            select new ViewCase(shape, seed, ops, dt);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            int n = Numel(c.Shape);
            var data = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
            using var scope = new DisposeScope();
            var baseT = MakeFloat(data, c.Shape, c.DType, false);
            var cur = baseT;
            var rv = new RefView(c.Shape, idx => Ravel(idx, c.Shape));
            bool copiedOrAliased = false, reshaped = false;
            var log = new List<string>();
            for (int k = 0; k < c.Ops; k++)
            {
                var s = rv.Shape;
                int r = s.Length;
                var m = rv.Map;
                int choice = rnd.Next(9);
                if (r == 0 && choice is 1 or 2 or 4 or 6 or 8) choice = 5;
                if (r >= 6 && choice is 3 or 5) choice = 0;
                switch (choice)
                {
                    case 0: // permute, sometimes with negative dims
                        {
                            var p = Shuffle(rnd, r);
                            var arg = p.Select(d => rnd.Next(2) == 0 ? d - r : d).ToArray();
                            log.Add($"permute({string.Join(",", arg)})");
                            cur = cur.Permute(arg);
                            rv = new RefView(p.Select(d => s[d]).ToArray(), idx => { var src = new int[r]; for (int i = 0; i < r; i++) src[p[i]] = idx[i]; return m(src); });
                            break;
                        }
                    case 1: // transpose
                        {
                            int d0 = rnd.Next(r), d1 = rnd.Next(r);
                            int a0 = rnd.Next(2) == 0 ? d0 - r : d0, a1 = rnd.Next(2) == 0 ? d1 - r : d1;
                            log.Add($"transpose({a0},{a1})");
                            cur = cur.Transpose(a0, a1);
                            var ns = (int[])s.Clone();
                            (ns[d0], ns[d1]) = (ns[d1], ns[d0]);
                            rv = new RefView(ns, idx => { var src = (int[])idx.Clone(); (src[d0], src[d1]) = (src[d1], src[d0]); return m(src); });
                            break;
                        }
                    case 2: // narrow
                        {
                            int d = rnd.Next(r);
                            int start = rnd.Next(s[d] + 1), len = rnd.Next(s[d] - start + 1);
                            int arg = rnd.Next(2) == 0 ? d - r : d;
                            log.Add($"narrow({arg},{start},{len})");
                            cur = cur.Narrow(arg, start, len);
                            var ns = (int[])s.Clone();
                            ns[d] = len;
                            rv = new RefView(ns, idx => { var src = (int[])idx.Clone(); src[d] += start; return m(src); });
                            break;
                        }
                    case 3: // expand size-1 dims (to 0..3) and maybe add a leading dim
                        {
                            int lead = rnd.Next(2);
                            var target = new List<int>();
                            var arg = new List<int>();
                            for (int i = 0; i < lead; i++) { int v = rnd.Next(1, 4); target.Add(v); arg.Add(v); }
                            for (int i = 0; i < r; i++)
                            {
                                if (s[i] == 1) { int v = rnd.Next(0, 4); target.Add(v); arg.Add(v); }
                                else { target.Add(s[i]); arg.Add(rnd.Next(2) == 0 ? -1 : s[i]); }
                            }
                            log.Add($"expand({string.Join(",", arg)})");
                            cur = cur.Expand([.. arg]);
                            copiedOrAliased = true;
                            rv = new RefView([.. target], idx => { var src = new int[r]; for (int i = 0; i < r; i++) src[i] = s[i] == 1 ? 0 : idx[i + lead]; return m(src); });
                            break;
                        }
                    case 4: // squeeze one dim (no-op when its size is not 1)
                        {
                            int d = rnd.Next(r);
                            int arg = rnd.Next(2) == 0 ? d - r : d;
                            log.Add($"squeeze({arg})");
                            cur = cur.Squeeze(arg);
                            if (s[d] == 1) rv = new RefView(RemoveAt(s, d), idx => m(InsertAt(idx, d, 0)));
                            break;
                        }
                    case 5: // unsqueeze
                        {
                            int d = rnd.Next(r + 1);
                            int arg = rnd.Next(2) == 0 ? d - r - 1 : d;
                            log.Add($"unsqueeze({arg})");
                            cur = cur.Unsqueeze(arg);
                            rv = new RefView(InsertAt(s, d, 1), idx => m(RemoveAt(idx, d)));
                            break;
                        }
                    case 6: // select
                        {
                            int d = rnd.Next(r);
                            if (s[d] == 0) goto case 4;
                            int i0 = rnd.Next(s[d]);
                            int arg = rnd.Next(2) == 0 ? i0 - s[d] : i0;
                            log.Add($"select({d},{arg})");
                            cur = cur.Select(d, arg);
                            rv = new RefView(RemoveAt(s, d), idx => m(InsertAt(idx, d, i0)));
                            break;
                        }
                    case 7: // reshape (a view or a copy, depending on the strides)
                        {
                            var (ns, arg) = RandomReshape(rnd, s);
                            log.Add($"reshape({string.Join(",", arg)})");
                            cur = cur.Reshape(arg);
                            reshaped = true;
                            rv = new RefView(ns, idx => m(Unravel(Ravel(idx, ns), s)));
                            break;
                        }
                    case 8: // movedim
                        {
                            int from = rnd.Next(r), to = rnd.Next(r);
                            log.Add($"movedim({from},{to})");
                            cur = cur.MoveDim(from, to);
                            var order = Enumerable.Range(0, r).Where(i => i != from).ToList();
                            order.Insert(to, from);
                            rv = new RefView(order.Select(i => s[i]).ToArray(), idx => { var src = new int[r]; for (int i = 0; i < r; i++) src[order[i]] = idx[i]; return m(src); });
                            break;
                        }
                }
            }
            string ctx = $"{S(c.Shape)} -> {string.Join(" -> ", log)}";
            Assert.True(rv.Shape.SequenceEqual(cur.Shape), $"{ctx}: shape {S(cur.Shape)}, expected {S(rv.Shape)}");
            int vn = Numel(rv.Shape);
            var expected = Enumerable.Range(0, vn).Select(i => data[rv.Map(Unravel(i, rv.Shape))]).ToArray();
            AllClose(expected, cur.ToDoubleArray(), 0, 0, ctx);

            // Contiguous() has the view's element order; Reshape(-1) of a non-contiguous view too.
            var cc = cur.Contiguous();
            Assert.True(cc.IsContiguous, ctx + ": Contiguous() is not contiguous");
            AllClose(expected, cc.ToDoubleArray(), 0, 0, ctx + " contiguous");
            AllClose(expected, cur.Reshape(-1).ToDoubleArray(), 0, 0, ctx + " reshape(-1)");

            if (!reshaped)
                Assert.True(ReferenceEquals(cur.StorageOrNull, baseT.StorageOrNull), ctx + ": a view op copied its data");
            if (!reshaped && !copiedOrAliased && vn > 0)
            {
                // writing through the view changes exactly the base elements it maps to
                var fresh = Enumerable.Range(0, vn).Select(i => -1.0 - i).ToArray();
                using (AutogradMode.NoGrad()) cur.CopyFrom(Tensor.FromArray(fresh, rv.Shape));
                var newBase = (double[])data.Clone();
                for (int i = 0; i < vn; i++) newBase[rv.Map(Unravel(i, rv.Shape))] = fresh[i];
                AllClose(newBase, baseT.ToDoubleArray(), 0, 0, ctx + " write-through");
            }
        }, maxTest: 200);
    }

    [Fact]
    public void ReshapeOfContiguousAndNarrowAreViews()
    {
        using var scope = new DisposeScope();
        var t = Tensor.FromArray(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var r = t.Reshape(6, 4);
        Assert.Same(t.StorageOrNull, r.StorageOrNull);
        var n = t.Narrow(2, 1, 2);
        using (AutogradMode.NoGrad()) n.CopyFrom(Tensor.Full([2, 3, 2], -1));
        var v = t.ToArray<float>();
        for (int i = 0; i < 24; i++) Assert.Equal(i % 4 is 1 or 2 ? -1f : i, v[i]);
        var p = t.Permute(2, 0, 1);
        Assert.False(p.IsContiguous);
        var pc = p.Contiguous();
        Assert.NotSame(t.StorageOrNull, pc.StorageOrNull);
        // element (k, i, j) of the permuted tensor is t[i, j, k]
        var pv = pc.ToArray<float>();
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                    Assert.Equal(v[i * 12 + j * 4 + k], pv[k * 6 + i * 3 + j]);
    }

    // ---------------------------------------------------------------- reductions

    public sealed record ReduceCase(int[] Shape, int[] Dims, bool[] Negative, bool KeepDim, DType DType, bool Permuted, int Seed)
    {
        public override string ToString() => $"shape {S(Shape)} dims {S(Dims)} neg [{string.Join(",", Negative)}] keep {KeepDim} {DType} permuted {Permuted} seed {Seed}";
    }

    [Fact]
    public void ReductionsMatchADoubleReference()
    {
        var gen =
            from shape in PropCheck.Shape()
            from dims in Gen.SubListOf(Enumerable.Range(0, shape.Length).ToArray())
            from neg in Gen.ArrayOf(PropCheck.Bool, dims.Count)
            from shuffled in Gen.Shuffle(dims.ToArray())
            from keep in PropCheck.Bool
            from dt in Gen.Elements(DType.F32, DType.F64, DType.I32)
            from perm in PropCheck.Bool
            from seed in PropCheck.Seed
            select new ReduceCase(shape, shuffled, neg, keep, dt, perm, seed);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            int rank = c.Shape.Length, n = Numel(c.Shape);
            // multiples of 1/8 in [-4, 4] (many ties for max/argmax); integers for I32
            var x = Enumerable.Range(0, n).Select(_ => c.DType == DType.I32 ? rnd.Next(-50, 51) : rnd.Next(-32, 33) / 8.0).ToArray();
            var reduced = c.Dims.Length == 0 ? Enumerable.Range(0, rank).ToArray() : c.Dims;
            var dimsArg = c.Dims.Select((d, i) => c.Negative[i] ? d - rank : d).ToArray();
            var isRed = Enumerable.Range(0, rank).Select(i => reduced.Contains(i)).ToArray();
            var keptShape = Enumerable.Range(0, rank).Where(i => !isRed[i]).Select(i => c.Shape[i]).ToArray();
            var outShape = c.KeepDim ? Enumerable.Range(0, rank).Select(i => isRed[i] ? 1 : c.Shape[i]).ToArray() : keptShape;
            int no = Numel(keptShape);
            var groups = Enumerable.Range(0, no).Select(_ => new List<double>()).ToArray();
            for (int f = 0; f < n; f++)
            {
                var idx = Unravel(f, c.Shape);
                groups[Ravel(Enumerable.Range(0, rank).Where(i => !isRed[i]).Select(i => idx[i]).ToArray(), keptShape)].Add(x[f]);
            }
            bool anyEmptyReduced = reduced.Any(d => c.Shape[d] == 0);
            using var scope = new DisposeScope();
            var t = MakeFloat(x, c.Shape, c.DType, c.Permuted);
            bool f32 = c.DType != DType.F64;
            double tol = f32 ? 2e-5 : 1e-12;
            string ctx = c.ToString();

            void Check(string name, Tensor y, Func<List<double>, double> r, DType dtype, double atol, double rtol)
            {
                Assert.True(outShape.SequenceEqual(y.Shape), $"{name} {ctx}: shape {S(y.Shape)}, expected {S(outShape)}");
                Assert.Equal(dtype, y.DType);
                AllClose(groups.Select(r).ToArray(), y.ToDoubleArray(), atol, rtol, $"{name} {ctx}");
            }

            var floatOut = c.DType == DType.I32 ? DType.F32 : c.DType;
            Check("sum", t.Sum(dimsArg, c.KeepDim), g => g.Sum(), c.DType == DType.I32 ? DType.I64 : c.DType, 0, 0);
            Check("mean", t.Mean(dimsArg, c.KeepDim), g => g.Sum() / g.Count, floatOut, tol, tol);
            if (c.DType != DType.I32)
            {
                foreach (int corr in new[] { 0, 1 })
                {
                    double Var(List<double> g)
                    {
                        double m = g.Sum() / g.Count;
                        return g.Sum(v => (v - m) * (v - m)) / Math.Max(0, g.Count - corr);
                    }
                    Check($"var(correction {corr})", t.Var(dimsArg, corr, c.KeepDim), Var, c.DType, tol, tol);
                    Check($"std(correction {corr})", t.Std(dimsArg, corr, c.KeepDim), g => Math.Sqrt(Var(g)), c.DType, tol, tol);
                }
            }
            if (anyEmptyReduced)
            {
                Assert.Throws<ArgumentException>(() => t.Amax(dimsArg, c.KeepDim));
                return;
            }
            Check("amax", t.Amax(dimsArg, c.KeepDim), g => g.Max(), c.DType, 0, 0);
            Check("amin", t.Amin(dimsArg, c.KeepDim), g => g.Min(), c.DType, 0, 0);
            if (c.DType != DType.I32)
                Check("logsumexp", t.LogSumExp(dimsArg, c.KeepDim), g => { double mx = g.Max(); return mx + Math.Log(g.Sum(v => Math.Exp(v - mx))); }, c.DType, tol, tol);

            // single-dim max/min with indices: the first extreme wins ties
            if (rank > 0)
            {
                int d = reduced[0];
                int arg = c.Negative.Length > 0 && c.Negative[0] ? d - rank : d;
                var ks = RemoveAt(c.Shape, d);
                var os = c.KeepDim ? InsertAt(ks, d, 1) : ks;
                var (mv, mi) = t.Max(arg, c.KeepDim);
                var (nv, ni) = t.Min(arg, c.KeepDim);
                var am = t.ArgMax(arg, c.KeepDim);
                Assert.Equal(os, mv.Shape);
                Assert.Equal(os, mi.Shape);
                Assert.Equal(os, am.Shape);
                Assert.Equal(DType.I64, mi.DType);
                var (gmv, gmi, gnv, gni, gam) = (mv.ToDoubleArray(), mi.ToArray<long>(), nv.ToDoubleArray(), ni.ToArray<long>(), am.ToArray<long>());
                for (int o = 0; o < Numel(ks); o++)
                {
                    var oi = Unravel(o, ks);
                    var line = Enumerable.Range(0, c.Shape[d]).Select(j => x[Ravel(InsertAt(oi, d, j), c.Shape)]).ToList();
                    int maxAt = line.IndexOf(line.Max()), minAt = line.IndexOf(line.Min());
                    Assert.True(gmv[o] == line[maxAt] && gmi[o] == maxAt && gam[o] == maxAt, $"max({arg}) {ctx}: row {o} gave ({gmv[o]}, {gmi[o]}, argmax {gam[o]}), expected ({line[maxAt]}, {maxAt})");
                    Assert.True(gnv[o] == line[minAt] && gni[o] == minAt, $"min({arg}) {ctx}: row {o} gave ({gnv[o]}, {gni[o]}), expected ({line[minAt]}, {minAt})");
                }
            }
        }, maxTest: 200);
    }

    // ---------------------------------------------------------------- cat / stack / split / chunk

    public sealed record SplitCase(int[] Shape, int Dim, bool Negative, int Seed)
    {
        public override string ToString() => $"shape {S(Shape)} dim {Dim} negative {Negative} seed {Seed}";
    }

    [Fact]
    public void CatStackSplitChunkRoundTrip()
    {
        var gen =
            from shape in PropCheck.Shape(1, 4)
            from dim in Gen.Choose(0, shape.Length - 1)
            from neg in PropCheck.Bool
            from seed in PropCheck.Seed
            select new SplitCase(shape, dim, neg, seed);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            int rank = c.Shape.Length, d = c.Dim, arg = c.Negative ? d - rank : d, size = c.Shape[d], n = Numel(c.Shape);
            var data = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
            using var scope = new DisposeScope();
            var t = Tensor.FromArray(data, c.Shape);

            // split by random sizes (zeros allowed): views of the right pieces, and cat restores the tensor
            var sizes = new List<int>();
            for (int left = size; left > 0;) { int s = rnd.Next(0, left + 1); sizes.Add(s); left -= s; }
            if (sizes.Count == 0 || rnd.Next(3) == 0) sizes.Add(0);
            var parts = t.Split([.. sizes], arg);
            Assert.Equal(sizes.Count, parts.Length);
            int at = 0;
            for (int i = 0; i < parts.Length; i++)
            {
                var expShape = (int[])c.Shape.Clone();
                expShape[d] = sizes[i];
                Assert.Equal(expShape, parts[i].Shape);
                Assert.Same(t.StorageOrNull, parts[i].StorageOrNull);
                var exp = Enumerable.Range(0, Numel(expShape)).Select(f => { var idx = Unravel(f, expShape); idx[d] += at; return data[Ravel(idx, c.Shape)]; }).ToArray();
                Assert.Equal(exp, parts[i].ToArray<float>());
                at += sizes[i];
            }
            Assert.Equal(data, Tensor.Cat(parts, arg).ToArray<float>());

            // split by a piece size and chunk: torch's piece counts, and the round trip
            if (size > 0)
            {
                int splitSize = rnd.Next(1, size + 2);
                var bySize = t.Split(splitSize, arg);
                Assert.Equal((size + splitSize - 1) / splitSize, bySize.Length);
                Assert.All(bySize[..^1], p => Assert.Equal(splitSize, p.Shape[d]));
                Assert.Equal(data, Tensor.Cat(bySize, arg).ToArray<float>());
                int chunks = rnd.Next(1, 7);
                var ch = t.Chunk(chunks, arg);
                int per = (size + chunks - 1) / chunks;
                Assert.Equal((size + per - 1) / per, ch.Length);
                Assert.True(ch.Length <= chunks);
                Assert.Equal(data, Tensor.Cat(ch, arg).ToArray<float>());
            }

            // stack k copies-with-offsets along a new dim; select along it gives each back
            int k = rnd.Next(1, 4);
            var items = Enumerable.Range(0, k).Select(j => t.Add(1000 * j)).ToArray();
            int sd = rnd.Next(rank + 1);
            int sarg = rnd.Next(2) == 0 ? sd - rank - 1 : sd;
            var st = Tensor.Stack(items, sarg);
            Assert.Equal(InsertAt(c.Shape, sd, k), st.Shape);
            for (int j = 0; j < k; j++) Assert.Equal(items[j].ToArray<float>(), st.Select(sd, j).ToArray<float>());
        }, maxTest: 150);
    }

    // ---------------------------------------------------------------- gather / scatter_add / index_select

    public sealed record IndexCase(int[] Shape, int Dim, DType IndexType, bool Permuted, int Seed)
    {
        public override string ToString() => $"shape {S(Shape)} dim {Dim} index {IndexType} permuted {Permuted} seed {Seed}";
    }

    private static Tensor IndexTensor(long[] values, int[] shape, DType dt) =>
        dt == DType.I64 ? Tensor.FromArray(values, shape) : Tensor.FromArray(values.Select(v => (int)v).ToArray(), shape);

    [Fact]
    public void GatherScatterAddIndexSelectMatchScalarLoops()
    {
        var gen =
            from shape in PropCheck.Shape(1, 3, 1, 5)
            from dim in Gen.Choose(0, shape.Length - 1)
            from it in Gen.Elements(DType.I64, DType.I32)
            from perm in PropCheck.Bool
            from seed in PropCheck.Seed
            select new IndexCase(shape, dim, it, perm, seed);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            int rank = c.Shape.Length, d = c.Dim, size = c.Shape[d], n = Numel(c.Shape);
            var x = Enumerable.Range(0, n).Select(_ => rnd.Next(-64, 65) / 8.0).ToArray();
            using var scope = new DisposeScope();
            var t = MakeFloat(x, c.Shape, DType.F32, c.Permuted);
            int dimArg = rnd.Next(2) == 0 ? d - rank : d;
            string ctx = c.ToString();

            // index_select with a 1-D index (repeats allowed, possibly empty)
            var sel = Enumerable.Range(0, rnd.Next(0, 7)).Select(_ => (long)rnd.Next(size)).ToArray();
            var ys = t.IndexSelect(dimArg, IndexTensor(sel, [sel.Length], c.IndexType));
            var ysShape = (int[])c.Shape.Clone();
            ysShape[d] = sel.Length;
            Assert.Equal(ysShape, ys.Shape);
            var expSel = Enumerable.Range(0, Numel(ysShape)).Select(f => { var idx = Unravel(f, ysShape); idx[d] = (int)sel[idx[d]]; return x[Ravel(idx, c.Shape)]; }).ToArray();
            AllClose(expSel, ys.ToDoubleArray(), 0, 0, "index_select " + ctx);

            // gather: index no larger than the input off dim, any length along dim
            var gShape = Enumerable.Range(0, rank).Select(i => i == d ? rnd.Next(0, 7) : rnd.Next(0, c.Shape[i] + 1)).ToArray();
            var gIdx = Enumerable.Range(0, Numel(gShape)).Select(_ => (long)rnd.Next(size)).ToArray();
            var yg = t.Gather(dimArg, IndexTensor(gIdx, gShape, c.IndexType));
            Assert.Equal(gShape, yg.Shape);
            var expG = Enumerable.Range(0, gIdx.Length).Select(f => { var idx = Unravel(f, gShape); idx[d] = (int)gIdx[f]; return x[Ravel(idx, c.Shape)]; }).ToArray();
            AllClose(expG, yg.ToDoubleArray(), 0, 0, "gather " + ctx);

            // scatter_add: src and index of one shape, repeats accumulate
            var src = Enumerable.Range(0, gIdx.Length).Select(_ => rnd.Next(-64, 65) / 8.0).ToArray();
            var sIdx = Enumerable.Range(0, gIdx.Length).Select(_ => (long)rnd.Next(size)).ToArray();
            var sShapeOk = Enumerable.Range(0, rank).All(i => i == d || gShape[i] <= c.Shape[i]);
            Assert.True(sShapeOk);
            var ysa = t.ScatterAdd(dimArg, IndexTensor(sIdx, gShape, c.IndexType), MakeFloat(src, gShape, DType.F32, false));
            var expS = (double[])x.Clone();
            for (int f = 0; f < sIdx.Length; f++)
            {
                var idx = Unravel(f, gShape);
                idx[d] = (int)sIdx[f];
                expS[Ravel(idx, c.Shape)] += src[f];
            }
            Assert.Equal(c.Shape, ysa.Shape);
            AllClose(expS, ysa.ToDoubleArray(), 0, 0, "scatter_add " + ctx);
            AllClose(x, t.ToDoubleArray(), 0, 0, "scatter_add must not modify its input " + ctx);
        }, maxTest: 200);
    }

    // ---------------------------------------------------------------- casts

    private static readonly DType[] AllDTypes = Enum.GetValues<DType>();

    private static readonly double[] SpecialFloats =
    [
        0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.7, 2.7, 0.9999, -0.9999, 127.9, 128, -128.5, -129, 255.5, 256, 300, -300,
        1 + 1.0 / 2048, 1 + 3.0 / 4096, 2049, 2051, 65504, 65519, 65520, 1e-8, 6e-8, 1.0 / 3, 3.0e9, -3.0e9, 1e10, -1e20, 3e38, 1e300,
        double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1.00390625, 1.005859375, 257.5,
    ];

    private static readonly long[] SpecialInts =
    [
        0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 300, -300, 65535, 65536, int.MaxValue, (long)int.MaxValue + 1, int.MinValue,
        (long)int.MinValue - 1, (1L << 40) + 3, -(1L << 40), 1L << 62, 16777217, 2049,
    ];

    private static ushort Bf16(float f)
    {
        if (float.IsNaN(f)) return 0x7FC0;
        uint b = BitConverter.SingleToUInt32Bits(f);
        return (ushort)((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
    }

    private static double Trunc(double v, double lo, double hi) => double.IsNaN(v) ? 0 : Math.Clamp(Math.Truncate(v), lo, hi);

    /// <summary>The documented value of a float element converted to dt: RNE for floats (BF16 through float),
    /// truncation toward zero saturating at the integer range (NaN to 0), Bool = v != 0.</summary>
    private static byte[] FromFloat(DType dt, double v) => dt switch
    {
        DType.F32 => BitConverter.GetBytes((float)v),
        DType.F64 => BitConverter.GetBytes(v),
        DType.F16 => BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)v)),
        DType.BF16 => BitConverter.GetBytes(Bf16((float)v)),
        DType.I64 => BitConverter.GetBytes(double.IsNaN(v) ? 0 : v >= 9.2233720368547758E18 ? long.MaxValue : v <= -9.2233720368547758E18 ? long.MinValue : (long)Math.Truncate(v)),
        DType.I32 => BitConverter.GetBytes((int)Trunc(v, int.MinValue, int.MaxValue)),
        DType.U8 => [(byte)Trunc(v, 0, 255)],
        DType.I8 => [unchecked((byte)(sbyte)Trunc(v, -128, 127))],
        DType.Bool => [v != 0 ? (byte)1 : (byte)0],
        _ => throw new ArgumentOutOfRangeException(nameof(dt)),
    };

    /// <summary>An integer element converted to dt: C#'s unchecked conversion (wraps) between integers, through double to floats.</summary>
    private static byte[] FromInt(DType dt, long v) => dt switch
    {
        DType.I64 => BitConverter.GetBytes(v),
        DType.I32 => BitConverter.GetBytes(unchecked((int)v)),
        DType.U8 => [unchecked((byte)v)],
        DType.I8 => [unchecked((byte)(sbyte)v)],
        DType.Bool => [v != 0 ? (byte)1 : (byte)0],
        _ => FromFloat(dt, v),
    };

    private static double DecodeFloat(DType dt, ReadOnlySpan<byte> b) => dt switch
    {
        DType.F32 => BinaryPrimitives.ReadSingleLittleEndian(b),
        DType.F64 => BinaryPrimitives.ReadDoubleLittleEndian(b),
        DType.F16 => (double)BinaryPrimitives.ReadHalfLittleEndian(b),
        DType.BF16 => BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
        _ => throw new ArgumentOutOfRangeException(nameof(dt)),
    };

    private static long DecodeInt(DType dt, ReadOnlySpan<byte> b) => dt switch
    {
        DType.I64 => BinaryPrimitives.ReadInt64LittleEndian(b),
        DType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b),
        DType.U8 or DType.Bool => b[0],
        DType.I8 => (sbyte)b[0],
        _ => throw new ArgumentOutOfRangeException(nameof(dt)),
    };

    /// <summary>Casts src -> dst on contiguous or strided (every other element) input and checks every element's bits.</summary>
    private static void CheckCast(DType src, DType dst, double[] floats, long[] ints, bool strided)
    {
        int es = src.SizeOf();
        // the source elements as stored (floats for float dtypes, integers for integer dtypes)
        var stored = src.IsFloatingPoint() ? floats.Select(v => FromFloat(src, v)).ToArray() : ints.Select(v => FromInt(src, v)).ToArray();
        int n = stored.Length;
        using var scope = new DisposeScope();
        var baseT = Tensor.Empty(strided ? [n, 2] : [n], src);
        var bytes = ((CpuStorage)baseT.Storage).AsBytes();
        for (int i = 0; i < n; i++)
        {
            if (strided)
            {
                stored[i].CopyTo(bytes[(2 * i * es)..]);
                stored[(i + 1) % n].CopyTo(bytes[((2 * i + 1) * es)..]);
            }
            else stored[i].CopyTo(bytes[(i * es)..]);
        }
        var x = strided ? baseT.Select(1, 0) : baseT;
        var y = x.To(dst).Contiguous(); // To() of the same dtype is a new handle on the (maybe strided) input
        Assert.Equal(dst, y.DType);
        Assert.Equal([n], y.Shape);
        var got = ((CpuStorage)y.Storage).AsBytes()[(y.Layout.Offset * dst.SizeOf())..];
        int ds = dst.SizeOf();
        for (int i = 0; i < n; i++)
        {
            byte[] exp;
            string srcValue;
            if (src.IsFloatingPoint()) { double v = DecodeFloat(src, stored[i]); exp = FromFloat(dst, v); srcValue = v.ToString("R"); }
            else { long v = DecodeInt(src, stored[i]); exp = FromInt(dst, v); srcValue = v.ToString(); }
            var actual = got.Slice(i * ds, ds);
            bool ok = actual.SequenceEqual(exp) || (dst.IsFloatingPoint() && double.IsNaN(DecodeFloat(dst, exp)) && double.IsNaN(DecodeFloat(dst, actual)));
            if (!ok)
            {
                string A(ReadOnlySpan<byte> b) => dst.IsFloatingPoint() ? DecodeFloat(dst, b).ToString("R") : DecodeInt(dst, b).ToString();
                Assert.Fail($"{src} -> {dst} ({(strided ? "strided" : "contiguous")}): {srcValue} became {A(actual)}, expected {A(exp)}");
            }
        }
    }

    [Fact]
    public void CastsBetweenAllDTypesFollowTheDocumentedRulesOnSpecialValues()
    {
        foreach (var src in AllDTypes)
            foreach (var dst in AllDTypes)
                foreach (var strided in new[] { false, true })
                    CheckCast(src, dst, SpecialFloats, SpecialInts, strided);
    }

    [Fact]
    public void HalfAndBFloat16RoundToNearestEven()
    {
        using var scope = new DisposeScope();
        // F16 (10 explicit bits): ties go to the even neighbour; 65520 is the first value that rounds to infinity
        var x = Tensor.FromArray([2049.0, 2051, 2050.5, 1 + 1.0 / 2048, 1 + 3.0 / 2048, 65519, 65520, -2049, 1e-8, 3e-8]);
        Assert.Equal([2048.0, 2052, 2050, 1, 1 + 2.0 / 1024, 65504, double.PositiveInfinity, -2048, 0, 5.960464477539063e-8],
            x.To(DType.F16).ToDoubleArray());
        // BF16 (7 explicit bits): 1 + 2^-8 is a tie (to 1), 1 + 3 * 2^-8 a tie (to 1 + 2^-6)
        var y = Tensor.FromArray([1 + 1.0 / 256, 1 + 3.0 / 256, 1 + 1.0 / 256 + 1.0 / 65536, 257, 259, -259]);
        Assert.Equal([1.0, 1 + 4.0 / 256, 1 + 2.0 / 256, 256, 260, -260], y.To(DType.BF16).ToDoubleArray());
        // float to integer truncates toward zero; Bool is != 0
        var z = Tensor.FromArray([2.9f, -2.9f, 0.5f, -0.5f, float.NaN]);
        Assert.Equal([2L, -2, 0, 0, 0], z.To(DType.I64).ToArray<long>());
        Assert.Equal([true, true, true, true, true], z.To(DType.Bool).ToArray<bool>());
        Assert.Equal([false, true], Tensor.FromArray([0.0f, -0.0f + 1e-30f]).To(DType.Bool).ToArray<bool>());
    }

    public sealed record CastCase(DType Src, DType Dst, bool Strided, int Seed)
    {
        public override string ToString() => $"{Src} -> {Dst} strided {Strided} seed {Seed}";
    }

    [Fact]
    public void CastsOfRandomValuesFollowTheDocumentedRules()
    {
        var gen =
            from s in Gen.Elements(AllDTypes)
            from d in Gen.Elements(AllDTypes)
            from strided in PropCheck.Bool
            from seed in PropCheck.Seed
            select new CastCase(s, d, strided, seed);
        PropCheck.Run(gen, c =>
        {
            var rnd = new Random(c.Seed);
            int n = rnd.Next(1, 40);
            var floats = Enumerable.Range(0, n).Select(_ => rnd.Next(4) switch
            {
                0 => (rnd.NextDouble() - 0.5) * 600,
                1 => (rnd.NextDouble() - 0.5) * 1e6,
                2 => rnd.Next(-70000, 70000) + rnd.Next(8) / 8.0,
                _ => BitConverter.Int64BitsToDouble(rnd.NextInt64()),
            }).ToArray();
            var ints = Enumerable.Range(0, n).Select(_ => rnd.Next(3) switch
            {
                0 => rnd.NextInt64(-400, 400),
                1 => rnd.NextInt64(int.MinValue * 2L, int.MaxValue * 2L),
                _ => rnd.NextInt64(long.MinValue, long.MaxValue) >> rnd.Next(0, 63),
            }).ToArray();
            CheckCast(c.Src, c.Dst, floats, ints, c.Strided);
        }, maxTest: 200);
    }

    // ---------------------------------------------------------------- Philox RNG

    [Fact]
    public void PhiloxMatchesTheRandom123KnownAnswer()
    {
        // Random123 kat_vectors: philox4x32 10, counter 0 and key 0
        Assert.Equal((0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u), Philox.Block(0, 0));
    }

    public sealed record RngCase(ulong Seed, ulong Offset, int N, int Split)
    {
        public override string ToString() => $"seed {Seed} offset {Offset} n {N} split {Split}";
    }

    [Fact]
    public void SameSeedAndOffsetGiveTheSameNumbersAndStreamsConcatenate()
    {
        var gen =
            from seed in Gen.Choose(0, int.MaxValue - 1)
            from off in Gen.Choose(0, 1_000_000)
            from n in Gen.Choose(0, 9000)
            from split in Gen.Choose(0, n)
            select new RngCase((ulong)seed * 7919, (ulong)off, n, split);
        PropCheck.Run(gen, c =>
        {
            using var scope = new DisposeScope();
            foreach (bool normal in new[] { false, true })
            {
                Tensor Draw(Generator g, int m) => normal ? Tensor.Randn([m], g) : Tensor.Rand([m], g);
                var g1 = new Generator(c.Seed) { Offset = c.Offset };
                var g2 = new Generator();
                g2.SetState(c.Seed, c.Offset);
                var a = Draw(g1, c.N).ToArray<float>();
                Assert.Equal(a, Draw(g2, c.N).ToArray<float>());
                Assert.Equal(g1.GetState(), g2.GetState());
                Assert.Equal(c.Offset + (ulong)c.N * (normal ? 2UL : 1UL), g1.Offset);
                // counter-based: drawing n as split + (n - split) gives the same numbers
                var g3 = new Generator(c.Seed) { Offset = c.Offset };
                var first = Draw(g3, c.Split).ToArray<float>();
                var second = Draw(g3, c.N - c.Split).ToArray<float>();
                Assert.Equal(a, first.Concat(second).ToArray());
            }
        }, maxTest: 40);
    }

    [Theory]
    [InlineData(DType.F32)]
    [InlineData(DType.F64)]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void RandIsInZeroOne(DType dtype)
    {
        using var scope = new DisposeScope();
        var u = Tensor.Rand([100_000], new Generator(123), dtype).ToDoubleArray();
        Assert.True(u.Min() >= 0, $"{dtype}: min {u.Min()}");
        Assert.True(u.Max() < 1, $"{dtype}: {u.Count(v => v >= 1)} of {u.Length} values are 1 or more");
        Assert.InRange(u.Average(), 0.49, 0.51);
        var scaled = Tensor.Rand([10_000], new Generator(5), dtype, low: -3, high: 5).ToDoubleArray();
        Assert.True(scaled.Min() >= -3 && scaled.Max() < 5, $"{dtype}: Rand(-3, 5) gave [{scaled.Min()}, {scaled.Max()}]");
    }

    [Fact]
    public void RandnHasMeanZeroAndStdOne()
    {
        using var scope = new DisposeScope();
        var v = Tensor.Randn([100_000], new Generator(42)).ToDoubleArray();
        double m = v.Average();
        double sd = Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1));
        Assert.InRange(m, -0.015, 0.015);
        Assert.InRange(sd, 0.985, 1.015);
        Assert.All(v, x => Assert.True(double.IsFinite(x)));
        var s = Tensor.Randn([100_000], new Generator(43), mean: 3, std: 2).ToDoubleArray();
        Assert.InRange(s.Average(), 2.97, 3.03);
    }

    [Fact]
    public void RandpermIsAPermutation()
    {
        var g = new Generator(9);
        for (int n = 0; n <= 60; n++)
        {
            using var p = Tensor.Randperm(n, g);
            Assert.Equal(DType.I64, p.DType);
            Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), p.ToArray<long>().Order());
        }
        using var a = Tensor.Randperm(20, new Generator(1));
        using var b = Tensor.Randperm(20, new Generator(1));
        using var c = Tensor.Randperm(20, new Generator(2));
        Assert.Equal(a.ToArray<long>(), b.ToArray<long>());
        Assert.NotEqual(a.ToArray<long>(), c.ToArray<long>());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1.0)]
    public void BernoulliRateIsP(double p)
    {
        using var scope = new DisposeScope();
        var v = Tensor.Bernoulli([100_000], p, new Generator(77)).ToDoubleArray();
        Assert.All(v, x => Assert.True(x is 0 or 1));
        Assert.InRange(v.Average(), p - 0.01, p + 0.01);
        // per-element probabilities
        var probs = Tensor.Full([50_000], p, DType.F64).Bernoulli(new Generator(78));
        Assert.Equal(DType.F64, probs.DType);
        Assert.InRange(probs.ToDoubleArray().Average(), p - 0.015, p + 0.015);
    }
}
