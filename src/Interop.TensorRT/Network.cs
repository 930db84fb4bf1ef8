// A network definition, layer by layer. Weights (convolution kernels and biases, constants) are handed to
// TensorRT without a copy: the memory is pinned here and stays pinned until the network is disposed, which
// must therefore come after the engine is built (TensorRT reads the weights during the build).
using System.Buffers;

namespace Cuda.Nn.Interop.TensorRT;

/// <summary>A tensor of a network (owned by it; no Dispose).</summary>
public sealed unsafe class TrtTensor
{
    private readonly nint handle;

    internal TrtTensor(Network network, nint handle)
    {
        Network = network;
        this.handle = handle;
    }

    public Network Network { get; }

    internal nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Network.IsDisposed, Network);
            return handle;
        }
    }

    /// <summary>The tensor's extents as TensorRT infers them (-1 where dynamic).</summary>
    public long[] Dims
    {
        get
        {
            long* d = stackalloc long[TrtCall.MaxDims];
            int n;
            TrtCall.Check(TrtNative.cudann_trt_tensor_dims(Handle, d, &n), nameof(Dims));
            return new ReadOnlySpan<long>(d, n).ToArray();
        }
    }
}

public sealed unsafe class Network : TrtObject
{
    private readonly List<MemoryHandle> pinned = [];

