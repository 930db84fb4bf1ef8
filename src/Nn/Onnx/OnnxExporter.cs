// Writes a model as an ONNX file (opset 17): eval-mode graph, one float32 input "input" [batch, ...inputShape]
// with a symbolic batch axis, one output "output", every parameter and buffer as an initializer under its
// state-dict name. Modules describe themselves through IOnnxExportable (Modules/OnnxForms.cs, Models/OnnxForms.cs).
using Cuda.Nn.Autograd;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;
using Google.Protobuf;

namespace Cuda.Nn.Onnx;

public static class OnnxExporter
{
    public const int Opset = 17;
    /// <summary>IR version 8 is the one that goes with opset 17.</summary>
    public const long IrVersion = 8;
    public const string InputName = "input";
    public const string OutputName = "output";
    public const string BatchAxis = "batch";

    /// <summary>Exports <paramref name="model"/> for inputs of shape [batch, ...<paramref name="inputShape"/>] (C, H, W or features).</summary>
    public static void Export(Module model, int[] inputShape, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var proto = Build(model, inputShape, metadata);
        AtomicFile.Write(path, s => proto.WriteTo(s));
    }

    /// <summary>The ONNX model for <paramref name="model"/>; an imported OnnxGraphModule is written back as its own graph with
    /// its current weights (its input shape is the file's, and <paramref name="inputShape"/> must agree with it).</summary>
    public static ModelProto Build(Module model, int[] inputShape, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (model is OnnxGraphModule imported)
        {
            if (!imported.InputShape.AsSpan().SequenceEqual(inputShape))
                throw new ArgumentException($"ONNX export: the imported graph takes [batch, {string.Join(", ", imported.InputShape)}], not [batch, {string.Join(", ", inputShape)}]");
            var again = imported.ToModelProto();
            if (metadata is not null)
                foreach (var (k, v) in metadata)
                {
                    for (int i = again.MetadataProps.Count - 1; i >= 0; i--)
                        if (again.MetadataProps[i].Key == k) again.MetadataProps.RemoveAt(i);
                    again.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
                }
            return again;
        }
        if (inputShape.Length == 0 || inputShape.Any(d => d <= 0))
            throw new ArgumentException($"ONNX export: input shape {Layout.ShapeString(inputShape)} must be non-empty and positive (C, H, W or features, without the batch)");
        var outputShape = ProbeOutputShape(model, inputShape);
        var g = new OnnxGraphBuilder();
        var y = g.Emit(model, InputName, "");
        // The last value is renamed so that every export has the same output name.
        g.Node("Identity", [y], "");
        g.Graph.Node[^1].Output[0] = OutputName;
        g.Graph.Input.Add(ValueInfo(InputName, inputShape));
        g.Graph.Output.Add(ValueInfo(OutputName, outputShape[1..]));
        var m = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "cudann",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = g.Graph,
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        if (metadata is not null)
            foreach (var (k, v) in metadata) m.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return m;
    }

    /// <summary>One eval-mode forward on zeros, for the output shape (and to fail early on an input the model rejects).</summary>
    private static int[] ProbeOutputShape(Module model, int[] inputShape)
    {
        bool wasTraining = model.IsTraining;
        model.Eval();
        try
        {
            using var noGrad = AutogradMode.NoGrad();
            using var scope = new DisposeScope();
            var y = model.Forward(Tensor.Zeros([1, .. inputShape]));
            return y.Shape;
        }
        finally { model.Train(wasTraining); }
    }

    private static ValueInfoProto ValueInfo(string name, int[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchAxis });
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
