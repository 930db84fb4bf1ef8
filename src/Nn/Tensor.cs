// Tensor = storage + layout + dtype + device, plus an optional grad node (candle's shape, TorchSharp's
// disposal). Op families live in the Tensor.*.cs partial files, each op's backward beside its forward.
using System.Runtime.InteropServices;
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn;

public sealed partial class Tensor : IDisposable
{
    private Storage? _storage;
    private GradNode? _gradFn;
    private bool _requiresGrad;

    public Layout Layout { get; }
    public DType DType { get; }
    public Device Device { get; }
    internal DisposeScope? Scope { get; set; }

    /// <summary>Gradient accumulated by Backward() (leaves only).</summary>
    public Tensor? Grad { get; set; }
    /// <summary>Optional name (parameters carry their state-dict name here).</summary>
    public string? Name { get; set; }

    internal Tensor(Storage storage, Layout layout, bool addRef)
    {
        if (addRef) storage.AddRef();
        _storage = storage;
        Layout = layout;
        DType = storage.DType;
        Device = storage.Device;
        DisposeScope.Current?.Register(this);
    }

    internal Storage? StorageOrNull => _storage;
    internal Storage Storage => _storage ?? throw new ObjectDisposedException(nameof(Tensor), $"tensor of shape {Layout.ShapeString(Layout.Shape)} used after Dispose()");
    internal IBackend Backend => Backends.For(Device);
    internal GradNode? GradFn => _gradFn;
    internal int[] ShapeRef => Layout.Shape;

    public int[] Shape => (int[])Layout.Shape.Clone();
    public int Rank => Layout.Rank;
    public int Numel => Layout.Numel;
    public bool IsDisposed => _storage is null;
    public bool IsLeaf => _gradFn is null;
    public bool IsContiguous => Layout.IsContiguous;
    public int Size(int dim) => Layout.Shape[Layout.NormalizeDim(dim)];

