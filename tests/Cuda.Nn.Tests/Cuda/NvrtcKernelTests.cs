// Every kernel file under native/cuda compiles with NVRTC to PTX for compute_80 and compute_90 and exports
// the kernels we launch by name. Runs wherever libnvrtc is found (CI installs Debian's libnvrtc11.2); no GPU
// is needed. Also the compiler's disk cache and its errors.
using System.Text.RegularExpressions;
using Cuda.Nn.Kernels.CudaNative;
using static Cuda.Nn.Tests.CudaNative.CudaTestSupport;

namespace Cuda.Nn.Tests.CudaNative;

public sealed partial class NvrtcKernelTests
{
    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(\w+)\s*\(")]
    private static partial Regex DirectEntry();

    [GeneratedRegex(@"extern\s+""C""\s+__global__\s+void\s+(\w+)_##S\s*\(")]
    private static partial Regex MacroEntry();

    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(")]
    private static partial Regex PtxEntry();

    public static TheoryData<string, string> FilesAndArchitectures()
    {
        var data = new TheoryData<string, string>();
        foreach (var f in KernelFiles())
            foreach (var a in Architectures) data.Add(f, a);
        return data;
    }

    /// <summary>Entry names declared by a source: plain ones, and NAME##S macros expanded per dtype suffix.</summary>
    private static HashSet<string> DeclaredEntries(string source)
    {
        var names = DirectEntry().Matches(source).Select(m => m.Groups[1].Value).ToHashSet();
        if (source.Contains("CUDANN_FOR_DTYPES(", StringComparison.Ordinal))
            foreach (Match m in MacroEntry().Matches(source))
                foreach (var d in NativeKernelSources.DTypeSuffixes) names.Add($"{m.Groups[1].Value}_{d}");
        return names;
    }

    [Theory]
    [MemberData(nameof(FilesAndArchitectures))]
    public void KernelFileCompilesToPtxWithEveryEntry(string file, string arch)
    {
        RequireNvrtc();
        var path = Path.Combine(NativeCudaDir, file);
        var result = new NvrtcCompiler(cacheDirectory: "").CompileFile(path, arch);
        Assert.False(result.FromCache);
        Assert.Contains(".target sm_" + arch["compute_".Length..], result.Ptx, StringComparison.Ordinal);

        var expected = NativeKernelSources.Kernels.TryGetValue(file, out var listed) ? listed.ToHashSet() : DeclaredEntries(File.ReadAllText(path));
        Assert.NotEmpty(expected);
        var entries = PtxEntry().Matches(result.Ptx).Select(m => m.Groups[1].Value).ToHashSet();
        var missing = expected.Except(entries).ToList();
        Assert.True(missing.Count == 0, $"{file} for {arch}: PTX lacks .entry {string.Join(", ", missing)} (has {string.Join(", ", entries)})");
        TestContext.Current.TestOutputHelper?.WriteLine($"{file} {arch}: {entries.Count} kernels, NVRTC {Nvrtc.Version.Major}.{Nvrtc.Version.Minor}");
    }

    [Fact]
    public void ManifestListsExactlyTheProductionFilesAndTheirKernels()
    {
        var onDisk = Directory.GetFiles(NativeCudaDir, "*.cu").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(onDisk, NativeKernelSources.Kernels.Keys.Order(StringComparer.Ordinal).ToList());
        foreach (var (file, kernels) in NativeKernelSources.Kernels)
        {
            var declared = DeclaredEntries(File.ReadAllText(Path.Combine(NativeCudaDir, file)));
            Assert.True(declared.SetEquals(kernels), $"{file}: source declares {string.Join(", ", declared.Order())} but the manifest lists {string.Join(", ", kernels.Order())}");
        }
    }

    [Fact]
    public void EmbeddedSourcesMatchTheFilesOnDisk()
    {
        var files = Directory.GetFiles(NativeCudaDir).Where(f => f.EndsWith(".cu", StringComparison.Ordinal) || f.EndsWith(".cuh", StringComparison.Ordinal)).ToList();
        Assert.Equal(files.Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal), NativeKernelSources.EmbeddedFiles().Order(StringComparer.Ordinal));
        foreach (var f in files) Assert.Equal(File.ReadAllText(f), NativeKernelSources.Read(Path.GetFileName(f)));
        var e = Assert.Throws<FileNotFoundException>(() => NativeKernelSources.Read("nope.cu"));
        Assert.Contains("nope.cu", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmbeddedKernelCompilesThroughTheCacheAndHitsItTheSecondTime()
    {
        RequireNvrtc();
        var dir = Path.Combine(Path.GetTempPath(), "cudann-nvrtc-test-" + Guid.NewGuid().ToString("N"));
        try
        {
            var compiler = new NvrtcCompiler(dir);
            var first = NativeKernelSources.Compile(compiler, "amp.cu", "compute_80");
            Assert.False(first.FromCache);
            Assert.NotNull(first.CachePath);
            Assert.True(File.Exists(first.CachePath));
            var second = NativeKernelSources.Compile(new NvrtcCompiler(dir), "amp.cu", "compute_80");
            Assert.True(second.FromCache);
            Assert.Equal(first.Ptx, second.Ptx);
            Assert.Equal(first.CachePath, second.CachePath);
            // Another architecture is another key; no temporary file survives a write.
            var other = NativeKernelSources.Compile(compiler, "amp.cu", "compute_90");
            Assert.False(other.FromCache);
            Assert.NotEqual(first.CachePath, other.CachePath);
            Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
            Assert.Equal(2, Directory.GetFiles(dir, "*.ptx").Length);

            // A damaged entry is a miss that the next compile repairs.
            File.WriteAllText(first.CachePath!, "garbage");
            var repaired = NativeKernelSources.Compile(compiler, "amp.cu", "compute_80");
            Assert.False(repaired.FromCache);
            Assert.Equal(first.Ptx, File.ReadAllText(first.CachePath!));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ConcurrentCompilersOfOneKeyAllSucceedAndAgree()
    {
        RequireNvrtc();
        var dir = Path.Combine(Path.GetTempPath(), "cudann-nvrtc-race-" + Guid.NewGuid().ToString("N"));
        try
        {
            var results = new NvrtcResult[4];
            Parallel.For(0, results.Length, i => results[i] = NativeKernelSources.Compile(new NvrtcCompiler(dir), "optim.cu", "compute_90"));
            Assert.All(results, r => Assert.Equal(results[0].Ptx, r.Ptx));
            Assert.Single(Directory.GetFiles(dir));
            Assert.Equal(results[0].Ptx, File.ReadAllText(Directory.GetFiles(dir)[0]));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void CompileErrorCarriesNvrtcsLog()
    {
        RequireNvrtc();
        var e = Assert.Throws<NvrtcCompileException>(() =>
            new NvrtcCompiler("").CompileToPtx("extern \"C\" __global__ void k(float* x) { x[0] = undefined_name; }", "broken.cu", "compute_80"));
        Assert.Contains("broken.cu", e.Message, StringComparison.Ordinal);
        Assert.Contains("undefined_name", e.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void ArchitectureErrorsNameTheArchitecture()
    {
        var a = Assert.Throws<ArgumentException>(() => new NvrtcCompiler("").CompileToPtx("", "x.cu", "sm_90"));
        Assert.Contains("sm_90", a.Message, StringComparison.Ordinal);
        RequireNvrtc();
        var n = Assert.Throws<NotSupportedException>(() => new NvrtcCompiler("").CompileToPtx("", "x.cu", "compute_999"));
        Assert.Contains("compute_999", n.Message, StringComparison.Ordinal);
        Assert.Contains("compute_80", n.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NvrtcSupportsTheTargetArchitectures()
    {
        RequireNvrtc();
        var archs = Nvrtc.SupportedArchs();
        Assert.Contains(80, archs);
        Assert.Contains(90, archs);
        Assert.True(Nvrtc.Version.Major >= 11, $"NVRTC {Nvrtc.Version}");
    }

    [Fact]
    public void ArchitectureForClampsToWhatNvrtcKnows()
    {
        int[] supported = [75, 80, 86, 89, 90];
        Assert.Equal("compute_90", NvrtcCompiler.ArchitectureFor(9, 0, supported));
        Assert.Equal("compute_86", NvrtcCompiler.ArchitectureFor(8, 7, supported));
        Assert.Equal("compute_90", NvrtcCompiler.ArchitectureFor(12, 0, supported));
        Assert.Throws<NotSupportedException>(() => NvrtcCompiler.ArchitectureFor(6, 0, supported));
    }

    [Fact]
    public void CacheKeyCoversSourceHeadersOptionsAndVersion()
    {
        NvrtcHeader[] h = [new("common.cuh", "int a;")];
        string[] o = ["--gpu-architecture=compute_80"];
        var key = NvrtcCompiler.CacheKey("src", "k.cu", h, o, 11, 8);
        Assert.Equal(key, NvrtcCompiler.CacheKey("src", "k.cu", [new("common.cuh", "int a;")], ["--gpu-architecture=compute_80"], 11, 8));
        Assert.NotEqual(key, NvrtcCompiler.CacheKey("src2", "k.cu", h, o, 11, 8));
        Assert.NotEqual(key, NvrtcCompiler.CacheKey("src", "k.cu", [new("common.cuh", "int b;")], o, 11, 8));
        Assert.NotEqual(key, NvrtcCompiler.CacheKey("src", "k.cu", h, ["--gpu-architecture=compute_90"], 11, 8));
        Assert.NotEqual(key, NvrtcCompiler.CacheKey("src", "k.cu", h, o, 12, 0));
        Assert.NotEqual(key, NvrtcCompiler.CacheKey("src", "k.cu", [], o, 11, 8));
    }

    [Fact]
    public void HeadersAreCollectedTransitivelyAndAMissingOneIsNamed()
    {
        var files = new Dictionary<string, string> { ["a.cuh"] = "#include \"b.cuh\"\n", ["b.cuh"] = "#pragma once\n" };
        var headers = NvrtcCompiler.CollectHeaders("#include \"a.cuh\"\n#include <ignored>\n", n => files.GetValueOrDefault(n));
        Assert.Equal(["a.cuh", "b.cuh"], headers.Select(x => x.IncludeName));
        var e = Assert.Throws<FileNotFoundException>(() => NvrtcCompiler.CollectHeaders("#include \"gone.cuh\"", _ => null));
        Assert.Contains("gone.cuh", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultCacheDirectoryFollowsXdg()
    {
        var dir = NvrtcCompiler.DefaultCacheDirectory();
        Assert.EndsWith(Path.Combine("cudann", "nvrtc"), dir, StringComparison.Ordinal);
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)) Assert.StartsWith(xdg, dir, StringComparison.Ordinal);
        else Assert.Contains(".cache", dir, StringComparison.Ordinal);
    }
}
