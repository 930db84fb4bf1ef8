// The recording test double (Native/trt_recorder*.c) built with the system C compiler into a shared library,
// once per test process, and loaded as the TensorRT shim through CUDANN_TRT_PATH. Tests that use it belong to
// the "TensorRT recorder" collection, which runs them one at a time (the recorder's log is process-wide).
using System.Diagnostics;
using System.Runtime.InteropServices;
using Cuda.Nn.Interop.TensorRT;
using static Cuda.Nn.Tests.Bindings.BindingTestSupport;

namespace Cuda.Nn.Tests.TensorRt;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TrtRecorderCollection
{
    public const string Name = "TensorRT recorder";
}

internal static unsafe class TrtRecorder
{
    public static string NativeDir => Path.Combine(Root, "tests", "Cuda.Nn.Tests", "Native");
    public static string ShimHeaderDir => Path.Combine(Root, "native", "tensorrt");
    public static string[] Sources => [Path.Combine(NativeDir, "trt_recorder.c"), Path.Combine(NativeDir, "trt_recorder_layers.c")];

    private static readonly Lazy<(string? Path, string? Why)> Built = new(Build);

    private static (string?, string?) Build()
    {
        if (Support.NativeCompilers.C() is not { } cc)
            return (null, "no C compiler (cc, gcc, clang or $CC) on PATH: the TensorRT recording test double (tests/Cuda.Nn.Tests/Native/trt_recorder.c) could not be built");
        string dir = Path.Combine(Path.GetTempPath(), $"cudann-trt-recorder-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        // Linux lets a loaded library's file go: remove the folder when the test process ends.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
        string so = Path.Combine(dir, "libcudann_trt_recorder.so");
        var (code, output) = Run(cc, $"-std=c99 -Wall -Wextra -Werror -pedantic -O1 -shared -fPIC -fvisibility=hidden -I \"{ShimHeaderDir}\" -o \"{so}\" " +
            string.Join(' ', Sources.Select(s => $"\"{s}\"")));
        if (code != 0) throw new InvalidOperationException($"{cc} could not build the recorder from {string.Join(", ", Sources)}:\n{output}");
        // Before the first TrtNative call, which loads the shim once per process.
        Environment.SetEnvironmentVariable(TrtLibrary.OverrideVariable, so);
        return (so, null);
    }

    /// <summary>The recorder library's path, loaded as the shim; skips the test visibly without a C compiler.</summary>
    public static string Require()
    {
        var (path, why) = Built.Value;
        if (path is null) Assert.Skip(why!);
        if (!TrtLibrary.TryLoad(out var error)) throw new InvalidOperationException(error);
        Assert.Equal(path, TrtLibrary.LoadedPath);
        Reset();
        return path;
    }

    private static nint Export(string name) => NativeLibrary.GetExport(TrtLibrary.Load(), name);

    public static void Reset() => ((delegate* unmanaged<void>)Export("cudann_trt_recorder_reset"))();

    /// <summary>The n-th shim call from now (1: the next) fails with <paramref name="message"/>.</summary>
    public static void FailCall(int n, string message)
    {
        fixed (byte* m = System.Text.Encoding.UTF8.GetBytes(message + "\0"))
            ((delegate* unmanaged<int, byte*, void>)Export("cudann_trt_recorder_fail_call"))(n, m);
    }

    public static string Log() => Marshal.PtrToStringUTF8((nint)((delegate* unmanaged<byte*>)Export("cudann_trt_recorder_log"))()) ?? "";

    public static string[] Lines() => Log().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The log's lines for one function (its name without cudann_trt_).</summary>
    public static string[] Lines(string function) => Lines().Where(l => l.StartsWith(function + " ", StringComparison.Ordinal)).ToArray();

    /// <summary>key=value pairs of a log line ("-> T5[1x16x32x32]" as "->").</summary>
    public static Dictionary<string, string> Fields(string line)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var parts = line.Split(' ');
        for (int i = 1; i < parts.Length; i++)
        {
            if (parts[i] == "->" && i + 1 < parts.Length) fields["->"] = parts[++i];
            else if (parts[i].IndexOf('=') is > 0 and var eq) fields.TryAdd(parts[i][..eq], parts[i][(eq + 1)..]);
        }
        return fields;
    }

    /// <summary>The FNV-1a (32-bit) checksum the recorder logs for weight bytes.</summary>
    public static string Fnv1a(ReadOnlySpan<float> values)
    {
        uint h = 2166136261;
        foreach (byte b in MemoryMarshal.AsBytes(values)) h = (h ^ b) * 16777619;
        return h.ToString("x8");
    }

    public static (int, string) Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"{file} {args} took over two minutes"); }
        return (p.ExitCode, stdout + stderr.Result);
    }
}
