// Max pooling in the inference plan: on a channel-blocked input (a fused conv's output, ChannelBlocked) it pools 16
// channels per vector and may leave its output blocked for the fused convs that read it (ResNet's stem, pool, first
// block: no layout copies between them); on an NCHW input it is the interpreter's MaxPool node.
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Kernels;
using Cuda.Nn.Onnx;

namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan
{
    /// <summary>A step that reads channel-blocked values and may leave its output blocked (set by the compiler when every
    /// reader of the output reads blocked values).</summary>
    private interface IBlockedStep
    {
        bool ReadsBlocked { get; }
        bool OutputBlocked { get; set; }
        /// <summary>The output's channels (a blocked tensor's shape only gives them rounded up to 16).</summary>
        int OutChannels { get; }
    }

    private sealed class MaxPoolStep : GraphStep, IBlockedStep
    {
        private readonly NodeProto _node;
        private readonly (int H, int W) _kernel, _stride, _pad;
        private readonly bool _ceil;

        private MaxPoolStep(NodeProto node, (int, int) kernel, (int, int) stride, (int, int) pad, bool ceil)
        {
            _node = node;
            (_kernel, _stride, _pad, _ceil) = (kernel, stride, pad, ceil);
        }

        public bool ReadsBlocked => true;
        public bool OutputBlocked { get; set; }
        /// <summary>The input's channels when its producer may write it blocked (set by the compiler), else -1.</summary>
        public int OutChannels { get; set; } = -1;
        public string Input => _node.Input[0];
        public override string Name => $"node '{_node.Name}' (MaxPool{(OutputBlocked ? ", blocked output" : "")})";
        public override IReadOnlyList<string> Inputs => [_node.Input[0]];
        public override IReadOnlyList<string> Outputs => [_node.Output[0]];

        /// <summary>A 2-D MaxPool with one output (no indices), symmetric pads and dilation 1; others stay interpreted nodes.</summary>
        public static bool TryCreate(NodeProto node, out MaxPoolStep step)
        {
            step = null!;
            if (node.OpType != "MaxPool" || node.Domain is not ("" or "ai.onnx") || node.Input.Count != 1 || node.Output.Count != 1) return false;
            var a = new OnnxOps.Attrs(node);
            long[] k = a.Ints("kernel_shape") ?? [], s = a.Ints("strides") ?? [1, 1], p = a.Ints("pads") ?? [0, 0, 0, 0], d = a.Ints("dilations") ?? [1, 1];
            if (k.Length != 2 || s.Length != 2 || p.Length != 4 || d.Length != 2 || d[0] != 1 || d[1] != 1 || p[0] != p[2] || p[1] != p[3]
                || a.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID") || a.Int("storage_order", 0) != 0)
                return false;
            step = new MaxPoolStep(node, ((int)k[0], (int)k[1]), ((int)s[0], (int)s[1]), ((int)p[0], (int)p[1]), a.Int("ceil_mode", 0) != 0);
            return true;
        }

        public override Tensor[] Run(Dictionary<string, Tensor> env)
        {
            var x = env[_node.Input[0]];
            if (x.Rank != 5) return OnnxOps.Run(_node, env, training: false);
            // Blocked input: [N, C/16, H + 2, W + 2, 16] from a fused conv with OutChannels channels.
            int n = x.ShapeRef[0], c = OutChannels;
            var (h, w) = ChannelBlocked.Plane(x.ShapeRef);
            int oh = Pool2dGeometry.OutputSize(h, _kernel.H, _stride.H, _pad.H, 1, _ceil), ow = Pool2dGeometry.OutputSize(w, _kernel.W, _stride.W, _pad.W, 1, _ceil);
            var g = new Pool2dGeometry(n, c, h, w, oh, ow, _kernel.H, _kernel.W, _stride.H, _stride.W, _pad.H, _pad.W);
            int[] shape = ChannelBlocked.Shape(n, c, Math.Max(oh, 0), Math.Max(ow, 0));
            var y = (OutputBlocked ? Planned(env, _node.Output[0], shape) : null) ?? Tensor.Empty(shape);
            try { x.Backend.MaxPool2dChannelBlocked(x.Storage, x.Layout, y.Storage, y.Layout, g); }
            catch { y.Dispose(); throw; }
            if (OutputBlocked) return [y];
            using (y) return [FromBlocked(y, c)];
        }
    }

    /// <summary>A channel-blocked tensor of `channels` channels as a new NCHW tensor.</summary>
    private static Tensor FromBlocked(Tensor t, int channels)
    {
        var (h, w) = ChannelBlocked.Plane(t.ShapeRef);
        var y = Tensor.Empty([t.ShapeRef[0], channels, h, w]);
        t.Backend.FromChannelBlocked(t.Storage, t.Layout, channels, y.Storage, y.Layout);
        return y;
    }
}
