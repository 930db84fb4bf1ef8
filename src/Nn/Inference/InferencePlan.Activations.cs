// Activations the exporter writes as several ONNX nodes, run by the plan as one step: SiLU is Mul(x, Sigmoid(x)) in
// ONNX (opset 17 has no SiLU), which the interpreter ran as two passes and an intermediate the size of x;
// EfficientNet has one after every conv. The step runs the backend's fused SiLU instead.
using Cuda.Nn.Onnx;
using Cuda.Nn.Onnx.Proto;

namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan
{
    private sealed class SiluStep(NodeProto sigmoid, NodeProto mul) : GraphStep
    {
        public string Input => sigmoid.Input[0];
        public override string Name => $"silu '{mul.Name}' (Sigmoid '{sigmoid.Name}' and Mul fused)";
        public override IReadOnlyList<string> Inputs => [Input];
        public override IReadOnlyList<string> Outputs => [mul.Output[0]];
        public override Tensor[] Run(Dictionary<string, Tensor> env) => [env[Input].Silu()];

        /// <summary>A Sigmoid of x whose only reader is Mul(x, sigmoid) (either order); x is not a blocked value, since
        /// only fused convs and max pools make those and this step is not among their readers.</summary>
        public static bool TryMatch(NodeProto sigmoid, Func<string, NodeProto?> onlyMulReader, out NodeProto mul)
        {
            mul = null!;
            if (sigmoid.OpType != "Sigmoid" || sigmoid.Domain is not ("" or "ai.onnx") || sigmoid.Input.Count != 1 || sigmoid.Output.Count != 1) return false;
            if (onlyMulReader(sigmoid.Output[0]) is not { } m || m.Input.Count != 2 || m.Output.Count != 1) return false;
            string x = sigmoid.Input[0], s = sigmoid.Output[0];
            if (!(m.Input[0] == x && m.Input[1] == s || m.Input[0] == s && m.Input[1] == x)) return false;
            mul = m;
            return true;
        }
    }
}
