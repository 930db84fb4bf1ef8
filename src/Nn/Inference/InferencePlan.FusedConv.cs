// The fused step of InferencePlan: Conv (+ folded BatchNormalization) (+ residual Add) (+ Relu) in one pass, run by
// the backend's frozen conv (IBackend.Frozen.cs), which chooses the variant; where it has none, the eager ops.
using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels;
using Cuda.Nn.Onnx;

namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan
{
    private sealed class FusedConvStep : GraphStep, IBlockedStep, IDisposable
    {
        private readonly NodeProto _conv;
        private readonly string _input;
        private Tensor _weight;
        private Tensor _bias;
        private readonly (int H, int W) _stride, _dilation;
        private readonly long[] _pads; // ONNX order: top, left, bottom, right
        private readonly int _groups;
        /// <summary>The prepared convs, one per variant, input plane and input layout seen.</summary>
        private readonly Dictionary<(string Variant, int H, int W, bool BlockedInput), IFrozenConv2d> _frozen = [];
        private readonly Lock _gate = new();
        /// <summary>The weights' backend, looked up once (Backends.For takes a lock; Run asks on every call).</summary>
        private readonly IBackend _backend;

        public string? Residual { get; set; }
        public FusedActivation Activation { get; set; }
        public string Output { get; set; } = "";
        /// <summary>Set by the compiler when every reader of the output reads blocked values (IBlockedStep): a run that
        /// takes the blocked kernel then leaves the output channel-blocked (a rank-5 tensor, ChannelBlocked) for them.</summary>
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
            _backend = weight.Backend;
            _stride = ((int)strides[0], (int)strides[1]);
            _dilation = ((int)dilations[0], (int)dilations[1]);
            _pads = pads;
            _groups = groups;
            Output = conv.Output[0];
        }

        public int OutChannels => _weight.ShapeRef[0];

        /// <summary>Whether the weights' backend can run this conv on a blocked input (pads symmetric, as Variant
        /// requires), so a producer may leave its input or residual blocked.</summary>
        public bool ReadsBlocked => _pads[0] == _pads[2] && _pads[1] == _pads[3]
            && _backend.FrozenConv2dReadsBlocked(_groups, _stride.H, _stride.W, (int)_pads[0], (int)_pads[1]);

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
                return $"{Output}: conv{tail}{(OutputBlocked ? ", blocked output" : "")}; " + (_frozen.Count == 0 ? "not run yet or eager"
                    : string.Join("; ", _frozen.Select(kv => $"{kv.Key.H}x{kv.Key.W} input: {kv.Value.Variant}, {kv.Value.Describe}")));
        }

        public override Tensor[] Run(Dictionary<string, Tensor> env)
        {
            var x = env[_input];
            var res = Residual is null ? null : env[Residual];
            if (x.Rank != 4 && x.Rank != 5) throw new NotSupportedException($"Conv: only 2-D convolution ([N, C, H, W]) is supported, got {Layout.ShapeString(x.ShapeRef)}");
            var variant = Variant(env, out var g);
            if (variant is null)
            {
                // The eager ops read NCHW: a blocked input or residual (from a fused conv that ran blocked) goes back first.
                using var xn = x.Rank == 5 ? FromBlocked(x, g.C) : null;
                using var rn = res?.Rank == 5 ? FromBlocked(res, g.O) : null;
                return [Eager(xn ?? x, rn ?? res)];
            }
            bool blockedInput = x.Rank == 5;
            IFrozenConv2d conv;
            lock (_gate)
                if (!_frozen.TryGetValue((variant, g.H, g.W, blockedInput), out conv!))
                    _frozen[(variant, g.H, g.W, blockedInput)] = conv = _backend.PrepareFrozenConv2d(variant, _weight.Storage, _weight.Layout, _bias.Storage, _bias.Layout, g, blockedInput);
            // The output stays blocked when every reader takes blocked values and the kernel writes them.
            int[] shape = OutputBlocked && conv.WritesBlocked ? ChannelBlocked.Shape(g.N, g.O, g.OH, g.OW) : [g.N, g.O, g.OH, g.OW];
            using var xc = x.Contiguous();
            using var rc = res?.Contiguous();
            var y = Planned(env, shape) ?? Tensor.Empty(shape);
            _backend.FrozenConv2d(conv, xc.Storage, xc.Layout, rc?.Storage, rc?.Layout, y.Storage, y.Layout, Activation);
            return [y];
        }

        /// <summary>The memory plan's buffer for this output when the plan has one of this shape (InferencePlan.Memory.cs).</summary>
        private Tensor? Planned(Dictionary<string, Tensor> env, int[] shape) => InferencePlan.Planned(env, Output, shape);

        /// <summary>Whether this step runs a frozen conv on the inputs in env (else the eager ops).</summary>
        public bool RunsFrozen(Dictionary<string, Tensor> env) => Variant(env, out _) is not null;

        /// <summary>The frozen variant the weights' backend runs on the inputs in env, or null for the eager ops; and the
        /// geometry (of the logical NCHW input when x is blocked).</summary>
        private string? Variant(Dictionary<string, Tensor> env, out Conv2dGeometry g)
        {
            g = default;
            var x = env[_input];
            var res = Residual is null ? null : env[Residual];
            var ws = _weight.ShapeRef;
            bool blocked = x.Rank == 5;
            if (x.Rank != 4 && !blocked) return null;
            int n = x.ShapeRef[0], c = blocked ? ws[1] * _groups : x.ShapeRef[1], h = x.ShapeRef[2], wd = x.ShapeRef[3];
            if (blocked) (h, wd) = ChannelBlocked.Plane(x.ShapeRef);
            g = new Conv2dGeometry(n, c, h, wd, ws[0], ws[2], ws[3], _stride.H, _stride.W, (int)_pads[0], (int)_pads[1], _dilation.H, _dilation.W, _groups);
            if (blocked && !x.ShapeRef.AsSpan().SequenceEqual(ChannelBlocked.Shape(n, c, h, wd)))
                throw new InvalidOperationException($"Conv '{_conv.Name}': blocked input {Layout.ShapeString(x.ShapeRef)} does not hold {c} channels");
            // Operands the frozen kernels take: symmetric pads, the weights' channels and device, a residual of the output's shape.
            bool fits = _pads[0] == _pads[2] && _pads[1] == _pads[3] && c == ws[1] * _groups && x.Device == _weight.Device && g.OH > 0 && g.OW > 0
                && (res is null || res.Device == x.Device && res.DType == x.DType && (res.ShapeRef.AsSpan().SequenceEqual([n, g.O, g.OH, g.OW])
                    || res.ShapeRef.AsSpan().SequenceEqual(ChannelBlocked.Shape(n, g.O, g.OH, g.OW))));
            return fits ? _backend.ChooseFrozenConv2d(g, x.DType, blocked) : null;
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
                foreach (var f in _frozen.Values) f.Dispose();
                _frozen.Clear();
            }
            _weight.Dispose();
            _bias.Dispose();
        }
    }
}
