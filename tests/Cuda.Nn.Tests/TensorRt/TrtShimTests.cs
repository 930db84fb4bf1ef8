// The C boundary itself: cudann_trt.h compiles as C99 and as C++; the shim (native/tensorrt/cudann_trt.cpp)
// compiles against TensorRT 10's headers where they are (skipping visibly, with how to get them, where not)
// and exports exactly the header's functions; the recording test double exports them too; the hand-written
// public enums and API version hold the header's values. The drift test of the generated bindings is the
// cudann_trt case of GeneratedBindingsTests.
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Cuda.Nn.BindingGen;
using Cuda.Nn.Interop.TensorRT;
using static Cuda.Nn.Tests.Bindings.BindingTestSupport;

namespace Cuda.Nn.Tests.TensorRt;

[Collection(TrtRecorderCollection.Name)]
public sealed partial class TrtShimTests
{
    private static string Header => Path.Combine(TrtRecorder.ShimHeaderDir, "cudann_trt.h");
    private static string Shim => Path.Combine(TrtRecorder.ShimHeaderDir, "cudann_trt.cpp");

    /// <summary>Every function the generated bindings import: the header's whole API.</summary>
    private static SortedSet<string> HeaderFunctions() =>
        new(typeof(TrtLibrary).Assembly.GetType("Cuda.Nn.Interop.TensorRT.TrtNative", throwOnError: true)!
            .GetMethods(BindingFlags.Static | BindingFlags.NonPublic)
            .Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null).Select(m => m.Name), StringComparer.Ordinal);

    /// <summary>
    /// TensorRT 10's include folder: CUDANN_TRT_INCLUDE, TensorRT_ROOT/include, the Debian/Ubuntu package's folder, or the
    /// unpacked NVIDIA/TensorRT include/ this project's machines keep under /var/cache/cudann-trt/VERSION/include.
    /// </summary>
    private static (string? Dir, string Looked) TensorRtInclude()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("CUDANN_TRT_INCLUDE") is { Length: > 0 } env) candidates.Add(env);
        if (Environment.GetEnvironmentVariable("TensorRT_ROOT") is { Length: > 0 } root) candidates.Add(Path.Combine(root, "include"));
        candidates.Add("/usr/include/x86_64-linux-gnu");
        if (Directory.Exists("/var/cache/cudann-trt"))
            candidates.AddRange(Directory.GetDirectories("/var/cache/cudann-trt").OrderDescending(StringComparer.Ordinal).Select(d => Path.Combine(d, "include")));
        return (candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "NvInfer.h")) && File.Exists(Path.Combine(d, "NvOnnxParser.h"))),
            string.Join(", ", candidates));
    }

    [Fact]
    public void HeaderCompilesAsC99AndAsCxx()
    {
        string dir = Directory.CreateTempSubdirectory("cudann-trt-header").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "use.c"), "#include \"cudann_trt.h\"\nint main(void) { cudann_trt_tensor t = 0; (void)t; return CUDANN_TRT_STATUS_OK; }\n");
            int compiled = 0;
            if (Support.NativeCompilers.C() is { } cc)
            {
                var (code, output) = TrtRecorder.Run(cc, $"-std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I \"{TrtRecorder.ShimHeaderDir}\" \"{Path.Combine(dir, "use.c")}\"");
                Assert.True(code == 0, $"{cc} -std=c99 rejects {Header}:\n{output}");
                compiled++;
            }
            if (Support.NativeCompilers.Cxx() is { } cxx)
            {
                var (code, output) = TrtRecorder.Run(cxx, $"-x c++ -std=c++17 -Wall -Wextra -Werror -fsyntax-only -I \"{TrtRecorder.ShimHeaderDir}\" \"{Path.Combine(dir, "use.c")}\"");
                Assert.True(code == 0, $"{cxx} -std=c++17 rejects {Header}:\n{output}");
                compiled++;
            }
            if (compiled == 0) Assert.Skip("no C or C++ compiler on PATH: cudann_trt.h was not compiled");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void ShimCompilesAgainstTensorRtHeadersAndExportsExactlyTheHeadersFunctions()
    {
        string? cxx = Support.NativeCompilers.Cxx();
        if (cxx is null) Assert.Skip("no C++ compiler (g++, c++, clang++ or $CXX) on PATH: the TensorRT shim was not compiled");
        var (trt, looked) = TensorRtInclude();
        if (trt is null)
            Assert.Skip($"TensorRT 10 headers (NvInfer.h, NvOnnxParser.h) not found in {looked}: {Shim} was not compiled. Set CUDANN_TRT_INCLUDE to " +
                "a TensorRT 10 include folder (a TensorRT install, or include/ of github.com/NVIDIA/TensorRT at a v10 tag)");
        var (cuda, missing) = HeaderLocator.Resolve("cuda-runtime", Root);
        if (cuda is null) Assert.Skip($"NvInfer.h includes cuda_runtime_api.h, and {missing}: {Shim} was not compiled");
        string? nm = FindOnPath("nm");
        if (nm is null) Assert.Skip("nm (binutils) not on PATH: the shim's exports cannot be listed");
        string dir = Directory.CreateTempSubdirectory("cudann-trt-shim").FullName;
        try
        {
            // A shared library with TensorRT's symbols left undefined (no libnvinfer here): it links, it cannot load.
            string so = Path.Combine(dir, TrtLibrary.FileName);
            var (code, output) = TrtRecorder.Run(cxx, $"-std=c++17 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden -I \"{TrtRecorder.ShimHeaderDir}\" " +
                $"-isystem \"{trt}\" -isystem \"{cuda}\" -o \"{so}\" \"{Shim}\"");
            Assert.True(code == 0, $"{cxx} could not compile {Shim} against {trt}:\n{output}");
            (code, output) = TrtRecorder.Run(nm, $"-D \"{so}\"");
            Assert.True(code == 0, output);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
            var exported = new SortedSet<string>(lines.Where(p => p.Length == 3 && p[1] == "T" && p[2].StartsWith("cudann_trt_", StringComparison.Ordinal)).Select(p => p[2]), StringComparer.Ordinal);
            Assert.Equal(HeaderFunctions(), exported);
            // It calls into TensorRT itself, not into something else of the same name.
            var undefined = lines.Where(p => p.Length == 2 && p[0] == "U").Select(p => p[1]).ToHashSet();
            Assert.Contains("getInferLibVersion", undefined);
            Assert.Contains("createInferBuilder_INTERNAL", undefined);
            Assert.Contains("createNvOnnxParser_INTERNAL", undefined);
            TestContext.Current.TestOutputHelper?.WriteLine($"compiled {Shim} against {trt} and {cuda}: {exported.Count} functions exported");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    [Fact]
    public void RecorderExportsEveryHeaderFunction()
    {
        TrtRecorder.Require();
        var missing = HeaderFunctions().Where(f => !NativeLibrary.TryGetExport(TrtLibrary.Load(), f, out _)).ToList();
        Assert.True(missing.Count == 0, "the recorder lacks: " + string.Join(", ", missing));
    }

    [Fact]
    public void PublicEnumsAndApiVersionHoldTheHeadersValues()
    {
        var native = typeof(TrtLibrary).Assembly.GetType("Cuda.Nn.Interop.TensorRT.TrtNative", true)!;
        (Type Public, string Generated)[] pairs =
        [
            (typeof(TrtStatus), "CudannTrtStatus"), (typeof(LogSeverity), "CudannTrtSeverity"), (typeof(BuilderFlags), "CudannTrtBuilderFlag"),
            (typeof(TrtDataType), "CudannTrtDtype"), (typeof(Activation), "CudannTrtActivation"), (typeof(ElementwiseOp), "CudannTrtElementwise"),
            (typeof(PoolingKind), "CudannTrtPooling"), (typeof(ReduceOp), "CudannTrtReduce"), (typeof(MatrixOp), "CudannTrtMatrixOp"),
            (typeof(UnaryOp), "CudannTrtUnary"), (typeof(TensorIOMode), "CudannTrtIoMode"),
        ];
        var generatedEnums = native.GetNestedTypes(BindingFlags.NonPublic).Where(t => t.IsEnum).Select(t => t.Name).Order().ToList();
        Assert.Equal(pairs.Select(p => p.Generated).Order(), generatedEnums);
        foreach (var (pub, name) in pairs)
        {
            var gen = native.GetNestedType(name, BindingFlags.NonPublic)!;
            static SortedDictionary<string, long> Members(Type t) =>
                new(Enum.GetNames(t).ToDictionary(n => n, n => Convert.ToInt64(Enum.Parse(t, n))), StringComparer.Ordinal);
            Assert.Equal(Members(gen), Members(pub));
        }
        var define = ApiVersionDefine().Match(File.ReadAllText(Header));
        Assert.True(define.Success, $"{Header} has no #define CUDANN_TRT_API_VERSION");
        int headerVersion = int.Parse(define.Groups[1].Value);
        Assert.True(headerVersion == TrtLibrary.ApiVersion, $"{Header} says CUDANN_TRT_API_VERSION {headerVersion}, TrtLibrary.ApiVersion is {TrtLibrary.ApiVersion}");
    }

    [GeneratedRegex(@"^#define CUDANN_TRT_API_VERSION (\d+)$", RegexOptions.Multiline)]
    private static partial Regex ApiVersionDefine();
}
