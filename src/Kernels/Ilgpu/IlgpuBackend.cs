// The ILGPU backend: every op of IBackend as an ILGPU kernel over an Accelerator (ILGPU's CPU accelerator in
// tests, its CUDA accelerator on a GPU). Storages are byte buffers; kernels address them by dtype code and
// strides, so views run without a gather copy. Ops are serialised by one lock: the stream is not thread-safe
// and the CPU accelerator runs one kernel at a time anyway.
using Cuda.Nn.Kernels.Cpu;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Cuda.Nn.Kernels.Ilgpu;

public sealed partial class IlgpuBackend : IBackend, IDisposable
{
    private readonly Context _context;
    private readonly Lock _gate = new();

    public Accelerator Accelerator { get; }
    public Device Device { get; }
    public string Name { get; }
    internal IlgpuMemoryPool Pool { get; }
    /// <summary>Device bytes held by live tensors now, and at most since the last ResetPeakMemory.</summary>
    public long LiveBytes => Pool.LiveBytes;
    public long PeakLiveBytes => Pool.PeakLiveBytes;
    public void ResetPeakMemory() => Pool.ResetPeak();
    internal IlgpuKernels K { get; }

    /// <summary>Kernels compiled so far on this accelerator (each once per process).</summary>
    public int LoadedKernelCount => K.Loaded;
    private AcceleratorStream Stream => Accelerator.DefaultStream;

    private IlgpuBackend(Context context, Accelerator accelerator, int index)
    {
        _context = context;
        Accelerator = accelerator;
        Device = new Device(DeviceKind.Ilgpu, index);
        Name = $"ilgpu-{accelerator.AcceleratorType.ToString().ToLowerInvariant()} ({accelerator.Name})";
        Pool = new IlgpuMemoryPool(accelerator, _gate);
        K = new IlgpuKernels(accelerator);
    }

    /// <summary>
    /// ILGPU's CPU accelerator, sized for a small machine: it emulates every group thread with an OS thread, so
    /// the default device (hundreds of threads) thrashes two cores. Warps of 32 as on NVIDIA GPUs, two per group:
    /// 64 threads, the GEMM's 8 x 8 groups and the reductions' 64-wide trees.
    /// </summary>
    public static IlgpuBackend CreateCpu(int index = 0)
    {
        var device = new CPUDevice(32, 2, 1);
        var context = Context.Create(b => b.Assertions().CPU(device).EnableAlgorithms());
        var acc = context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        return new IlgpuBackend(context, acc, index);
    }

    private static int _resolverSet;

