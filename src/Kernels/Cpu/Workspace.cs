// Scratch memory for one kernel call, and the per-image body the conv paths run over a batch.
namespace Cuda.Nn.Kernels.Cpu;

/// <summary>A scratch buffer rented from CpuMemoryPool for the length of one kernel call (no fresh pages once warm).</summary>
internal readonly unsafe struct Workspace : IDisposable
{
    public readonly byte* Ptr;
    private readonly long _capacity;

    public Workspace(long bytes) { Ptr = bytes > 0 ? CpuMemoryPool.Rent(bytes, out _capacity) : null; }

    public static Workspace Of<T>(long elements) where T : unmanaged => new(elements * sizeof(T));

    public void Dispose() { if (Ptr != null) CpuMemoryPool.Return(Ptr, _capacity); }
}

internal unsafe delegate void ImageBody<T>(int chunk, int image, bool first, T* workspace) where T : unmanaged;
