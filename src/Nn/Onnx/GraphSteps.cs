// Running an ONNX graph as a list of steps, shared by OnnxGraphModule (every node interpreted, trainable) and
// InferencePlan (fused steps among interpreted ones): the input check, and the loop that runs each step, names the
// one that failed, and frees intermediates after their last reader (a dispose scope would only free them at the end).
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Kernels;

namespace Cuda.Nn.Onnx;

internal abstract class GraphStep
{
    public abstract string Name { get; }
    public abstract IReadOnlyList<string> Inputs { get; }
    public abstract IReadOnlyList<string> Outputs { get; }
    public abstract Tensor[] Run(Dictionary<string, Tensor> env);
}

/// <summary>One node run by the ONNX interpreter; training says whether it runs in training mode now.</summary>
internal sealed class NodeStep(NodeProto node, Func<bool> training) : GraphStep
{
    private readonly string[] _inputs = node.Input.Where(n => n.Length > 0).ToArray();
    private readonly string[] _outputs = node.Output.ToArray();
    public override string Name => $"node '{node.Name}' ({node.OpType})";
    public override IReadOnlyList<string> Inputs => _inputs;
    public override IReadOnlyList<string> Outputs => _outputs;
    public override Tensor[] Run(Dictionary<string, Tensor> env) => OnnxOps.Run(node, env, training());
}

internal static class GraphSteps
{
    /// <summary>Throws unless input is [batch, ...inputShape] (a negative dim matches any size).</summary>
    public static void CheckInput(string source, string inputName, int[] inputShape, Tensor input)
    {
        if (inputShape.Length > 0 && (input.Rank != inputShape.Length + 1 || inputShape.Where((d, i) => d >= 0 && d != input.ShapeRef[i + 1]).Any()))
            throw new ArgumentException($"{source}: input '{inputName}' must be [batch, {string.Join(", ", inputShape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}], got {Layout.ShapeString(input.ShapeRef)}");
    }

    /// <summary>The index of the last step that reads each value.</summary>
    public static Dictionary<string, int> LastUses(IReadOnlyList<GraphStep> steps)
    {
        var last = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < steps.Count; i++)
            foreach (var n in steps[i].Inputs) last[n] = i;
        return last;
    }

    /// <summary>
    /// Runs the steps over env (which holds the input and the constants) and returns the output, still owned by the
    /// caller's dispose scope. Intermediates other than the output are disposed after their last reader; timer, when
    /// given, receives each step's name and milliseconds; afterStep, when given, sees each step with env (its inputs
    /// still there) and its outputs.
    /// </summary>
    public static Tensor Run(string source, IReadOnlyList<GraphStep> steps, IReadOnlyDictionary<string, int> lastUse,
        Dictionary<string, Tensor> env, string outputName, Action<string, double>? timer = null,
        Action<GraphStep, Dictionary<string, Tensor>, Tensor[]>? afterStep = null)
    {
        var owned = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            Tensor[] outs;
            long t0 = timer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
            try { outs = step.Run(env); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or KeyNotFoundException)
            {
                throw new InvalidOperationException($"{source}: {step.Name} failed: {e.Message}", e);
            }
            timer?.Invoke(step.Name, System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            afterStep?.Invoke(step, env, outs);
            for (int o = 0; o < outs.Length && o < step.Outputs.Count; o++)
                if (step.Outputs[o].Length > 0) { env[step.Outputs[o]] = outs[o]; owned.Add(step.Outputs[o]); }
            foreach (var n in step.Inputs)
                if (owned.Contains(n) && lastUse[n] == i && n != outputName) { env[n].Dispose(); owned.Remove(n); }
        }
        return env.TryGetValue(outputName, out var y) ? y : throw new InvalidDataException($"{source}: no node produces the output '{outputName}'");
    }
}