    /// <summary>
    /// ILGPU binds the driver as "libcuda.so", which driver-only machines lack (they ship libcuda.so.1): map any
    /// cuda import of the ILGPU assembly to libcuda.so.1 first. Unverified on a GPU machine so far.
    /// </summary>
    private static void ResolveLibCuda()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _resolverSet, 1) != 0) return;
        try
        {
            System.Runtime.InteropServices.NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, (name, _, _) =>
                name.Contains("cuda", StringComparison.OrdinalIgnoreCase) && !name.Contains("blas", StringComparison.OrdinalIgnoreCase)
                    && System.Runtime.InteropServices.NativeLibrary.TryLoad("libcuda.so.1", out var h) ? h : IntPtr.Zero);
        }
        catch (InvalidOperationException) { } // someone else already set one for ILGPU
    }

    /// <summary>ILGPU's CUDA accelerator for the first CUDA device, or null (with the reason) when there is none.</summary>
    public static IlgpuBackend? TryCreateCuda(int index, out string reason)
    {
        Context? context = null;
        try
        {
            ResolveLibCuda();
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
            var devices = context.GetCudaDevices();
            if (devices.Count == 0) { context.Dispose(); reason = "no CUDA device visible to ILGPU"; return null; }
            var acc = devices[0].CreateAccelerator(context);
            reason = "";
            return new IlgpuBackend(context, acc, index);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            context?.Dispose();
            reason = $"ILGPU could not start CUDA: {e.Message}";
            return null;
        }
    }

    /// <summary>ILGPU's CUDA accelerator when ILGPU sees a GPU, else its CPU accelerator.</summary>
    public static IlgpuBackend CreateBest(int index = 0) => TryCreateCuda(index, out _) ?? CreateCpu(index);

    public Storage Allocate(DType dtype, int length, bool zero = false)
    {
        var s = new IlgpuStorage(this, dtype, length);
        if (zero) lock (_gate) s.Bytes.MemSetToZero(Stream);
        return s;
    }

    /// <summary>Waits for every queued kernel.</summary>
    public void Synchronize() { lock (_gate) Stream.Synchronize(); }

    public void Dispose()
    {
        Pool.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
    }

    private IlgpuStorage S(Storage s) => s is IlgpuStorage d && ReferenceEquals(d.Backend, this)
        ? d : throw new ArgumentException($"expected storage of {Device} ({Name}), got {s.Device}");

    private static NotSupportedException Unsupported(string op, DType dt) => new($"ilgpu backend: {op} does not support {dt}");

    // ---------- layouts to kernel structs ----------

    /// <summary>Merges dims that are contiguous in every operand and drops size-1 dims; kernels take at most 6.</summary>
    internal static (Shape6 Shape, Strides6[] Strides) Map(int[] shape, params Layout[] layouts)
    {
        var sh = new List<int>(shape.Length);
        var st = new List<int>[layouts.Length];
        for (int k = 0; k < layouts.Length; k++) st[k] = new(shape.Length);
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue;
            bool merge = sh.Count > 0;
            for (int k = 0; k < layouts.Length && merge; k++) merge = st[k][^1] == layouts[k].Strides[i] * shape[i];
            if (merge)
            {
                sh[^1] *= shape[i];
                for (int k = 0; k < layouts.Length; k++) st[k][^1] = layouts[k].Strides[i];
            }
            else
            {
                sh.Add(shape[i]);
                for (int k = 0; k < layouts.Length; k++) st[k].Add(layouts[k].Strides[i]);
            }
        }
        if (sh.Count > 6) throw new NotSupportedException($"ilgpu backend: views of shape {Layout.ShapeString(shape)} need {sh.Count} dims after merging; kernels take at most 6");
        var d = new int[6];
        int pad = 6 - sh.Count;
        for (int i = 0; i < 6; i++) d[i] = i < pad ? 1 : sh[i - pad];
        var shape6 = new Shape6 { D0 = d[0], D1 = d[1], D2 = d[2], D3 = d[3], D4 = d[4], D5 = d[5] };
        var strides = new Strides6[layouts.Length];
        for (int k = 0; k < layouts.Length; k++)
        {
            var s = new int[6];
            for (int i = pad; i < 6; i++) s[i] = st[k][i - pad];
            strides[k] = new Strides6 { S0 = s[0], S1 = s[1], S2 = s[2], S3 = s[3], S4 = s[4], S5 = s[5], Offset = layouts[k].Offset };
        }
        return (shape6, strides);
    }

    private static Layout Flat(int n, int offset = 0) => new([n], [1], offset);

    // ---------- copies (device, host to device, device to host) ----------

    public void Copy(Storage src, Layout srcLayout, Storage dst, Layout dstLayout)
    {
        if (!srcLayout.Shape.AsSpan().SequenceEqual(dstLayout.Shape))
            throw new ArgumentException($"copy between shapes {Layout.ShapeString(srcLayout.Shape)} and {Layout.ShapeString(dstLayout.Shape)}");
        if (srcLayout.Numel == 0) return;
        if (src is CpuStorage hs) { Upload(hs, srcLayout, S(dst), dstLayout); return; }
        if (dst is CpuStorage hd) { Download(S(src), srcLayout, hd, dstLayout); return; }
        if (src is IlgpuStorage other && !ReferenceEquals(other.Backend, this))
        {
            // Another accelerator: through host memory (no peer-to-peer path yet).
            var host = new CpuStorage(src.DType, srcLayout.Numel);
            try
            {
                var dense = Layout.Contiguous(srcLayout.Shape);
                other.Backend.Copy(src, srcLayout, host, dense);
                Upload(host, dense, S(dst), dstLayout);
            }
            finally { host.Release(); }
            return;
        }
        lock (_gate) DeviceCopy(S(src), srcLayout, S(dst), dstLayout);
    }

    private void DeviceCopy(IlgpuStorage s, Layout sl, IlgpuStorage d, Layout dl)
    {
        int n = sl.Numel;
        if (n == 0) return;
        int es = s.DType.SizeOf();
        if (s.DType == d.DType && sl.IsContiguous && dl.IsContiguous)
        {
            s.Bytes.SubView((long)sl.Offset * es, (long)n * es).CopyTo(Stream, d.Bytes.SubView((long)dl.Offset * es, (long)n * es));
            return;
        }
        var (shape, st) = Map(sl.Shape, sl, dl);
        K.Copy(Stream, n, s.Bytes, (int)s.DType, st[0], d.Bytes, (int)d.DType, st[1], shape, es);
    }

    private unsafe void Upload(CpuStorage h, Layout hl, IlgpuStorage d, Layout dl)
    {
        int n = hl.Numel, es = h.DType.SizeOf();
        CpuStorage? dense = null;
        if (!hl.IsContiguous)
        {
            dense = new CpuStorage(h.DType, n);
            CpuBackend.Instance.Copy(h, hl, dense, Layout.Contiguous(hl.Shape));
        }
        try
        {
            byte* p = dense != null ? dense.Pointer : h.Pointer + (long)hl.Offset * es;
            lock (_gate)
            {
                var staging = new IlgpuStorage(this, h.DType, n);
                try
                {
                    staging.Bytes.SubView(0, (long)n * es).CopyFromCPU(Stream, ref *p, (long)n * es);
                    Stream.Synchronize(); // the host block may be freed as soon as we return
                    DeviceCopy(staging, Layout.Contiguous(hl.Shape), d, dl);
                }
                finally { staging.Release(); }
            }
        }
        finally { dense?.Release(); }
    }

    private unsafe void Download(IlgpuStorage s, Layout sl, CpuStorage h, Layout hl)
    {
        int n = sl.Numel, es = s.DType.SizeOf();
        var host = new CpuStorage(s.DType, n);
        try
        {
            lock (_gate)
            {
                var dense = Dense(s, sl, out long off);
                try
                {
                    dense.Bytes.SubView(off * es, (long)n * es).CopyToCPU(Stream, ref *host.Pointer, (long)n * es);
                    Stream.Synchronize();
                }
                finally { dense.Release(); }
            }
            CpuBackend.Instance.Copy(host, Layout.Contiguous(sl.Shape), h, hl);
        }
        finally { host.Release(); }
    }

    /// <summary>The view as contiguous elements of its own dtype: the storage itself (a new reference) with the
    /// view's offset when already contiguous, else a fresh copy at offset 0. Call under the lock.</summary>
    private IlgpuStorage Dense(IlgpuStorage s, Layout l, out long offset)
    {
        if (l.IsContiguous) { s.AddRef(); offset = l.Offset; return s; }
        var d = new IlgpuStorage(this, s.DType, l.Numel);
        DeviceCopy(s, l, d, Layout.Contiguous(l.Shape));
        offset = 0;
        return d;
    }

    /// <summary>A contiguous copy of the view converted to dtype (always a fresh storage). Call under the lock.</summary>
    private IlgpuStorage Converted(IlgpuStorage s, Layout l, DType dtype)
    {
        var d = new IlgpuStorage(this, dtype, l.Numel);
        DeviceCopy(s, l, d, Layout.Contiguous(l.Shape));
        return d;
    }

    public void Fill(Storage dst, Layout layout, double value)
    {
        var d = S(dst);
        int n = layout.Numel;
        if (n == 0) return;
        var (shape, st) = Map(layout.Shape, layout);
        long iv = d.DType == DType.I64 ? (long)value : d.DType == DType.I32 ? (int)value : 0;
        lock (_gate) K.Fill(Stream, n, d.Bytes, (int)d.DType, st[0], shape, value, iv);
    }
}