    /// <summary>Whether Backward() computes a gradient for this tensor. Only leaves may be switched.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!IsLeaf && !value) throw new InvalidOperationException("RequiresGrad can only be cleared on a leaf tensor; use Detach()");
            if (value && !DType.IsFloatingPoint()) throw new InvalidOperationException($"only floating-point tensors can require gradients, this one is {DType}");
            _requiresGrad = value;
        }
    }

    public Tensor RequiresGrad_(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    internal void SetGradFn(GradNode node)
    {
        _gradFn?.DropRef();
        _gradFn = node;
        node.AddRef();
        _requiresGrad = true;
    }

    /// <summary>Runs backpropagation from this tensor (a scalar, or with the given upstream gradient).</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => AutogradMode.RunBackward(this, gradient, retainGraph);

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>A view of the same data that is cut from the graph.</summary>
    public Tensor Detach() => new(Storage, Layout, addRef: true);

    /// <summary>A second handle on the same storage and layout with no graph and no scope: used for tensors saved for backward.</summary>
    internal Tensor Alias()
    {
        var t = new Tensor(Storage, Layout, addRef: true);
        return DisposeScope.Detach(t);
    }

    public void Dispose()
    {
        var s = _storage;
        if (s is null) return;
        _storage = null;
        s.Release();
        _gradFn?.DropRef();
        _gradFn = null;
        Grad?.Dispose();
        Grad = null;
    }

    // ---------- creation ----------

    internal static Tensor Empty(int[] shape, DType dtype, Device device, bool zero = false)
    {
        var layout = Layout.Contiguous(shape);
        var storage = Backends.For(device).Allocate(dtype, layout.Numel, zero);
        return new Tensor(storage, layout, addRef: false);
    }

    public static Tensor Empty(int[] shape, DType dtype = DType.F32, Device? device = null) => Empty(shape, dtype, device ?? Device.Cpu);
    public static Tensor Zeros(int[] shape, DType dtype = DType.F32, Device? device = null) => Empty(shape, dtype, device ?? Device.Cpu, zero: true);
    public static Tensor Ones(int[] shape, DType dtype = DType.F32, Device? device = null) => Full(shape, 1, dtype, device);

    public static Tensor Full(int[] shape, double value, DType dtype = DType.F32, Device? device = null)
    {
        var t = Empty(shape, dtype, device ?? Device.Cpu);
        t.Backend.Fill(t.Storage, t.Layout, value);
        return t;
    }

    public static Tensor ZerosLike(Tensor t) => Zeros(t.ShapeRef, t.DType, t.Device);
    public static Tensor OnesLike(Tensor t) => Ones(t.ShapeRef, t.DType, t.Device);
    public static Tensor FullLike(Tensor t, double value) => Full(t.ShapeRef, value, t.DType, t.Device);

    /// <summary>A 0-d tensor holding one value.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.F32, Device? device = null) => Full([], value, dtype, device);

    /// <summary>Copies managed data into a new CPU tensor of the given shape (default: 1-D).</summary>
    public static unsafe Tensor FromArray<T>(T[] data, params int[] shape) where T : unmanaged
    {
        var dtype = DTypeOf<T>();
        if (shape.Length == 0 && data.Length != 1) shape = [data.Length];
        var t = Empty(shape, dtype, Device.Cpu);
        if (t.Numel != data.Length) { t.Dispose(); throw new ArgumentException($"{data.Length} values do not fill shape {Layout.ShapeString(shape)} ({Layout.Contiguous(shape).Numel} elements)"); }
        data.AsSpan().CopyTo(((CpuStorage)t.Storage).AsSpan<T>());
        return t;
    }

    public static Tensor FromArray(float[] data, params int[] shape) => FromArray<float>(data, shape);

    internal static DType DTypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.F32 :
        typeof(T) == typeof(double) ? DType.F64 :
        typeof(T) == typeof(Half) ? DType.F16 :
        typeof(T) == typeof(long) ? DType.I64 :
        typeof(T) == typeof(int) ? DType.I32 :
        typeof(T) == typeof(byte) ? DType.U8 :
        typeof(T) == typeof(bool) ? DType.Bool :
        typeof(T) == typeof(sbyte) ? DType.I8 :
        throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}");

    /// <summary>[start, end) in steps (torch.arange).</summary>
    public static unsafe Tensor Arange(double start, double end, double step = 1, DType dtype = DType.I64, Device? device = null)
    {
        if (step == 0) throw new ArgumentException("arange: step must be non-zero");
        long n = (long)Math.Ceiling((end - start) / step);
        if (n < 0) n = 0;
        if (n > int.MaxValue) throw new ArgumentException($"arange({start}, {end}, {step}) has too many elements");
        var t = Empty([(int)n], dtype, Device.Cpu);
        var p = ((CpuStorage)t.Storage).Pointer;
        for (int i = 0; i < n; i++) CpuCopy.WriteDouble(dtype, p + (long)i * dtype.SizeOf(), start + i * step);
        return device is { } d && d != Device.Cpu ? t.MoveTo(d) : t;
    }

    /// <summary>Uniform in [low, high) from the generator (Philox stream; see Generator).</summary>
    public static Tensor Rand(int[] shape, Generator? generator = null, DType dtype = DType.F32, Device? device = null, double low = 0, double high = 1)
    {
        var g = generator ?? Generator.Default;
        var t = Empty(shape, dtype, device ?? Device.Cpu);
        t.Backend.FillRandom(t.Storage, t.Numel, g.Seed, g.Take((ulong)t.Numel), normal: false, low, high);
        return t;
    }

    /// <summary>Normal(mean, std) from the generator.</summary>
    public static Tensor Randn(int[] shape, Generator? generator = null, DType dtype = DType.F32, Device? device = null, double mean = 0, double std = 1)
    {
        var g = generator ?? Generator.Default;
        var t = Empty(shape, dtype, device ?? Device.Cpu);
        t.Backend.FillRandom(t.Storage, t.Numel, g.Seed, g.Take(2 * (ulong)t.Numel), normal: true, mean, std);
        return t;
    }

    /// <summary>1 with probability p, else 0, in this tensor's dtype (p is this tensor's values).</summary>
    public Tensor Bernoulli(Generator? generator = null)
    {
        using var u = Rand(ShapeRef, generator, DType.F32, Device);
        using var p = To(DType.F32);
        using var m = u.Lt(p);
        return m.To(DType);
    }

    public static Tensor Bernoulli(int[] shape, double p, Generator? generator = null, DType dtype = DType.F32)
    {
        using var u = Rand(shape, generator);
        using var m = u.Lt(p);
        return m.To(dtype);
    }

    /// <summary>A random permutation of 0..n-1 (I64), by Fisher-Yates over the generator.</summary>
    public static Tensor Randperm(int n, Generator? generator = null)
    {
        var g = generator ?? Generator.Default;
        var a = new long[n];
        for (int i = 0; i < n; i++) a[i] = i;
        for (int i = n - 1; i > 0; i--)
        {
            int j = g.NextInt(i + 1);
            (a[i], a[j]) = (a[j], a[i]);
        }
        return FromArray(a, n);
    }

    // ---------- data access ----------

    /// <summary>Copies the elements (row-major) to a managed array; T must match the dtype.</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeOf<T>() != DType && !(DType == DType.BF16 && typeof(T) == typeof(ushort)))
            throw new InvalidOperationException($"ToArray<{typeof(T).Name}>() on a {DType} tensor: cast with To() first");
        using var cpu = Device == Device.Cpu ? null : MoveTo(Device.Cpu);
        var src = cpu ?? this;
        var result = new T[Numel];
        if (result.Length == 0) return result;
        fixed (T* p = result)
        {
            var dst = new CpuStorageView(p, DType, Numel);
            CpuCopy.Copy((CpuStorage)src.Storage, src.Layout, dst.Storage, Layout.Contiguous(ShapeRef));
            dst.Free();
        }
        return result;
    }

    public float[] ToFloatArray() { using var t = To(DType.F32); return t.ToArray<float>(); }
    public double[] ToDoubleArray() { using var t = To(DType.F64); return t.ToArray<double>(); }
    public long[] ToLongArray() { using var t = To(DType.I64); return t.ToArray<long>(); }

    /// <summary>The single value of a one-element tensor, as double.</summary>
    public double Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs one element; shape is {Layout.ShapeString(ShapeRef)}");
        return ToDoubleArray()[0];
    }

    public T Item<T>() where T : unmanaged
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs one element; shape is {Layout.ShapeString(ShapeRef)}");
        return ToArray<T>()[0];
    }

    /// <summary>Moves (copies) to another device; returns a new handle on the same data when already there.</summary>
    public Tensor MoveTo(Device device)
    {
        if (device == Device) return Detach();
        var t = Empty(ShapeRef, DType, device);
        using var c = Contiguous();
        // Cross-device copies go through the device (non-CPU) backend, which knows how to read and write host memory.
        (device == Device.Cpu ? Backend : t.Backend).Copy(c.Storage, c.Layout, t.Storage, t.Layout);
        return t;
    }

    public override string ToString()
    {
        var s = $"Tensor({Layout.ShapeString(ShapeRef)}, {DType}, {Device}{(RequiresGrad ? ", requires_grad" : "")})";
        if (IsDisposed || Numel > 32) return s;
        var v = ToDoubleArray();
        return s + " [" + string.Join(", ", v.Select(x => x.ToString("G6"))) + "]";
    }

    /// <summary>Wraps caller-owned pinned memory as CPU storage for one copy.</summary>
    private readonly unsafe struct CpuStorageView(void* p, DType dtype, int n)
    {
        public CpuStorage Storage { get; } = CpuStorage.Wrap((byte*)p, dtype, n);
        public void Free() => Storage.Release();
    }
}
