// MaxPool in an InferencePlan: values only (no argmax indices to record for a backward pass that never comes).
using Cuda.Nn.Export.Onnx;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Export;

public sealed partial class InferencePlan
{
    private sealed unsafe class MaxPoolStep : Step
    {
        private readonly NodeProto _node;
        private readonly NodeStep _fallback;
        private readonly int _kh, _kw, _sh, _sw, _ph, _pw;
        private readonly bool _ceil;

        public override string Name => $"node '{_node.Name}' (MaxPool, values only)";
        public override IReadOnlyList<string> Inputs => [_node.Input[0]];
        public override IReadOnlyList<string> Outputs => [_node.Output[0]];

        private MaxPoolStep(NodeProto node, long[] k, long[] s, long[] p, bool ceil)
        {
            _node = node;
            _fallback = new NodeStep(node);
            (_kh, _kw, _sh, _sw, _ph, _pw, _ceil) = ((int)k[0], (int)k[1], (int)s[0], (int)s[1], (int)p[0], (int)p[1], ceil);
        }

        /// <summary>2-D max pooling without dilation, symmetric pads and no Indices output; anything else stays interpreted.</summary>
        public static bool TryCreate(NodeProto node, out MaxPoolStep step)
        {
            step = null!;
            AttributeProto? Attr(string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
            if (node.Output.Count != 1 || Attr("auto_pad") is { } ap && ap.S.ToStringUtf8() is not ("NOTSET" or "VALID")) return false;
            if (Attr("storage_order") is { I: not 0 }) return false;
            long[]? k = Attr("kernel_shape")?.Ints.ToArray();
            long[] s = Attr("strides")?.Ints.ToArray() ?? [1, 1], p = Attr("pads")?.Ints.ToArray() ?? [0, 0, 0, 0];
            long[] d = Attr("dilations")?.Ints.ToArray() ?? [1, 1];
            if (k is not { Length: 2 } || s.Length != 2 || p.Length != 4 || p[0] != p[2] || p[1] != p[3] || d.Any(v => v != 1)) return false;
            step = new MaxPoolStep(node, k, s, p, (Attr("ceil_mode")?.I ?? 0) != 0);
            return true;
        }

        public override Tensor[] Run(Dictionary<string, Tensor> env)
        {
            var x = env[_node.Input[0]];
            if (x.Rank != 4 || x.Device != Device.Cpu || x.DType != DType.F32) return _fallback.Run(env);
            int n = x.ShapeRef[0], c = x.ShapeRef[1], h = x.ShapeRef[2], w = x.ShapeRef[3];
            int oh = Pool2dGeometry.OutputSize(h, _kh, _sh, _ph, 1, _ceil), ow = Pool2dGeometry.OutputSize(w, _kw, _sw, _pw, 1, _ceil);
            if (oh < 1 || ow < 1 || _ph * 2 > _kh || _pw * 2 > _kw) return _fallback.Run(env); // the interpreter reports these
            using var xc = x.Contiguous();
            var y = Tensor.Empty([n, c, oh, ow]);
            CpuPool.MaxValues(((CpuStorage)xc.Storage).Ptr<float>() + xc.Layout.Offset, ((CpuStorage)y.Storage).Ptr<float>() + y.Layout.Offset,
                n * c, h, w, CpuPool.WindowRanges(h, oh, _kh, _sh, _ph, 1), ow, _kw, _sw, _pw);
            return [y];
        }
    }
}
