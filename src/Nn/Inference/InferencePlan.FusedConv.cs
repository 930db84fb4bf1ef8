// The fused step of InferencePlan: Conv (+ folded BatchNormalization) (+ residual Add) (+ Relu) in one pass.
using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

using Cuda.Nn.Onnx;

namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan
{
    private sealed unsafe class FusedConvStep : GraphStep, IBlockedStep, IDisposable
    {
        private readonly NodeProto _conv;
        private readonly string _input;
        private Tensor _weight;
        private Tensor _bias;
        private readonly (int H, int W) _stride, _dilation;
        private readonly long[] _pads; // ONNX order: top, left, bottom, right
        private readonly int _groups;
        private readonly Dictionary<(int H, int W), PackedConv2d> _packed = [];
        private readonly Dictionary<(int H, int W, int Border), BlockedConv2d> _blocked = [];
        private readonly Lock _gate = new();

        public string? Residual { get; set; }
        public FusedActivation Activation { get; set; }
        public string Output { get; set; } = "";
        /// <summary>Set by the compiler when every reader of the output reads blocked values (IBlockedStep): a run that
        /// takes the blocked kernel then leaves the output channel-blocked (a rank-5 tensor, BlockedLayout) for them.</summary>
        public bool OutputBlocked { get; set; }

        public override string Name => $"fused conv '{_conv.Name}' -> '{Output}'";
        public override IReadOnlyList<string> Inputs => Residual is null ? [_input] : [_input, Residual];
        public override IReadOnlyList<string> Outputs => [Output];

        private FusedConvStep(NodeProto conv, Tensor weight, Tensor bias, long[] strides, long[] dilations, long[] pads, int groups)
        {
            _conv = conv;
            _input = conv.Input[0];
            _weight = weight;
            _bias = bias;
            _stride = ((int)strides[0], (int)strides[1]);
            _dilation = ((int)dilations[0], (int)dilations[1]);
            _pads = pads;
            _groups = groups;
            Output = conv.Output[0];
        }

        public int OutChannels => _weight.ShapeRef[0];

        /// <summary>Whether this conv can run the blocked kernel on a blocked input (BlockedConv2d.Takes; pads symmetric, as
        /// RunsFrozen requires), so a producer may leave its input or residual blocked.</summary>
        public bool ReadsBlocked => _pads[0] == _pads[2] && _pads[1] == _pads[3]
            && BlockedConv2d.Takes(_groups, _stride.H, _stride.W, (int)_pads[0], (int)_pads[1]);

        /// <summary>A 2-D Conv whose weight (and bias) are initializers; anything else stays an interpreted node.</summary>
        public static bool TryCreate(NodeProto conv, Dictionary<string, Tensor> constants, out FusedConvStep step)
        {
            step = null!;
            if (conv.Input.Count < 2 || !constants.TryGetValue(conv.Input[1], out var w) || w.Rank != 4 || w.DType != DType.F32) return false;
            Tensor? b = null;
            if (conv.Input.Count > 2 && conv.Input[2].Length > 0 && (!constants.TryGetValue(conv.Input[2], out b) || b.Rank != 1 || b.ShapeRef[0] != w.ShapeRef[0] || b.DType != DType.F32))
                return false;
            var a = new OnnxOps.Attrs(conv);
            if (a.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID")) return false;
            long[] strides = a.Ints("strides") ?? [1, 1], dilations = a.Ints("dilations") ?? [1, 1], pads = a.Ints("pads") ?? [0, 0, 0, 0];
            if (strides.Length != 2 || dilations.Length != 2 || pads.Length != 4) return false;
            step = new FusedConvStep(conv, DisposeScope.Detach(w.Clone()), DisposeScope.Detach(b?.Clone() ?? Tensor.Zeros([w.ShapeRef[0]])), strides, dilations, pads, (int)a.Int("group", 1));
            return true;
        }

        /// <summary>Folds an inference-mode BatchNormalization of this conv's output into its weight and bias, as
        /// Quantization.FoldBatchNorms does for modules: w' = w scale, b' = b scale + shift (F.FoldBatchNorm).</summary>
        public bool TryFold(NodeProto bn, Dictionary<string, Tensor> constants)
        {
            int o = _weight.ShapeRef[0];
            var stats = new Tensor[4]; // scale (gamma), B (beta), mean, var
            for (int i = 0; i < 4; i++)
                if (bn.Input.Count < 5 || !constants.TryGetValue(bn.Input[i + 1], out stats[i]!) || stats[i].Numel != o || stats[i].DType != DType.F32) return false;
            using var noGrad = AutogradMode.NoGrad();
            using var scope = new DisposeScope();
            var (scale, shift) = F.FoldBatchNorm(stats[2], stats[3], stats[0], stats[1], new OnnxOps.Attrs(bn).Float("epsilon", 1e-5f));
            var weight = DisposeScope.Detach(_weight.Mul(scale.Reshape([o, 1, 1, 1])));
            var bias = DisposeScope.Detach(_bias.Mul(scale).Add(shift));
            _weight.Dispose();
            _bias.Dispose();
            (_weight, _bias) = (weight, bias);
            return true;
        }

        public string Describe()
        {
            string tail = (Residual is null ? "" : " + residual") + (Activation == FusedActivation.Relu ? " + relu" : "");
            lock (_gate)
                return $"{Output}: conv{tail}{(OutputBlocked ? ", blocked output" : "")}; " + (_packed.Count + _blocked.Count == 0 ? "not run yet or eager"
                    : string.Join("; ", _packed.Select(kv => (kv.Key.H, kv.Key.W, kv.Value.Describe))
                        .Concat(_blocked.Select(kv => (kv.Key.H, kv.Key.W, kv.Value.Describe))).Select(d => $"{d.H}x{d.W} input: {d.Describe}")));
        }

        public override Tensor[] Run(Dictionary<string, Tensor> env)
        {
            var x = env[_input];
            var res = Residual is null ? null : env[Residual];
            if (x.Rank != 4 && x.Rank != 5) throw new NotSupportedException($"Conv: only 2-D convolution ([N, C, H, W]) is supported, got {Layout.ShapeString(x.ShapeRef)}");
            bool frozen = RunsFrozen(env, out var g);
            // A blocked input has the layout's border; the conv's own copy of an NCHW input gets one as wide as its padding.
            int border = x.Rank == 5 ? BlockedLayout.Border : BlockedConv2d.InputBorderFor(g);
            if (frozen && BlockedConv2d.Applies(g, border) && !(g.N > 1 && g.N >= CpuWorkers.ThreadCount)) return [RunBlocked(env, x, res, g, border)];
            // The NCHW kernels: a blocked input or residual (from a fused conv that ran blocked) goes back to NCHW first.
            using var xn = x.Rank == 5 ? FromBlocked(x, g.N, g.C, g.H, g.W) : null;
            using var rn = res?.Rank == 5 ? FromBlocked(res, g.N, g.O, g.OH, g.OW) : null;
            x = xn ?? x;
            res = rn ?? res;
            if (!frozen) return [Eager(x, res)];
            int n = g.N, h = g.H, wd = g.W;
            PackedConv2d conv;
            lock (_gate)
                if (!_packed.TryGetValue((h, wd), out conv!))
                    _packed[(h, wd)] = conv = new PackedConv2d(Ptr(_weight), Ptr(_bias), g);
            using var xc = x.Contiguous();
            using var rc = res?.Contiguous();
            int[] shape = [n, g.O, g.OH, g.OW];
            var y = Planned(env, shape) ?? Tensor.Empty(shape);
            conv.Run(Ptr(xc), rc is null ? null : Ptr(rc), Ptr(y), n, Activation);
            return [y];
        }

        /// <summary>The memory plan's buffer for this output when the plan has one of this shape (InferencePlan.Memory.cs).</summary>
        private Tensor? Planned(Dictionary<string, Tensor> env, int[] shape) => InferencePlan.Planned(env, Output, shape);

        /// <summary>The blocked kernel: NCHW inputs are blocked first (the graph input, a pooling output), and the output
        /// stays blocked when every reader is a fused conv, else it is written back as NCHW.</summary>
        private Tensor RunBlocked(Dictionary<string, Tensor> env, Tensor x, Tensor? res, Conv2dGeometry g, int border)
        {
            BlockedConv2d conv;
            lock (_gate)
                if (!_blocked.TryGetValue((g.H, g.W, border), out conv!))
                    _blocked[(g.H, g.W, border)] = conv = new BlockedConv2d(Ptr(_weight), Ptr(_bias), g, border);
            int n = g.N;
            long yImage = BlockedLayout.ImageFloats(g.O, g.OH, g.OW);
            using var rs = res is null || res.Rank == 5 ? default : Workspace.Of<float>(n * yImage);
            // An NCHW input is blocked by the conv's own threads, each a band of rows, into the conv's own buffer
            // (BlockedConv2d.RunDense).
            using var xc = x.Rank == 5 ? null : x.Contiguous();
            float* xb = x.Rank == 5 ? Ptr(x) : null, nchw = xc is null ? null : Ptr(xc);
            using var rc = res is null || res.Rank == 5 ? null : res.Contiguous();
            if (rc is not null) BlockedLayout.ImagesFromNchw(Ptr(rc), n, g.O, g.OH, g.OW, (float*)rs.Ptr);
            float* rb = res is null ? null : res.Rank == 5 ? Ptr(res) : (float*)rs.Ptr;
            void Run(BlockedConv2d conv, float* y)
            {
                if (nchw != null) conv.RunDense(nchw, rb, y, n, Activation);
                else conv.Run(xb, rb, y, n, Activation);
            }
            if (OutputBlocked)
            {
                var shape = BlockedLayout.Shape(n, g.O, g.OH, g.OW);
                var y = Planned(env, shape) ?? Tensor.Empty(shape);
                Run(conv, Ptr(y));
                return y;
            }
            using var ys = Workspace.Of<float>(n * yImage);
            Run(conv, (float*)ys.Ptr);
            int[] dense = [n, g.O, g.OH, g.OW];
            var yn = Planned(env, dense) ?? Tensor.Empty(dense);
            BlockedLayout.ImagesToNchw((float*)ys.Ptr, n, g.O, g.OH, g.OW, Ptr(yn));
            return yn;
        }

        /// <summary>Whether this step runs the frozen kernel on the inputs in env (else the eager ops), and its geometry
        /// (of the logical NCHW input when x is blocked).</summary>
        public bool RunsFrozen(Dictionary<string, Tensor> env, out Conv2dGeometry g)
        {
            g = default;
            var x = env[_input];
            var res = Residual is null ? null : env[Residual];
            var ws = _weight.ShapeRef;
            bool blocked = x.Rank == 5;
            if (x.Rank != 4 && !blocked) return false;
            int n = x.ShapeRef[0], c = blocked ? ws[1] * _groups : x.ShapeRef[1], h = x.ShapeRef[2], wd = x.ShapeRef[3];
            if (blocked) (h, wd) = (h - 2 * BlockedLayout.Border, wd - 2 * BlockedLayout.Border);
            g = new Conv2dGeometry(n, c, h, wd, ws[0], ws[2], ws[3], _stride.H, _stride.W, (int)_pads[0], (int)_pads[1], _dilation.H, _dilation.W, _groups);
            if (blocked && !x.ShapeRef.AsSpan().SequenceEqual(BlockedLayout.Shape(n, c, h, wd)))
                throw new InvalidOperationException($"Conv '{_conv.Name}': blocked input {Layout.ShapeString(x.ShapeRef)} does not hold {c} channels");
            bool packed = PackedConv2d.Applies(g) && _pads[0] == _pads[2] && _pads[1] == _pads[3] && c == ws[1]
                && x.Device == Device.Cpu && x.DType == DType.F32 && g.OH > 0 && g.OW > 0
                && (res is null || res.Device == Device.Cpu && res.DType == DType.F32 && (res.ShapeRef.AsSpan().SequenceEqual([n, g.O, g.OH, g.OW])
                    || res.ShapeRef.AsSpan().SequenceEqual(BlockedLayout.Shape(n, g.O, g.OH, g.OW))));
            // A batch that fills the threads runs eager kernels unless the frozen one measured faster there; one image always
            // runs frozen (on one thread too: the eager direct kernel took 0.068 ms on ResNet-20's 28x28 conv, this one 0.036).
            return packed && !(n > 1 && n >= CpuWorkers.ThreadCount && !PackedConv2d.FasterThanEagerAtBatch(g));
        }

        /// <summary>The same computation as separate eager ops (other devices and dtypes, grouped convs, no AVX-512): the
        /// interpreter's Conv on the folded weights, then the add and the relu.</summary>
        private Tensor Eager(Tensor x, Tensor? res)
        {
            using var w = _weight.MoveTo(x.Device);
            using var b = _bias.MoveTo(x.Device);
            var y = OnnxOps.Conv(x, w, b, new OnnxOps.Attrs(_conv));
            if (res is not null) { var sum = y.Add(res); y.Dispose(); y = sum; }
            if (Activation == FusedActivation.Relu) { var r = y.Relu(); y.Dispose(); y = r; }
            return y;
        }

        public void Dispose()
        {
            lock (_gate)
            {
                foreach (var p in _packed.Values) p.Dispose();
                foreach (var b in _blocked.Values) b.Dispose();
                _packed.Clear();
                _blocked.Clear();
            }
            _weight.Dispose();
            _bias.Dispose();
        }
    }
}
