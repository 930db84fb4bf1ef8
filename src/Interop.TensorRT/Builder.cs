// Building: a builder makes networks, configurations and optimisation profiles, and turns a network plus a
// configuration into a serialised engine in host memory. Timing caches and host memory stand alone (TensorRT
// lets them outlive the builder that made them).
namespace Cuda.Nn.Interop.TensorRT;

public sealed unsafe class Builder : TrtObject
{
    public Logger Logger { get; }

    public Builder(Logger logger) : base(logger)
    {
        Logger = logger;
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_builder_create(logger.Handle, &h), "Builder");
        Own(h);
    }

    public BuilderConfig CreateConfig() => new(this);

    /// <summary>An explicit-batch network definition (the batch is an ordinary axis, -1 where a profile sets it).</summary>
    public Network CreateNetwork() => new(this);

    public OptimizationProfile CreateProfile() => new(this);

    /// <summary>Builds the network into a serialised engine (the plan) in host memory.</summary>
    public HostMemory BuildSerialized(Network network, BuilderConfig config)
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_builder_build_serialized(Handle, network.Handle, config.Handle, &h), nameof(BuildSerialized));
        return new HostMemory(h);
    }

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_builder_destroy(handle);
}

public sealed unsafe class BuilderConfig : TrtObject
{
    internal BuilderConfig(Builder builder) : base(builder)
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_config_create(builder.Handle, &h), "BuilderConfig");
        Own(h);
    }

    /// <summary>Sets exactly these precision flags (the others of ours are cleared).</summary>
    public void SetFlags(BuilderFlags flags) => TrtCall.Check(TrtNative.cudann_trt_config_set_flags(Handle, (uint)flags), nameof(SetFlags));

    /// <summary>The workspace memory pool limit, in bytes.</summary>
    public void SetWorkspace(ulong bytes) => TrtCall.Check(TrtNative.cudann_trt_config_set_workspace(Handle, (nuint)bytes), nameof(SetWorkspace));

    /// <summary>Adds a filled profile; returns its index in the engine.</summary>
    public int AddProfile(OptimizationProfile profile)
    {
        int index;
        TrtCall.Check(TrtNative.cudann_trt_config_add_profile(Handle, profile.Handle, &index), nameof(AddProfile));
        return index;
    }

    /// <summary>A timing cache from serialised bytes (empty: a new cache).</summary>
    public TimingCache CreateTimingCache(ReadOnlySpan<byte> serialized)
    {
        nint h;
        fixed (byte* p = serialized)
            TrtCall.Check(TrtNative.cudann_trt_timing_cache_create(Handle, p, (nuint)serialized.Length, &h), nameof(CreateTimingCache));
        return new TimingCache(h);
    }

    public void SetTimingCache(TimingCache cache, bool ignoreMismatch = false) =>
        TrtCall.Check(TrtNative.cudann_trt_config_set_timing_cache(Handle, cache.Handle, ignoreMismatch ? 1 : 0), nameof(SetTimingCache));

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_config_destroy(handle);
}

/// <summary>Min/opt/max shapes per dynamic input. Owned by its builder (TensorRT has no destroy for it).</summary>
public sealed unsafe class OptimizationProfile
{
    private readonly Builder builder;
    private readonly nint handle;

    internal OptimizationProfile(Builder builder)
    {
        this.builder = builder;
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_profile_create(builder.Handle, &h), "OptimizationProfile");
        handle = h;
    }

    internal nint Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(builder.IsDisposed, builder);
            return handle;
        }
    }

    public void SetDimensions(string inputName, ReadOnlySpan<long> min, ReadOnlySpan<long> opt, ReadOnlySpan<long> max)
    {
        if (min.Length != opt.Length || opt.Length != max.Length)
            throw new ArgumentException($"{inputName}: min, opt and max have {min.Length}, {opt.Length} and {max.Length} axes");
        TrtCall.Dims(min, nameof(min));
        fixed (byte* n = TrtCall.Utf8(inputName))
        fixed (long* lo = min, mid = opt, hi = max)
            TrtCall.Check(TrtNative.cudann_trt_profile_set_dims(Handle, n, lo, mid, hi, min.Length), nameof(SetDimensions));
    }
}

public sealed unsafe class TimingCache : TrtObject
{
    internal TimingCache(nint handle) : base(null) => Own(handle);

    public HostMemory Serialize()
    {
        nint h;
        TrtCall.Check(TrtNative.cudann_trt_timing_cache_serialize(Handle, &h), nameof(Serialize));
        return new HostMemory(h);
    }

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_timing_cache_destroy(handle);
}

/// <summary>Bytes TensorRT allocated (a plan, a timing cache); valid until disposed.</summary>
public sealed unsafe class HostMemory : TrtObject
{
    internal HostMemory(nint handle) : base(null) => Own(handle);

    /// <summary>The bytes in place; do not use the span after Dispose.</summary>
    public ReadOnlySpan<byte> Span
    {
        get
        {
            void* data;
            nuint size;
            TrtCall.Check(TrtNative.cudann_trt_host_memory_data(Handle, &data, &size), nameof(HostMemory));
            return new ReadOnlySpan<byte>(data, checked((int)size));
        }
    }

    public byte[] ToArray() => Span.ToArray();

    private protected override int Destroy(nint handle) => TrtNative.cudann_trt_host_memory_destroy(handle);
}
