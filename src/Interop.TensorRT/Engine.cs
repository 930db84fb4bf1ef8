// Running: an engine deserialised from a plan (with a runtime of its own, destroyed after it, as TensorRT
// requires), its I/O tensors, and execution contexts (TrtExecutionContext: System.Threading has an
// ExecutionContext, which implicit usings would make ambiguous) that bind device addresses and enqueue on a CUDA stream.
namespace Cuda.Nn.Interop.TensorRT;

/// <summary>One input or output of an engine.</summary>
public sealed record TensorIO(string Name, TensorIOMode Mode, TrtDataType DataType, long[] Dims);

public sealed unsafe class Engine : TrtObject
{
    private nint runtime;

    private Engine(Logger logger, nint runtime, nint engine) : base(logger)
    {
        this.runtime = runtime;
        Own(engine);
    }

    /// <summary>Deserialises a plan (from <see cref="Builder.BuildSerialized"/> or a file).</summary>
    public static Engine Deserialize(Logger logger, ReadOnlySpan<byte> plan)
    {
        nint r, e;
        TrtCall.Check(TrtNative.cudann_trt_runtime_create(logger.Handle, &r), "Engine runtime");
        int status;
        fixed (byte* p = plan)
            status = TrtNative.cudann_trt_runtime_deserialize(r, p, (nuint)plan.Length, &e);
        if (status != 0)
        {
            // Read the message before the runtime's destroy can replace it.
            string message = TrtCall.Marshal(TrtNative.cudann_trt_last_error()) ?? "";
            TrtNative.cudann_trt_runtime_destroy(r);
            throw new TensorRtException(nameof(Deserialize), (TrtStatus)status, message);
        }
        return new Engine(logger, r, e);
    }

    /// <summary>The engine's inputs and outputs, in TensorRT's order.</summary>
    public IReadOnlyList<TensorIO> IO
    {
        get
        {
            int count;
            TrtCall.Check(TrtNative.cudann_trt_engine_io_count(Handle, &count), nameof(IO));
            var list = new List<TensorIO>(count);
            long* d = stackalloc long[TrtCall.MaxDims];
            for (int i = 0; i < count; i++)
            {
                byte* name;
                int mode, dtype, nb;
                TrtCall.Check(TrtNative.cudann_trt_engine_io_name(Handle, i, &name), nameof(IO));
                TrtCall.Check(TrtNative.cudann_trt_engine_io_mode(Handle, name, &mode), nameof(IO));
                TrtCall.Check(TrtNative.cudann_trt_engine_io_dtype(Handle, name, &dtype), nameof(IO));
                TrtCall.Check(TrtNative.cudann_trt_engine_io_dims(Handle, name, d, &nb), nameof(IO));
                list.Add(new TensorIO(TrtCall.Marshal(name)!, (TensorIOMode)mode, (TrtDataType)dtype, new ReadOnlySpan<long>(d, nb).ToArray()));
            }
            return list;
        }
    }

    public TrtExecutionContext CreateExecutionContext() => new(this);

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_engine_destroy(handle);

    private protected override void ReleaseAfterDestroy()
    {
        nint r = runtime;
        runtime = 0;
        if (r != 0) TrtCall.Check(TrtNative.cudann_trt_runtime_destroy(r), "Engine runtime");
    }
}

public sealed unsafe class TrtExecutionContext : TrtObject
{
    internal TrtExecutionContext(Engine engine) : base(engine)
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_context_create(engine.Handle, &h), nameof(TrtExecutionContext));
        Own(h);
    }

    /// <summary>The shape of a dynamic input for the next enqueue (within the profile's min..max).</summary>
    public void SetInputShape(string name, ReadOnlySpan<long> dims)
    {
        TrtCall.Dims(dims, nameof(dims));
        fixed (byte* n = TrtCall.Utf8(name))
        fixed (long* d = dims)
            TrtCall.Check(TrtNative.cudann_trt_context_set_input_shape(Handle, n, d, dims.Length), nameof(SetInputShape));
    }

    /// <summary>Binds an input or output to a device address (a CUdeviceptr's value).</summary>
    public void SetTensorAddress(string name, ulong deviceAddress)
    {
        fixed (byte* n = TrtCall.Utf8(name))
            TrtCall.Check(TrtNative.cudann_trt_context_set_tensor_address(Handle, n, (void*)deviceAddress), nameof(SetTensorAddress));
    }

    /// <summary>Enqueues inference on a CUDA stream (a CUstream; 0 is the default stream).</summary>
    public void Enqueue(nint stream) => TrtCall.Check(TrtNative.cudann_trt_context_enqueue(Handle, (void*)stream), nameof(Enqueue));

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_context_destroy(handle);
}