    internal Network(Builder builder) : base(builder)
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_network_create(builder.Handle, &h), "Network");
        Own(h);
    }

    private TrtTensor Tensor(nint h) => new(this, h);

    private nint Of(TrtTensor t, string what)
    {
        if (!ReferenceEquals(t.Network, this)) throw new ArgumentException($"{what} belongs to another network", what);
        return t.Handle;
    }

    private void* Pin<T>(ReadOnlyMemory<T> memory) where T : unmanaged
    {
        var h = memory.Pin();
        pinned.Add(h);
        return h.Pointer;
    }

    public TrtTensor AddInput(string name, TrtDataType type, ReadOnlySpan<long> dims)
    {
        TrtCall.Dims(dims, nameof(dims));
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
        fixed (long* d = dims)
            TrtCall.Check(TrtNative.cudann_trt_network_add_input(Handle, n, (int)type, d, dims.Length, &h), nameof(AddInput));
        return Tensor(h);
    }

    /// <summary>Marks an engine output and names it (the name the engine's I/O reports).</summary>
    public void MarkOutput(TrtTensor tensor, string name)
    {
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_mark_output(Handle, Of(tensor, nameof(tensor)), n), nameof(MarkOutput));
    }

    /// <summary>2-D convolution of NCHW, symmetric padding. <paramref name="weights"/> is OIHW; an empty <paramref name="bias"/> means none.</summary>
    public TrtTensor AddConvolution(string? name, TrtTensor input, int outChannels, int kernelH, int kernelW, ReadOnlyMemory<float> weights,
        ReadOnlyMemory<float> bias = default, int strideH = 1, int strideW = 1, int padH = 0, int padW = 0, int dilationH = 1, int dilationW = 1, int groups = 1)
    {
        nint x = Of(input, nameof(input)), h;
        void* k = Pin(weights);
        void* b = bias.IsEmpty ? null : Pin(bias);
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_convolution(Handle, n, x, outChannels, kernelH, kernelW, strideH, strideW, padH, padW,
                dilationH, dilationW, groups, (float*)k, weights.Length, (float*)b, bias.Length, &h), nameof(AddConvolution));
        return Tensor(h);
    }

    /// <summary>Relu6 is Clip with alpha 0, beta 6; PyTorch's hard sigmoid is HardSigmoid with 1/6, 1/2; LeakyRelu's slope is alpha.</summary>
    public TrtTensor AddActivation(string? name, TrtTensor input, Activation kind, float alpha = 0, float beta = 0)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_activation(Handle, n, Of(input, nameof(input)), (int)kind, alpha, beta, &h), nameof(AddActivation));
        return Tensor(h);
    }

    public TrtTensor AddElementwise(string? name, TrtTensor a, TrtTensor b, ElementwiseOp op)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_elementwise(Handle, n, Of(a, nameof(a)), Of(b, nameof(b)), (int)op, &h), nameof(AddElementwise));
        return Tensor(h);
    }

    public TrtTensor AddPooling(string? name, TrtTensor input, PoolingKind kind, int windowH, int windowW, int strideH, int strideW,
        int padH = 0, int padW = 0, bool countIncludePad = false)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_pooling(Handle, n, Of(input, nameof(input)), (int)kind, windowH, windowW, strideH, strideW,
                padH, padW, countIncludePad ? 1 : 0, &h), nameof(AddPooling));
        return Tensor(h);
    }

    /// <summary>Bit i of <paramref name="axesMask"/> reduces axis i (global average pooling of NCHW: Avg over 0b1100).</summary>
    public TrtTensor AddReduce(string? name, TrtTensor input, ReduceOp op, uint axesMask, bool keepDims)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_reduce(Handle, n, Of(input, nameof(input)), (int)op, axesMask, keepDims ? 1 : 0, &h), nameof(AddReduce));
        return Tensor(h);
    }

    public TrtTensor AddMatMul(string? name, TrtTensor a, MatrixOp opA, TrtTensor b, MatrixOp opB)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_matmul(Handle, n, Of(a, nameof(a)), (int)opA, Of(b, nameof(b)), (int)opB, &h), nameof(AddMatMul));
        return Tensor(h);
    }

    /// <summary>A float constant of shape <paramref name="dims"/>; the values are pinned, not copied.</summary>
    public TrtTensor AddConstant(string? name, ReadOnlySpan<long> dims, ReadOnlyMemory<float> values)
    {
        TrtCall.Dims(dims, nameof(dims));
        nint h;
        void* v = Pin(values);
        fixed (byte* n = TrtCall.Utf8(name))
        fixed (long* d = dims)
            TrtCall.Check(TrtNative.cudann_trt_network_add_constant(Handle, n, (int)TrtDataType.Float, d, dims.Length, v, values.Length, &h), nameof(AddConstant));
        return Tensor(h);
    }

    public TrtTensor AddSoftmax(string? name, TrtTensor input, int axis)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_softmax(Handle, n, Of(input, nameof(input)), axis, &h), nameof(AddSoftmax));
        return Tensor(h);
    }

    /// <summary>
    /// Transposes by <paramref name="firstTranspose"/> (null: none), then reshapes to <paramref name="reshape"/> (null: none; 0 copies an
    /// extent, -1 is inferred), as TensorRT's shuffle layer does.
    /// </summary>
    public TrtTensor AddShuffle(string? name, TrtTensor input, int[]? firstTranspose, long[]? reshape)
    {
        if (reshape is not null) TrtCall.Dims(reshape, nameof(reshape));
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
        fixed (int* t = firstTranspose)
        fixed (long* r = reshape)
            TrtCall.Check(TrtNative.cudann_trt_network_add_shuffle(Handle, n, Of(input, nameof(input)), firstTranspose is null ? null : t,
                firstTranspose?.Length ?? 0, reshape is null ? null : r, reshape?.Length ?? 0, &h), nameof(AddShuffle));
        return Tensor(h);
    }

    public TrtTensor AddConcatenation(string? name, IReadOnlyList<TrtTensor> inputs, int axis)
    {
        var handles = new nint[inputs.Count];
        for (int i = 0; i < handles.Length; i++) handles[i] = Of(inputs[i], nameof(inputs));
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
        fixed (nint* p = handles)
            TrtCall.Check(TrtNative.cudann_trt_network_add_concatenation(Handle, n, p, handles.Length, axis, &h), nameof(AddConcatenation));
        return Tensor(h);
    }

    public TrtTensor AddUnary(string? name, TrtTensor input, UnaryOp op)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_unary(Handle, n, Of(input, nameof(input)), (int)op, &h), nameof(AddUnary));
        return Tensor(h);
    }

    /// <summary>(x - mean) / sqrt(var + epsilon) * scale + bias over the axes in the mask (layer norm of [N, T, D]: 1 &lt;&lt; 2).</summary>
    public TrtTensor AddNormalization(string? name, TrtTensor input, TrtTensor scale, TrtTensor bias, uint axesMask, float epsilon)
    {
        nint h;
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_network_add_normalization(Handle, n, Of(input, nameof(input)), Of(scale, nameof(scale)), Of(bias, nameof(bias)),
                axesMask, epsilon, &h), nameof(AddNormalization));
        return Tensor(h);
    }

    /// <summary>An ONNX parser that fills this network; keep it until the engine is built (it owns the parsed weights).</summary>
    public OnnxParser CreateOnnxParser(Logger logger) => new(this, logger);

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_network_destroy(handle);

    private protected override void ReleaseAfterDestroy()
    {
        foreach (var h in pinned) h.Dispose();
        pinned.Clear();
    }
}

public sealed unsafe class OnnxParser : TrtObject
{
    internal OnnxParser(Network network, Logger logger) : base(network)
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_parser_create(network.Handle, logger.Handle, &h), "OnnxParser");
        Own(h);
    }

    /// <summary>Parses a serialised ONNX model into the network; the parser's errors are the exception's message.</summary>
    public void Parse(ReadOnlySpan<byte> model)
    {
        fixed (byte* p = model)
            TrtCall.Check(TrtNative.cudann_trt_parser_parse(Handle, p, (nuint)model.Length), nameof(Parse));
    }

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_parser_destroy(handle);
}
