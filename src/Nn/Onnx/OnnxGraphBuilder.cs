// Collects ONNX nodes and initializers while modules describe themselves (IOnnxExportable). Values are named
// by the module path that produced them, so a graph viewer shows "layer1.0.conv1/Conv"; initializers carry the
// state-dict names, so an imported graph has the same parameter names as the model it came from.
using System.Runtime.InteropServices;
using Cuda.Nn.Onnx.Proto;
using Cuda.Nn.Kernels;
using Cuda.Nn.Modules;
using Google.Protobuf;

namespace Cuda.Nn.Onnx;

/// <summary>A module that can write its eval-mode computation as ONNX nodes.</summary>
public interface IOnnxExportable
{
    /// <summary>Emits the nodes computing this module from the value named <paramref name="input"/>; returns the
    /// output value's name. <paramref name="path"/> is the module's dotted state-dict prefix ("" for the root).</summary>
    string ExportOnnx(OnnxGraphBuilder graph, string input, string path);
}

public sealed class OnnxGraphBuilder
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializers = new(StringComparer.Ordinal);

    public GraphProto Graph { get; } = new() { Name = "cudann" };

    /// <summary>Exports a child module, or fails naming its path and type when it has no ONNX form.</summary>
    public string Emit(Module module, string input, string path)
    {
        if (module is IOnnxExportable e) return e.ExportOnnx(this, input, path);
        throw new NotSupportedException(
            $"ONNX export: module '{(path.Length == 0 ? "(root)" : path)}' of type {module.GetType().FullName} has no ONNX mapping (it does not implement IOnnxExportable)");
    }

    public static string Child(string path, string name) => path.Length == 0 ? name : path + "." + name;

    /// <summary>Adds a module's tensor as an initializer named by its state-dict name; returns that name.</summary>
    public string Param(string path, string name, Tensor value)
    {
        var full = Child(path, name);
        if (_initializers.Add(full))
        {
            _names.Add(full);
            Graph.Initializer.Add(ToTensorProto(full, value));
        }
        return full;
    }

    /// <summary>Adds one node with one output; returns the output's name.</summary>
    public string Node(string opType, IEnumerable<string> inputs, string path, params AttributeProto[] attributes) =>
        NodeMulti(opType, inputs, 1, path, attributes)[0];

    public string[] NodeMulti(string opType, IEnumerable<string> inputs, int outputs, string path, params AttributeProto[] attributes)
    {
        var baseName = (path.Length == 0 ? "" : path + "/") + opType;
        var name = Unique(baseName);
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        var outs = new string[outputs];
        for (int i = 0; i < outputs; i++) outs[i] = outputs == 1 ? name : Unique($"{name}:{i}");
        node.Output.AddRange(outs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return outs;
    }

    /// <summary>An int64 constant (shapes, axes, indices); an empty <paramref name="shape"/> with one value makes a scalar.</summary>
    public string ConstInt64(string path, long[] values, int[]? shape = null) =>
        Node("Constant", [], path, Attr.Tensor("value", Int64Tensor("", values, shape ?? [values.Length])));

    public string ConstFloat(string path, float value) =>
        Node("Constant", [], path, Attr.Tensor("value", FloatTensor("", [value], [])));

    private string Unique(string name)
    {
        if (_names.Add(name)) return name;
        for (int i = 1; ; i++)
            if (_names.Add($"{name}_{i}")) return $"{name}_{i}";
    }

    public static TensorProto FloatTensor(string name, float[] values, int[] shape)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (var d in shape) t.Dims.Add(d);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    /// <summary>An int8 (signed) or uint8 initializer, named as given (quantized weights and zero points).</summary>
    public string ByteInitializer(string name, ReadOnlySpan<byte> bytes, int[] shape, bool signed)
    {
        if (_initializers.Add(name))
        {
            _names.Add(name);
            var t = new TensorProto { Name = name, DataType = (int)(signed ? TensorProto.Types.DataType.Int8 : TensorProto.Types.DataType.Uint8) };
            foreach (var d in shape) t.Dims.Add(d);
            t.RawData = ByteString.CopyFrom(bytes);
            Graph.Initializer.Add(t);
        }
        return name;
    }

    /// <summary>A float initializer named as given.</summary>
    public string FloatInitializer(string name, float[] values, int[] shape)
    {
        if (_initializers.Add(name))
        {
            _names.Add(name);
            Graph.Initializer.Add(FloatTensor(name, values, shape));
        }
        return name;
    }

    /// <summary>DequantizeLinear of int8 weights with per-output-channel scales (axis 0, zero points 0): a QDQ weight.</summary>
    public string QuantizedWeight(string path, Compression.Int8Weights w)
    {
        int o = w.Shape[0];
        var q = ByteInitializer(Child(path, "weight_int8"), MemoryMarshal.AsBytes(w.Values.AsSpan()), w.Shape, signed: true);
        var scale = FloatInitializer(Child(path, "weight_scale"), w.Scales, [o]);
        var zp = ByteInitializer(Child(path, "weight_zero_point"), new byte[o], [o], signed: true);
        return Node("DequantizeLinear", [q, scale, zp], path, Attr.Int("axis", 0));
    }

    public static TensorProto Int64Tensor(string name, long[] values, int[] shape)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        foreach (var d in shape) t.Dims.Add(d);
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return t;
    }

    /// <summary>Floating-point tensors are stored as float32 (the dtype ONNX runtimes execute), integers as int64.
    /// raw_data is little-endian, which every platform .NET runs on here is.</summary>
    public static TensorProto ToTensorProto(string name, Tensor value)
    {
        if (value.DType.IsFloatingPoint()) return FloatTensor(name, value.ToFloatArray(), value.Shape);
        if (value.DType is DType.I64 or DType.I32) return Int64Tensor(name, value.ToLongArray(), value.Shape);
        throw new NotSupportedException($"ONNX export: tensor '{name}' has dtype {value.DType}, which has no ONNX mapping here (floating point and integer tensors do)");
    }
}

/// <summary>AttributeProto constructors.</summary>
public static class Attr
{
    public static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
    public static AttributeProto Float(string name, double v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)v };
    public static AttributeProto Tensor(string name, TensorProto v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = v };

    public static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }
}
