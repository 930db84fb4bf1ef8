// CUDA C -> PTX with NVRTC, cached on disk. The cache key hashes everything that changes the output
// (source, headers, options, NVRTC version), so a stale entry is impossible short of a hash collision,
// and entries are written to a temporary file then renamed, so a reader never sees half a file.
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Cuda.Nn.Kernels.CudaNative;

/// <summary>One compilation's output.</summary>
public sealed record NvrtcResult(string Ptx, string Log, bool FromCache, string? CachePath);

public sealed partial class NvrtcCompiler
{
    /// <summary>Options every compilation gets before the caller's own.</summary>
    public static readonly IReadOnlyList<string> DefaultOptions = ["--std=c++17"];

    /// <summary>Where PTX lands; null disables the disk cache.</summary>
    public string? CacheDirectory { get; }

    /// <param name="cacheDirectory">Cache folder; null for <see cref="DefaultCacheDirectory"/>, "" for no disk cache.</param>
    public NvrtcCompiler(string? cacheDirectory = null)
    {
        CacheDirectory = cacheDirectory switch
        {
            null => DefaultCacheDirectory(),
            "" => null,
            _ => cacheDirectory,
        };
    }

    /// <summary>$XDG_CACHE_HOME/cudann/nvrtc, else ~/.cache/cudann/nvrtc.</summary>
    public static string DefaultCacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Join(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Join(root, "cudann", "nvrtc");
    }

    [GeneratedRegex(@"^compute_[0-9]{2,3}$")]
    private static partial Regex VirtualArch();

    [GeneratedRegex(@"^\s*#\s*include\s+""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex QuotedInclude();

    /// <summary>
    /// The virtual architecture to compile for on a device of compute capability major.minor: compute_XY when
    /// this NVRTC knows it, else the newest one it knows below (the driver JIT-compiles PTX forward).
    /// </summary>
    public static string ArchitectureFor(int major, int minor, IReadOnlyList<int> supported)
    {
        int want = major * 10 + minor;
        var usable = supported.Where(a => a <= want).ToList();
        if (usable.Count == 0)
            throw new NotSupportedException($"compute capability {major}.{minor} is older than every architecture this NVRTC supports ({string.Join(", ", supported)})");
        return "compute_" + usable.Max();
    }

    /// <summary>Compiles <paramref name="source"/> to PTX for <paramref name="arch"/> (compute_80, compute_90, ...).</summary>
    public NvrtcResult CompileToPtx(string source, string sourceName, string arch, IReadOnlyList<NvrtcHeader>? headers = null, IReadOnlyList<string>? extraOptions = null)
    {
        if (!VirtualArch().IsMatch(arch))
            throw new ArgumentException($"architecture '{arch}' is not a virtual architecture: expected compute_XY (e.g. compute_80) so the result is PTX", nameof(arch));
        headers ??= [];
        var options = new List<string> { "--gpu-architecture=" + arch };
        options.AddRange(DefaultOptions);
        if (extraOptions is not null) options.AddRange(extraOptions);

        var (major, minor) = Nvrtc.Version;
        var key = CacheKey(source, sourceName, headers, options, major, minor);
        string? path = CacheDirectory is null ? null : Path.Join(CacheDirectory, $"{SafeStem(sourceName)}-{arch}-{key[..24]}.ptx");
        if (path is not null && TryReadCache(path) is { } cached) return new NvrtcResult(cached, "", true, path);

        int sm = int.Parse(arch.AsSpan("compute_".Length), System.Globalization.CultureInfo.InvariantCulture);
        var supported = Nvrtc.SupportedArchs();
        if (!supported.Contains(sm))
            throw new NotSupportedException($"NVRTC {major}.{minor} cannot target {arch}; it supports compute_{string.Join(", compute_", supported)}");

        var (ptx, _, log) = Nvrtc.Compile(source, sourceName, headers, options);
        if (path is not null && !TryWriteCache(path, ptx!)) path = null;
        return new NvrtcResult(ptx!, log, false, path);
    }

    /// <summary>Compiles a .cu file; headers it includes with quotes are read from beside it (recursively).</summary>
    public NvrtcResult CompileFile(string path, string arch, IReadOnlyList<string>? extraOptions = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var source = File.ReadAllText(path);
        var headers = CollectHeaders(source, name =>
        {
            var file = Path.Join(dir, name);
            return File.Exists(file) ? File.ReadAllText(file) : null;
        });
        return CompileToPtx(source, Path.GetFileName(path), arch, headers, extraOptions);
    }

    /// <summary>
    /// The quoted #include files of <paramref name="source"/> and of the headers they include, as NVRTC
    /// in-memory headers (so the cache key covers them). A missing header is an error naming it.
    /// </summary>
    public static IReadOnlyList<NvrtcHeader> CollectHeaders(string source, Func<string, string?> readHeader)
    {
        var found = new List<NvrtcHeader>();
        var pending = new Queue<string>(QuotedInclude().Matches(source).Select(m => m.Groups[1].Value));
        while (pending.TryDequeue(out var name))
        {
            if (found.Any(h => h.IncludeName == name)) continue;
            var text = readHeader(name) ?? throw new FileNotFoundException($"header \"{name}\" included by a CUDA source was not found", name);
            found.Add(new NvrtcHeader(name, text));
            foreach (Match m in QuotedInclude().Matches(text)) pending.Enqueue(m.Groups[1].Value);
        }
        return found;
    }

    /// <summary>SHA-256 (hex) over NVRTC's version, the options, the source name and text, and every header.</summary>
    public static string CacheKey(string source, string sourceName, IReadOnlyList<NvrtcHeader> headers, IReadOnlyList<string> options, int nvrtcMajor, int nvrtcMinor)
    {
        var sb = new StringBuilder();
        sb.Append("cudann-nvrtc-cache 1\0").Append(nvrtcMajor).Append('.').Append(nvrtcMinor).Append('\0');
        foreach (var o in options) sb.Append(o).Append('\0');
        sb.Append(sourceName).Append('\0').Append(source.Length).Append('\0').Append(source);
        foreach (var h in headers.OrderBy(h => h.IncludeName, StringComparer.Ordinal))
            sb.Append('\0').Append(h.IncludeName).Append('\0').Append(h.Source.Length).Append('\0').Append(h.Source);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static string SafeStem(string sourceName)
    {
        var stem = Path.GetFileNameWithoutExtension(sourceName);
        var chars = stem.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' ? c : '_').ToArray();
        return chars.Length == 0 ? "source" : new string(chars);
    }

    // A truncated or foreign file is treated as a miss and overwritten by the fresh compile.
    private static string? TryReadCache(string path)
    {
        try
        {
            if (!File.Exists(path)) return null;
            var text = File.ReadAllText(path);
            return text.Contains(".version", StringComparison.Ordinal) && text.Contains(".target", StringComparison.Ordinal) ? text : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // Write-then-rename in the same folder: rename(2) replaces atomically, so concurrent compilers of the
    // same key both succeed and readers see either no file or a whole one. An unwritable cache is not an error.
    private static bool TryWriteCache(string path, string ptx)
    {
        var dir = Path.GetDirectoryName(path)!;
        var tmp = Path.Join(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(tmp, ptx);
            File.Move(tmp, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { }
            return false;
        }
    }
}
