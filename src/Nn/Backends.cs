// Maps a device to the backend that runs ops on it.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn;

public static class Backends
{
    private static readonly Dictionary<Device, IBackend> Registered = new() { [Device.Cpu] = CpuBackend.Instance };
    private static readonly Lock Gate = new();

    /// <summary>Registers a backend for a device (the GPU backends call this when they start).</summary>
    public static void Register(IBackend backend)
    {
        lock (Gate) Registered[backend.Device] = backend;
    }

    public static IBackend For(Device device)
    {
        lock (Gate)
        {
            if (Registered.TryGetValue(device, out var b)) return b;
        }
        throw new InvalidOperationException($"no backend is available for device {device}: only {string.Join(", ", Registered.Keys)} are present on this machine");
    }

    public static IReadOnlyList<Device> Available
    {
        get { lock (Gate) return Registered.Keys.ToList(); }
    }
}
