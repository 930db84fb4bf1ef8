// Every IBackend op on the ILGPU backend against the CPU backend: random small inputs, strided views,
// tolerance ~1e-5 relative for F32, bit-exact for copies, casts and random fills. A theory over backend names,
// so ILGPU's CUDA accelerator runs the same bodies where a GPU exists and skips visibly where not.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public sealed class IlgpuConformanceTests
{
    public static TheoryData<string> Names => IlgpuDevices.Names;

    private static IBackend Cpu => Backends.For(Device.Cpu);

    private static Tensor Input(int seed, int[] shape, DType dt, double lo = -2, double hi = 2)
    {
        using var x = TestInputs.Uniform(seed, shape, lo, hi);
        return x.To(dt);
    }

    private static (double Atol, double Rtol) Tol(DType dt) => dt switch
    {
        DType.F64 => (1e-12, 1e-10),
        DType.F16 or DType.BF16 => (1e-3, 1e-2),
        _ => (1e-6, 1e-5),
    };

    private static Tensor Out(Tensor like, DType? dt = null, int[]? shape = null) => Tensor.Empty(shape ?? like.Shape, dt ?? like.DType, like.Device);

    /// <summary>A strided view of a [6, 7] base: transposed and narrowed to [5, 6].</summary>
    private static Tensor View(Tensor t) => t.Transpose(0, 1).Narrow(0, 1, 5).Narrow(1, 0, 6);

    private static void Bits<T>(Tensor actual, Tensor expected, string what) where T : unmanaged
    {
        using var a = actual.MoveTo(Device.Cpu);
        Assert.True(expected.ToArray<T>().SequenceEqual(a.ToArray<T>()), $"{what}: not bit-identical");
    }

    private static void Close(Tensor actual, Tensor expected, string what, DType? dt = null, double atolScale = 1)
    {
        var (atol, rtol) = Tol(dt ?? expected.DType);
        atol *= atolScale;
        using var a = actual.MoveTo(Device.Cpu);
        TensorAssert.AssertClose(a, expected, atol, rtol, what);
    }

    [Theory, MemberData(nameof(Names))]
    public void Host_device_round_trip_and_casts_are_bit_exact(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        var values = new float[] { 0f, -0f, 1f, -1.5f, 65504f, 65520f, 1e-8f, 6e-5f, -3.3e-6f, 1234.567f, float.PositiveInfinity, 2.5f, 3.5f, -0.7f, 300.9f, -129.6f, 1f / 3 };
        using var x = Tensor.FromArray(values, values.Length);
        using var xd = x.MoveTo(dev);
        Assert.Equal(dev, xd.Device);
        Bits<float>(xd, x, "F32 round trip");
        foreach (var dt in new[] { DType.F64, DType.F16, DType.BF16, DType.I64, DType.I32, DType.U8, DType.Bool, DType.I8 })
        {
            using var expected = x.To(dt);
            using var actual = xd.To(dt);
            var what = $"F32 -> {dt}";
            switch (dt.SizeOf())
            {
                case 1: Bits<byte>(actual.To(DType.U8), expected.To(DType.U8), what); break;
                case 2: Bits<float>(actual.To(DType.F32), expected.To(DType.F32), what + " -> F32"); break;
                case 4: Bits<int>(actual, expected, what); break;
                default: if (dt == DType.F64) Bits<double>(actual, expected, what); else Bits<long>(actual, expected, what); break;
            }
        }
        // I64 beyond 2^53 keeps every bit through device copies and integer casts.
        using var big = Tensor.FromArray(new long[] { long.MaxValue, long.MinValue + 1, (1L << 53) + 1, -5, 1L << 40 }, 5);
        using var bigD = big.MoveTo(dev);
        Bits<long>(bigD, big, "I64 round trip");
        using var bigI32 = bigD.To(DType.I32);
        using var bigI32Cpu = big.To(DType.I32);
        Bits<int>(bigI32, bigI32Cpu, "I64 -> I32 wraps like the CPU");
        // F64 -> F16 rounds once (not through F32).
        using var d = Tensor.FromArray(new double[] { 1.00048828125 + 1e-12, 1.00048828125, 65519.99, 5.9604644775390625E-8 * 0.5000001 }, 4);
        using var dd = d.MoveTo(dev);
        using var h1 = d.To(DType.F16);
        using var h2 = dd.To(DType.F16);
        Bits<float>(h2.To(DType.F32), h1.To(DType.F32), "F64 -> F16");
    }

    [Theory, MemberData(nameof(Names))]
    public void Strided_copy_and_fill_match_cpu(string backend)
    {
        var dev = IlgpuDevices.Device(backend);
        using var x = Input(1, [6, 7], DType.F32);
        using var xd = x.MoveTo(dev);
        using var v = View(x);
        using var vd = View(xd);
        using var c = v.Contiguous();
        using var cd = vd.Contiguous();
        Bits<float>(cd, c, "transposed narrow view made contiguous");
        using var e = x.Narrow(0, 2, 1).Expand(3, 6, 7);
        using var ed = xd.Narrow(0, 2, 1).Expand(3, 6, 7);
        Bits<float>(ed.Contiguous(), e.Contiguous(), "broadcast view made contiguous");
        // Strided write: copy into a transposed view, and fill a view.
        using var target = Tensor.Zeros([7, 6]);
        using var targetD = Tensor.Zeros([7, 6], device: dev);
        using (AutogradMode.NoGrad())
        {
            target.Transpose(0, 1).CopyFrom(x);
            targetD.Transpose(0, 1).CopyFrom(xd);
            target.Narrow(1, 2, 3).Fill_(-2.5);
            targetD.Narrow(1, 2, 3).Fill_(-2.5);
        }
        Bits<float>(targetD, target, "copy into a transposed view, fill of a narrowed view");
        foreach (var dt in new[] { DType.F64, DType.F16, DType.I64, DType.I32, DType.Bool })
        {
            using var f = Tensor.Full([3, 4], 7.75, dt);
            using var fd = Tensor.Full([3, 4], 7.75, dt, dev);
            Bits<double>(fd.To(DType.F64), f.To(DType.F64), $"full {dt}");
        }
    }

    private static double Alpha(UnaryOp op) => op switch { UnaryOp.LeakyRelu => 0.1, UnaryOp.PowScalar => 2.5, _ => 0 };

    private static bool PositiveOnly(UnaryOp op) => op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.Reciprocal or UnaryOp.PowScalar;

    [Theory, MemberData(nameof(Names))]
    public void Unary_and_unary_backward_match_cpu_for_every_op(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        foreach (var dt in new[] { DType.F32, DType.F64, DType.F16 })
            foreach (var op in Enum.GetValues<UnaryOp>())
            {
                if (dt == DType.F16 && op == UnaryOp.RoundToHalf) continue;
                using var x0 = Input(10 + (int)op, [6, 7], dt, PositiveOnly(op) ? 0.2 : -4, 4);
                using var g0 = Input(50 + (int)op, [6, 7], dt);
                using var xd0 = x0.MoveTo(be.Device);
                using var gd0 = g0.MoveTo(be.Device);
                using var x = View(x0); using var xd = View(xd0);
                using var g = View(g0); using var gd = View(gd0);
                double alpha = Alpha(op);
                using var y = Out(x, shape: x.Shape); using var yd = Out(xd);
                Cpu.Unary(op, x.Storage, x.Layout, y.Storage, alpha);
                be.Unary(op, xd.Storage, xd.Layout, yd.Storage, alpha);
                Close(yd, y, $"{op} {dt}");
                using var gx = Out(x); using var gxd = Out(xd);
                Cpu.UnaryBackward(op, x.Storage, x.Layout, g.Storage, g.Layout, gx.Storage, alpha);
                be.UnaryBackward(op, xd.Storage, xd.Layout, gd.Storage, gd.Layout, gxd.Storage, alpha);
                Close(gxd, gx, $"{op} backward {dt}");
            }
        // Integer input (abs/neg/sign of indices) goes through double like the CPU.
        using var i0 = Tensor.FromArray(new long[] { -3, 0, 7, -9 }, 4);
        using var id = i0.MoveTo(be.Device);
        foreach (var op in new[] { UnaryOp.Abs, UnaryOp.Neg, UnaryOp.Sign, UnaryOp.Square })
        {
            using var y = Out(i0); using var yd = Out(id);
            Cpu.Unary(op, i0.Storage, i0.Layout, y.Storage);
            be.Unary(op, id.Storage, id.Layout, yd.Storage);
            Bits<long>(yd, y, $"{op} I64");
        }
    }

    [Theory, MemberData(nameof(Names))]
    public void Binary_scalar_and_where_match_cpu_with_broadcast(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        int[] shape = [3, 4, 5];
        foreach (var dt in new[] { DType.F32, DType.F64, DType.I64, DType.I32, DType.F16 })
        {
            bool isInt = !dt.IsFloatingPoint();
            // Non-zero integers: the CPU throws on integer division by zero (a kernel cannot).
            using var a0 = isInt ? Input(3, [3, 1, 5], DType.F64, 1, 9).To(dt) : Input(3, [3, 1, 5], dt, 0.1, 3);
            using var b0 = isInt ? Input(4, [4, 5], DType.F64, 1, 4).To(dt) : Input(4, [4, 5], dt, 0.1, 3);
            using var ad = a0.MoveTo(be.Device);
            using var bd = b0.MoveTo(be.Device);
            var al = a0.Layout.BroadcastTo(shape); var bl = b0.Layout.BroadcastTo(shape);
            foreach (var op in Enum.GetValues<BinaryOp>())
            {
                var odt = op.IsComparison() ? DType.Bool : dt;
                using var y = Tensor.Empty(shape, odt); using var yd = Tensor.Empty(shape, odt, be.Device);
                Cpu.Binary(op, a0.Storage, al, b0.Storage, bl, y.Storage);
                be.Binary(op, ad.Storage, al, bd.Storage, bl, yd.Storage);
                if (isInt || op.IsComparison()) Bits<double>(yd.To(DType.F64), y.To(DType.F64), $"{op} {dt}");
                else Close(yd, y, $"{op} {dt}");
                foreach (bool first in new[] { false, true })
                {
                    using var s = Tensor.Empty(a0.Shape, odt); using var sd = Tensor.Empty(a0.Shape, odt, be.Device);
                    Cpu.BinaryScalar(op, a0.Storage, a0.Layout, 2.3, first, s.Storage);
                    be.BinaryScalar(op, ad.Storage, ad.Layout, 2.3, first, sd.Storage);
                    if (isInt || op.IsComparison()) Bits<double>(sd.To(DType.F64), s.To(DType.F64), $"{op} scalar {dt} first={first}");
                    else Close(sd, s, $"{op} scalar {dt} first={first}");
                }
            }
            using var cond0 = Input(5, [3, 4, 1], DType.F64).Gt(0);
            using var condD = cond0.MoveTo(be.Device);
            using var w = Tensor.Empty(shape, dt); using var wd = Tensor.Empty(shape, dt, be.Device);
            var cl = cond0.Layout.BroadcastTo(shape);
            Cpu.Where(cond0.Storage, cl, a0.Storage, al, b0.Storage, bl, w.Storage);
            be.Where(condD.Storage, cl, ad.Storage, al, bd.Storage, bl, wd.Storage);
            Bits<double>(wd.To(DType.F64), w.To(DType.F64), $"where {dt}");
        }
    }

    [Theory, MemberData(nameof(Names))]
    public void Reductions_and_argmax_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        foreach (var dt in new[] { DType.F32, DType.F64, DType.I64 })
        {
            using var x0 = dt == DType.I64 ? Input(7, [4, 6, 5], DType.F64, -20, 20).To(dt) : Input(7, [4, 6, 5], dt, 0.5, 1.5);
            using var xd0 = x0.MoveTo(be.Device);
            using var x = x0.Permute(2, 0, 1); using var xd = xd0.Permute(2, 0, 1); // [5, 4, 6], strided
            foreach (var op in Enum.GetValues<ReduceOp>())
                foreach (var dims in new[] { new[] { 0 }, [2], [0, 2], [0, 1, 2], [] })
                {
                    var outShape = Enumerable.Range(0, 3).Where(i => !dims.Contains(i)).Select(i => x.Shape[i]).ToArray();
                    using var y = Tensor.Empty(outShape, dt); using var yd = Tensor.Empty(outShape, dt, be.Device);
                    Cpu.Reduce(op, x.Storage, x.Layout, dims, y.Storage);
                    be.Reduce(op, xd.Storage, xd.Layout, dims, yd.Storage);
                    Close(yd, y, $"{op} over [{string.Join(",", dims)}] {dt}", dt == DType.I64 ? DType.F64 : dt);
                }
            foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
            {
                using var y = Tensor.Empty([5, 6], dt); using var yd = Tensor.Empty([5, 6], dt, be.Device);
                using var a = Tensor.Empty([5, 6], DType.I64); using var ad = Tensor.Empty([5, 6], DType.I64, be.Device);
                Cpu.Reduce(op, x.Storage, x.Layout, [1], y.Storage, a.Storage);
                be.Reduce(op, xd.Storage, xd.Layout, [1], yd.Storage, ad.Storage);
                Bits<long>(ad, a, $"arg{op} {dt}");
            }
        }
        // Long rows take the group-per-row kernel.
        using var big = Input(8, [3, 5000], DType.F32);
        using var bigD = big.MoveTo(be.Device);
        foreach (var op in new[] { ReduceOp.Sum, ReduceOp.Max })
        {
            using var y = Tensor.Empty([3]); using var yd = Tensor.Empty([3], device: be.Device);
            Cpu.Reduce(op, big.Storage, big.Layout, [1], y.Storage);
            be.Reduce(op, bigD.Storage, bigD.Layout, [1], yd.Storage);
            using var a = yd.MoveTo(Device.Cpu);
            TensorAssert.AssertClose(a, y, 1e-4, 1e-5, $"grouped {op} of 5000");
        }
        // NaN propagates with its index, as on the CPU.
        using var nan = Tensor.FromArray(new float[] { 1, float.NaN, 3, 9, 2, -1 }, 2, 3);
        using var nanD = nan.MoveTo(be.Device);
        using var am = nan.ArgMax(1); using var amD = nanD.ArgMax(1);
        Bits<long>(amD, am, "argmax with NaN");
    }

    [Theory, MemberData(nameof(Names))]
    public void Matmul_matches_cpu_with_batch_broadcast_and_transposed_operands(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        foreach (var dt in new[] { DType.F32, DType.F64, DType.F16 })
        {
            using var a0 = Input(11, [2, 1, 17, 33], dt);
            using var b0 = Input(12, [3, 29, 33], dt);
            using var ad = a0.MoveTo(be.Device); using var bd = b0.MoveTo(be.Device);
            using var bt = b0.Transpose(-1, -2); using var btd = bd.Transpose(-1, -2); // [3, 33, 29], column-major
            using var y = a0.MatMul(bt); using var yd = ad.MatMul(btd);
            Assert.Equal([2, 3, 17, 29], yd.Shape);
            // Sums of 33 products of magnitude up to 4 cancel: scale the absolute tolerance with the terms, not the result.
            Close(yd, y, $"batched matmul {dt}", dt, atolScale: 20);
        }
        using var v0 = Input(13, [40], DType.F32); using var m0 = Input(14, [40, 21], DType.F32);
        using var vd = v0.MoveTo(be.Device); using var md = m0.MoveTo(be.Device);
        using var vm = v0.MatMul(m0); using var vmd = vd.MatMul(md);
        Close(vmd, vm, "vector-matrix", atolScale: 20);
    }

    [Theory, MemberData(nameof(Names))]
    public void Softmax_log_softmax_and_backward_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        foreach (var dt in new[] { DType.F32, DType.F64 })
            foreach (bool log in new[] { false, true })
            {
                using var x0 = Input(20, [6, 7], dt, -5, 5); using var g0 = Input(21, [6, 7], dt);
                using var xd0 = x0.MoveTo(be.Device); using var gd0 = g0.MoveTo(be.Device);
                using var x = View(x0); using var xd = View(xd0); using var g = View(g0); using var gd = View(gd0);
                using var y = Out(x); using var yd = Out(xd);
                Cpu.Softmax(x.Storage, x.Layout, y.Storage, log);
                be.Softmax(xd.Storage, xd.Layout, yd.Storage, log);
                Close(yd, y, $"softmax log={log} {dt}");
                using var gx = Out(x); using var gxd = Out(xd);
                Cpu.SoftmaxBackward(y.Storage, y.Layout, g.Storage, g.Layout, gx.Storage, log);
                be.SoftmaxBackward(yd.Storage, yd.Layout, gd.Storage, gd.Layout, gxd.Storage, log);
                Close(gxd, gx, $"softmax backward log={log} {dt}");
            }
    }

    [Theory, MemberData(nameof(Names))]
    public void Layer_norm_forward_and_backward_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        const int rows = 9, d = 13;
        using var x = Input(30, [rows, d], DType.F32, -3, 3); using var gy = Input(31, [rows, d], DType.F32);
        using var w = Input(32, [d], DType.F32); using var b = Input(33, [d], DType.F32);
        var onCpu = new[] { x, gy, w, b };
        var onDev = onCpu.Select(t => t.MoveTo(be.Device)).ToArray();
        foreach (bool affine in new[] { true, false })
        {
            Tensor[] Run(IBackend k, Tensor[] t)
            {
                var dev = t[0].Device;
                var r = new[] { Tensor.Empty([rows, d], device: dev), Tensor.Empty([rows], device: dev), Tensor.Empty([rows], device: dev),
                    Tensor.Empty([rows, d], device: dev), Tensor.Empty([d], device: dev), Tensor.Empty([d], device: dev) };
                k.LayerNorm(t[0].Storage, rows, d, affine ? t[2].Storage : null, affine ? t[3].Storage : null, 1e-5, r[0].Storage, r[1].Storage, r[2].Storage);
                k.LayerNormBackward(t[0].Storage, t[1].Storage, rows, d, affine ? t[2].Storage : null, r[1].Storage, r[2].Storage, r[3].Storage, r[4].Storage, r[5].Storage);
                return r;
            }
            var e = Run(Cpu, onCpu);
            var a = Run(be, onDev);
            string[] names = ["y", "mean", "rstd", "gx", "gweight", "gbias"];
            for (int i = 0; i < names.Length; i++) Close(a[i], e[i], $"layer norm {names[i]} affine={affine}");
            foreach (var t in e.Concat(a)) t.Dispose();
        }
        foreach (var t in onDev) t.Dispose();
        using var x64 = x.To(DType.F64).MoveTo(be.Device);
        var ex = Assert.Throws<NotSupportedException>(() => be.LayerNorm(x64.Storage, rows, d, null, null, 1e-5, x64.Storage, x64.Storage, x64.Storage));
        Assert.Contains("F64", ex.Message);
    }

    [Theory, MemberData(nameof(Names))]
    public void Index_select_gather_and_scatter_add_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        using var x0 = Input(40, [6, 7], DType.F32); using var xd0 = x0.MoveTo(be.Device);
        using var x = View(x0); using var xd = View(xd0); // [5, 6]
        foreach (var idt in new[] { DType.I64, DType.I32 })
        {
            using var idx = Tensor.FromArray(new long[] { 4, 0, -1, 2, 2 }, 5).To(idt);
            using var idxD = idx.MoveTo(be.Device);
            foreach (int dim in new[] { 0, 1 })
            {
                using var s = x.IndexSelect(dim, idx.To(DType.I64)); using var sd = xd.IndexSelect(dim, idxD.To(DType.I64));
                Bits<float>(sd, s, $"index_select dim {dim} ({idt})");
                var outShape = x.Shape; outShape[dim] = 5;
                using var s2 = Tensor.Empty(outShape); using var s2d = Tensor.Empty(outShape, device: be.Device);
                Cpu.IndexSelect(x.Storage, x.Layout, dim, idx.Storage, 5, s2.Storage);
                be.IndexSelect(xd.Storage, xd.Layout, dim, idxD.Storage, 5, s2d.Storage);
                Bits<float>(s2d, s2, $"index_select backend dim {dim} ({idt})");
            }
        }
        using var gi = Tensor.FromArray(new long[] { 0, 4, 4, 1, 2, 3, 0, 0, 1, 4, 3, 2 }, 2, 6);
        using var giD = gi.MoveTo(be.Device);
        using var ga = x.Gather(0, gi); using var gaD = xd.Gather(0, giD);
        Bits<float>(gaD, ga, "gather dim 0 of a strided view");
        using var src0 = Input(41, [2, 6], DType.F32); using var srcD = src0.MoveTo(be.Device);
        foreach (int dim in new[] { 0, 1 })
        {
            using var idx = dim == 0 ? gi.Share() : Tensor.FromArray(new long[] { 5, 5, 0, 1, 2, 3, 1, 1, 1, 0, 4, 5 }, 2, 6);
            using var idxD = idx.MoveTo(be.Device);
            using var t = Tensor.Zeros([5, 6]); using var td = Tensor.Zeros([5, 6], device: be.Device);
            Cpu.ScatterAdd(t.Storage, t.Layout, dim, idx.Storage, idx.Layout, src0.Storage, src0.Layout);
            be.ScatterAdd(td.Storage, td.Layout, dim, idxD.Storage, idxD.Layout, srcD.Storage, srcD.Layout);
            Close(td, t, $"scatter_add dim {dim} (duplicate indices)");
        }
        using var bad = Tensor.FromArray(new long[] { 0, 5 }, 2).MoveTo(be.Device);
        var ex = Assert.Throws<IndexOutOfRangeException>(() => xd.IndexSelect(0, bad));
        Assert.Contains("index 5 is out of range", ex.Message);
    }

    [Theory, MemberData(nameof(Names))]
    public void Random_fills_reproduce_the_cpu_philox_stream(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        foreach (var dt in new[] { DType.F32, DType.F64, DType.F16, DType.BF16 })
            foreach (bool normal in new[] { false, true })
            {
                using var y = Tensor.Empty([1000], dt); using var yd = Tensor.Empty([1000], dt, be.Device);
                Cpu.FillRandom(y.Storage, 1000, 1234567UL, 77UL, normal, normal ? 0.5 : -1, normal ? 2 : 3);
                be.FillRandom(yd.Storage, 1000, 1234567UL, 77UL, normal, normal ? 0.5 : -1, normal ? 2 : 3);
                // Uniform values are exact arithmetic on the same bits; normals use log/cos, bit-exact on ILGPU's CPU
                // accelerator (the same .NET Math) and within float rounding on a GPU.
                if (!normal || backend == IlgpuDevices.CpuName) Bits<double>(yd.To(DType.F64), y.To(DType.F64), $"{(normal ? "normal" : "uniform")} {dt}");
                else Close(yd, y, $"normal {dt}");
            }
    }

    [Theory, MemberData(nameof(Names))]
    public void Optimizer_steps_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        const int n = 300;
        foreach (var (momentum, nesterov, first) in new[] { (0.0, false, false), (0.9, false, true), (0.9, true, false) })
        {
            var t = new[] { Input(60, [n], DType.F32), Input(61, [n], DType.F32), Input(62, [n], DType.F32) };
            var td = t.Select(x => x.MoveTo(be.Device)).ToArray();
            Cpu.SgdStep(t[0].Storage, t[1].Storage, momentum == 0 ? null : t[2].Storage, n, 0.05, momentum, 0.1, 1e-3, nesterov, first);
            be.SgdStep(td[0].Storage, td[1].Storage, momentum == 0 ? null : td[2].Storage, n, 0.05, momentum, 0.1, 1e-3, nesterov, first);
            Close(td[0], t[0], $"sgd param momentum={momentum} nesterov={nesterov}");
            Close(td[2], t[2], $"sgd buffer momentum={momentum} nesterov={nesterov}");
            foreach (var x in t.Concat(td)) x.Dispose();
        }
        foreach (bool decoupled in new[] { false, true })
        {
            var t = new[] { Input(70, [n], DType.F32), Input(71, [n], DType.F32), Input(72, [n], DType.F32), Input(73, [n], DType.F32, 0, 1) };
            var td = t.Select(x => x.MoveTo(be.Device)).ToArray();
            Cpu.AdamStep(t[0].Storage, t[1].Storage, t[2].Storage, t[3].Storage, n, 1e-2, 0.9, 0.999, 1e-8, 0.01, decoupled, 3);
            be.AdamStep(td[0].Storage, td[1].Storage, td[2].Storage, td[3].Storage, n, 1e-2, 0.9, 0.999, 1e-8, 0.01, decoupled, 3);
            for (int i = 0; i < 4; i++) if (i != 1) Close(td[i], t[i], $"adam tensor {i} decoupled={decoupled}");
            foreach (var x in t.Concat(td)) x.Dispose();
        }
    }

    [Theory, MemberData(nameof(Names))]
    public void Unsupported_ops_and_dtypes_throw_naming_op_and_dtype(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        using var a = Tensor.FromArray(new long[] { 1, 2, 3, 4 }, 2, 2).MoveTo(be.Device);
        using var c = Tensor.Empty([2, 2], DType.I64, be.Device);
        var ex = Assert.Throws<NotSupportedException>(() => be.MatMul(a.Storage, a.Layout, a.Storage, a.Layout, c.Storage, [2, 2]));
        Assert.Contains("matmul", ex.Message);
        Assert.Contains("I64", ex.Message);
        using var h = Tensor.Zeros([1, 1, 4, 4], DType.F16, be.Device);
        var ec = Assert.Throws<NotSupportedException>(() => be.Conv2d(h.Storage, h.Layout, h.Storage, h.Layout, null, null, h.Storage, new Conv2dGeometry(1, 1, 4, 4, 1, 1, 1)));
        Assert.Contains("conv2d", ec.Message);
        Assert.Contains("F16", ec.Message);
    }

    [Fact]
    public void Kernels_are_compiled_once_and_kept()
    {
        // A private accelerator: tests running in parallel on the shared one would load kernels in between.
        using var be = Kernels.Ilgpu.IlgpuBackend.CreateCpu(9);
        using var x = Input(80, [4, 5], DType.F32);
        var xs = be.Allocate(DType.F32, 20);
        var ys = be.Allocate(DType.F32, 20);
        try
        {
            void Run()
            {
                be.Copy(x.Storage, x.Layout, xs, x.Layout);
                be.Unary(UnaryOp.Exp, xs, x.Layout, ys);
                be.Binary(BinaryOp.Add, xs, x.Layout, ys, x.Layout, ys);
                be.Synchronize();
            }
            Run();
            int loaded = be.LoadedKernelCount;
            Assert.True(loaded >= 2, $"expected the unary and binary kernels to be loaded, got {loaded}");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Run();
            Assert.Equal(loaded, be.LoadedKernelCount);
        }
        finally { xs.Release(); ys.Release(); }
    }

    [Theory, MemberData(nameof(Names))]
    public void Narrow_dtypes_match_cpu(string backend)
    {
        var be = IlgpuDevices.Get(backend);
        // BF16 compute (through F32 on the CPU, double here): unary, binary, reduce, softmax.
        using var x = Input(90, [6, 7], DType.BF16, 0.2, 3);
        using var y = Input(91, [6, 7], DType.BF16, 0.2, 3);
        using var xd = x.MoveTo(be.Device); using var yd = y.MoveTo(be.Device);
        Close(xd.Exp(), x.Exp(), "BF16 exp");
        Close(xd.Mul(yd), x.Mul(y), "BF16 mul");
        Close(xd.Sum(1), x.Sum(1), "BF16 sum");
        Close(View(xd).Amax([0]), View(x).Amax([0]), "BF16 amax of a view");
        using var h = x.To(DType.F16); using var hd = xd.To(DType.F16);
        Close(hd.Mean(0), h.Mean(0), "F16 mean");
        // Byte-sized integer dtypes wrap like the CPU's native arithmetic.
        foreach (var dt in new[] { DType.U8, DType.I8, DType.Bool })
        {
            using var a = Input(92, [5, 4], DType.F64, dt == DType.I8 ? -100 : 0, 120).To(dt);
            using var b = Input(93, [5, 4], DType.F64, 1, 100).To(dt);
            using var ad = a.MoveTo(be.Device); using var bd = b.MoveTo(be.Device);
            foreach (var op in new[] { BinaryOp.Add, BinaryOp.Mul, BinaryOp.Maximum, BinaryOp.Lt, BinaryOp.Eq })
            {
                var odt = op.IsComparison() ? DType.Bool : dt;
                using var r = Tensor.Empty([5, 4], odt); using var rd = Tensor.Empty([5, 4], odt, be.Device);
                Cpu.Binary(op, a.Storage, a.Layout, b.Storage, b.Layout, r.Storage);
                be.Binary(op, ad.Storage, ad.Layout, bd.Storage, bd.Layout, rd.Storage);
                Bits<double>(rd.To(DType.F64), r.To(DType.F64), $"{op} {dt}");
            }
            using var s = Tensor.Empty([5], dt); using var sd = Tensor.Empty([5], dt, be.Device);
            Cpu.Reduce(ReduceOp.Sum, a.Storage, a.Layout, [1], s.Storage);
            be.Reduce(ReduceOp.Sum, ad.Storage, ad.Layout, [1], sd.Storage);
            Bits<double>(sd.To(DType.F64), s.To(DType.F64), $"sum {dt}");
        }
        // where() converts operands of another dtype to the output's first.
        using var c = Input(94, [5, 4], DType.F64).Gt(0); using var cd = c.MoveTo(be.Device);
        using var i64 = Input(95, [5, 4], DType.F64, -50, 50).To(DType.I64); using var i64d = i64.MoveTo(be.Device);
        using var f32 = Input(96, [5, 4], DType.F32); using var f32d = f32.MoveTo(be.Device);
        using var w = Tensor.Empty([5, 4]); using var wd = Tensor.Empty([5, 4], device: be.Device);
        Cpu.Where(c.Storage, c.Layout, i64.Storage, i64.Layout, f32.Storage, f32.Layout, w.Storage);
        be.Where(cd.Storage, cd.Layout, i64d.Storage, i64d.Layout, f32d.Storage, f32d.Layout, wd.Storage);
        Bits<float>(wd, w, "where I64/F32 into F32");
    }

    [Fact]
    public void Device_memory_returns_to_the_pool_and_is_reused()
    {
        using var be = Kernels.Ilgpu.IlgpuBackend.CreateCpu(8);
        var pool = be.Pool;
        Assert.Equal(0, pool.LiveBytes);
        var a = be.Allocate(DType.F32, 1000, zero: true);
        Assert.Equal(4096, pool.LiveBytes); // 4000 bytes round up to a 4 KiB bucket
        a.Release();
        Assert.Equal(0, pool.LiveBytes);
        Assert.Equal(4096, pool.PooledBytes);
        var b = be.Allocate(DType.I32, 900); // same bucket: served from the cache
        Assert.Equal(0, pool.PooledBytes);
        b.Release();
        pool.Trim();
        Assert.Equal(0, pool.PooledBytes);
        // A released storage is unusable, and zeroed allocation really is zero.
        Assert.Throws<ObjectDisposedException>(() => be.Fill(a, Layout.Contiguous([1000]), 1));
        var z = be.Allocate(DType.F64, 10, zero: true);
        using var host = Tensor.Empty([10], DType.F64);
        be.Copy(z, Layout.Contiguous([10]), host.Storage, host.Layout);
        Assert.All(host.ToArray<double>(), v => Assert.Equal(0.0, v));
        z.Release();
    }

    [Fact]
    public void Tensors_move_between_two_ilgpu_accelerators()
    {
        var first = IlgpuDevices.Get(IlgpuDevices.CpuName);
        var second = Kernels.Ilgpu.IlgpuBackend.CreateCpu(7); // registered for the rest of the process, never used elsewhere
        Backends.Register(second);
        using var x = Input(97, [6, 7], DType.F32);
        using var a = x.MoveTo(first.Device);
        using var b = View(a).MoveTo(second.Device);
        Assert.Equal(second.Device, b.Device);
        using var back = b.MoveTo(Device.Cpu);
        using var expected = View(x).Contiguous();
        Bits<float>(back, expected, "ilgpu:0 view -> ilgpu:7 -> cpu");
    }
}
