// Reads an ONNX model (our exporter's output, and other graphs built from the same operators) into an
// OnnxGraphModule. Initializers become parameters and buffers named as in the file, nested by their dots, so an
// exported-then-imported model has the original state-dict names and can load checkpoints or be fine-tuned.
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Kernels;
using Google.Protobuf;

namespace Cuda.Nn.Onnx;

public static class OnnxImporter
{
    /// <summary>Opsets whose semantics for the supported operators the interpreter follows (exports use 17).</summary>
    public const int MinOpset = 13, MaxOpset = 17;

    public static OnnxGraphModule Load(string path)
    {
        ModelProto model;
        try
        {
            using var fs = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(fs);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: not a readable ONNX model ({e.Message})", e);
        }
        return FromProto(model, path);
    }

    public static OnnxGraphModule FromProto(ModelProto model, string source = "(in memory)")
    {
        var graph = model.Graph ?? throw new InvalidDataException($"{source}: the model has no graph");
        var opset = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version
            ?? throw new InvalidDataException($"{source}: no opset_import for the default ONNX domain");
        if (opset < MinOpset || opset > MaxOpset)
            throw new NotSupportedException($"{source}: opset {opset} is not supported (opsets {MinOpset}-{MaxOpset} are)");
        var unsupported = graph.Node
            .Where(n => (n.Domain is not ("" or "ai.onnx")) || !OnnxGraphModule.SupportedOps.Contains(n.OpType))
            .Select(n => n.Domain is "" or "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}")
            .Distinct().Order(StringComparer.Ordinal).ToList();
        if (unsupported.Count > 0)
            throw new NotSupportedException($"{source}: unsupported ONNX operators: {string.Join(", ", unsupported)} (supported: {string.Join(", ", OnnxGraphModule.SupportedOps.Order(StringComparer.Ordinal))})");
        return new OnnxGraphModule(model, source);
    }

    /// <summary>A TensorProto's values as a float32 (floating point) or int64 (integer, bool) tensor.</summary>
    internal static Tensor ToTensor(TensorProto t, string what)
    {
        int[] shape = t.Dims.Select(d => checked((int)d)).ToArray();
        long n = shape.Aggregate(1L, (a, d) => a * d);
        var raw = t.RawData.Memory;
        var dt = (TensorProto.Types.DataType)t.DataType;
        if (t.Dims.Count > 0 && n > 0 && raw.Length == 0 && t.FloatData.Count == 0 && t.Int64Data.Count == 0 && t.Int32Data.Count == 0 && t.DoubleData.Count == 0)
            throw new InvalidDataException($"{what}: tensor '{t.Name}' {Layout.ShapeString(shape)} has no inline data (external data is not supported)");
        T[] Values<T>(Func<IReadOnlyList<T>> field) where T : unmanaged
        {
            var v = raw.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(raw.Span).ToArray() : field().ToArray();
            if (v.Length != n) throw new InvalidDataException($"{what}: tensor '{t.Name}' holds {v.Length} values for shape {Layout.ShapeString(shape)}");
            return v;
        }
        return dt switch
        {
            TensorProto.Types.DataType.Float => Tensor.FromArray(Values(() => t.FloatData), shape),
            TensorProto.Types.DataType.Double => Tensor.FromArray(Values(() => t.DoubleData).Select(v => (float)v).ToArray(), shape),
            TensorProto.Types.DataType.Int64 => Tensor.FromArray(Values(() => t.Int64Data), shape),
            TensorProto.Types.DataType.Int32 => Tensor.FromArray(Values(() => t.Int32Data).Select(v => (long)v).ToArray(), shape),
            TensorProto.Types.DataType.Bool or TensorProto.Types.DataType.Uint8 =>
                Tensor.FromArray((raw.Length > 0 ? raw.ToArray().Select(b => (long)b) : t.Int32Data.Select(v => (long)v)).ToArray(), shape),
            _ => throw new NotSupportedException($"{what}: tensor '{t.Name}' has ONNX data type {dt}, which is not supported (float, double, int64, int32, bool, uint8 are)"),
        };
    }
}
