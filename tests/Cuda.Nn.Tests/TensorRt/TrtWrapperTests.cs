// The C# wrappers against the recording test double: what each call hands the C API (as the recorder logs it),
// errors carrying the shim's message, disposal order and double disposal, and the missing-library error.
using Cuda.Nn.Interop.TensorRT;

namespace Cuda.Nn.Tests.TensorRt;

[Collection(TrtRecorderCollection.Name)]
public sealed class TrtWrapperTests
{
    private static float[] Ramp(int n, float scale) => Enumerable.Range(0, n).Select(i => (i % 17 - 8) * scale).ToArray();

    [Fact]
    public void BuildAndRunCallsReachTheCApiWithTheirArguments()
    {
        TrtRecorder.Require();
        using var logger = new Logger();
        using var builder = new Builder(logger);
        using var config = builder.CreateConfig();
        config.SetFlags(BuilderFlags.Fp16 | BuilderFlags.Bf16);
        config.SetWorkspace(1UL << 30);
        using var network = builder.CreateNetwork();
        var input = network.AddInput("input", TrtDataType.Float, [-1, 3, 32, 32]);
        float[] kernel = Ramp(16 * 3 * 3 * 3, 0.01f), bias = Ramp(16, 0.1f);
        var conv = network.AddConvolution("conv1", input, 16, 3, 3, kernel, bias, padH: 1, padW: 1);
        Assert.Equal([-1L, 16, 32, 32], conv.Dims);
        var relu6 = network.AddActivation("relu6", conv, Activation.Clip, 0, 6);
        var pooled = network.AddPooling("pool", relu6, PoolingKind.Average, 3, 3, 2, 2, 1, 1, countIncludePad: true);
        Assert.Equal([-1L, 16, 16, 16], pooled.Dims);
        var gap = network.AddReduce("gap", pooled, ReduceOp.Avg, 0b1100, keepDims: false);
        Assert.Equal([-1L, 16], gap.Dims);
        float[] fc = Ramp(10 * 16, 0.02f);
        var weight = network.AddConstant("fc.weight", [1, 10, 16], fc);
        var flat = network.AddShuffle("unsqueeze", gap, null, [0, 1, 16]);
        Assert.Equal([-1L, 1, 16], flat.Dims);
        var logits = network.AddMatMul("fc", flat, MatrixOp.None, weight, MatrixOp.Transpose);
        Assert.Equal([-1L, 1, 10], logits.Dims);
        var probs = network.AddSoftmax("softmax", logits, -1);
        network.MarkOutput(probs, "probs");
        var profile = builder.CreateProfile();
        profile.SetDimensions("input", [1, 3, 32, 32], [8, 3, 32, 32], [32, 3, 32, 32]);
        Assert.Equal(0, config.AddProfile(profile));

        string[] lines = TrtRecorder.Lines();
        Assert.Equal(["logger_create callback=none min_severity=2 -> L1", "builder_create logger=L1 -> B2", "config_create builder=B2 -> C3",
            "config_set_flags C3 flags=FP16,BF16,", "config_set_workspace C3 bytes=1073741824", "network_create builder=B2 explicit_batch -> N4",
            "network_add_input N4 name=input dtype=0 -> T5[-1x3x32x32]"], lines[..7]);
        var c = TrtRecorder.Fields(TrtRecorder.Lines("network_add_convolution").Single());
        Assert.Equal(("conv1", "T5[-1x3x32x32]", "16", "3x3", "1x1", "1x1", "1x1", "1"), (c["name"], c["input"], c["out_channels"], c["kernel"], c["stride"], c["pad"], c["dilation"], c["groups"]));
        Assert.Equal(("432", TrtRecorder.Fnv1a(kernel), "16"), (c["weights"], c["fnv"], c["bias"]));
        Assert.Contains($"bias=16 fnv={TrtRecorder.Fnv1a(bias)} ->", TrtRecorder.Lines("network_add_convolution").Single());
        Assert.Contains("kind=clip alpha=0 beta=6", TrtRecorder.Lines("network_add_activation").Single());
        Assert.Contains("kind=avg window=3x3 stride=2x2 pad=1x1 count_include_pad=1", TrtRecorder.Lines("network_add_pooling").Single());
        Assert.Contains("op=avg axes=0xc keep_dims=0", TrtRecorder.Lines("network_add_reduce").Single());
        Assert.Contains($"name=fc.weight dtype=0 count=160 fnv={TrtRecorder.Fnv1a(fc)}", TrtRecorder.Lines("network_add_constant").Single());
        Assert.Contains("op_a=none b=T", TrtRecorder.Lines("network_add_matmul").Single());
        Assert.Contains("op_b=transpose", TrtRecorder.Lines("network_add_matmul").Single());
        Assert.Contains("axis=2", TrtRecorder.Lines("network_add_softmax").Single());
        Assert.Contains("name=probs", TrtRecorder.Lines("network_mark_output").Single());
        Assert.Contains("input=input min=[1x3x32x32] opt=[8x3x32x32] max=[32x3x32x32]", TrtRecorder.Lines("profile_set_dims").Single());

        using var plan = builder.BuildSerialized(network, config);
        byte[] bytes = plan.ToArray();
        using var engine = Engine.Deserialize(logger, bytes);
        var io = engine.IO;
        Assert.Equal(2, io.Count);
        Assert.Equal(("input", TensorIOMode.Input, TrtDataType.Float), (io[0].Name, io[0].Mode, io[0].DataType));
        Assert.Equal([-1L, 3, 32, 32], io[0].Dims);
        Assert.Equal(("probs", TensorIOMode.Output), (io[1].Name, io[1].Mode));
        Assert.Equal([-1L, 1, 10], io[1].Dims);
        using var context = engine.CreateExecutionContext();
        context.SetInputShape("input", [4, 3, 32, 32]);
        context.SetTensorAddress("input", 0x7f0000001000);
        context.SetTensorAddress("probs", 0x7f0000002000);
        context.Enqueue(0x1234);
        string[] tail = TrtRecorder.Lines()[^4..];
        Assert.StartsWith("context_set_input_shape X", tail[0]);
        Assert.EndsWith(" input [4x3x32x32]", tail[0]);
        Assert.EndsWith(" input 0x7f0000001000", tail[1]);
        Assert.EndsWith(" probs 0x7f0000002000", tail[2]);
        Assert.EndsWith(" stream=0x1234", tail[3]);
    }

    [Fact]
    public void TimingCacheAndOnnxParserCallsAreRecorded()
    {
        TrtRecorder.Require();
        using var logger = new Logger();
        using var builder = new Builder(logger);
        using var config = builder.CreateConfig();
        byte[] cacheBytes = [1, 2, 3, 4, 5];
        using var cache = config.CreateTimingCache(cacheBytes);
        config.SetTimingCache(cache, ignoreMismatch: true);
        using (var serialized = cache.Serialize()) Assert.Equal(cacheBytes, serialized.ToArray());
        using var network = builder.CreateNetwork();
        using var parser = network.CreateOnnxParser(logger);
        parser.Parse([0x08, 0x07, 0x12, 0x00]);
        Assert.Contains("ignore_mismatch=1", TrtRecorder.Lines("config_set_timing_cache").Single());
        Assert.Contains("bytes=4 fnv=", TrtRecorder.Lines("parser_parse").Single());
        var e = Assert.Throws<TensorRtException>(() => parser.Parse([0x01, 0x02]));
        Assert.Equal(TrtStatus.ParseFailed, e.Status);
        Assert.Contains("cudann_trt_parser_parse: node -1 (): not an ONNX ModelProto", e.Message);
    }

    [Fact]
    public void FailuresCarryTheShimsMessageAndReachTheLogger()
    {
        TrtRecorder.Require();
        var messages = new List<(LogSeverity, string)>();
        using var logger = new Logger((s, m) => messages.Add((s, m)), LogSeverity.Warning);
        TrtRecorder.FailCall(1, "simulated: out of builder slots");
        var e = Assert.Throws<TensorRtException>(() => new Builder(logger));
        Assert.Equal(("Builder", TrtStatus.TensorrtFailed), (e.Function, e.Status));
        Assert.Equal("cudann_trt_builder_create: simulated: out of builder slots", e.NativeMessage);
        Assert.Equal("Builder failed (TensorrtFailed): cudann_trt_builder_create: simulated: out of builder slots", e.Message);
        Assert.Equal([(LogSeverity.Error, "simulated: out of builder slots")], messages);
        Assert.Null(logger.CallbackException);

        // The C side's own argument checks come through with their text.
        using var builder = new Builder(logger);
        using var network = builder.CreateNetwork();
        var input = network.AddInput("x", TrtDataType.Float, [1, 3, 8, 8]);
        var bad = Assert.Throws<TensorRtException>(() => network.AddConvolution("c", input, 4, 3, 3, new float[10]));
        Assert.Equal(TrtStatus.InvalidArgument, bad.Status);
        Assert.Contains("kernel_count 10 is not out_channels * (C / groups) * kernel_h * kernel_w = 108", bad.Message);
        var broadcast = Assert.Throws<TensorRtException>(() => network.AddElementwise("add", input, network.AddInput("y", TrtDataType.Float, [1, 4, 8, 8]), ElementwiseOp.Sum));
        Assert.Contains("do not broadcast on axis 1", broadcast.NativeMessage);
        Assert.Throws<ArgumentException>(() => network.AddInput("z", TrtDataType.Float, new long[9]));

        // A failed deserialisation destroys the runtime it made and keeps the shim's message.
        var plan = Assert.Throws<TensorRtException>(() => Engine.Deserialize(logger, [1, 2, 3]));
        Assert.Contains("not a plan the recorder wrote", plan.NativeMessage);
        Assert.Matches(@"^runtime_destroy R\d+$", TrtRecorder.Lines()[^1]);

        // A callback that throws does not cross into native code; the logger keeps the exception.
        using var throwing = new Logger((_, _) => throw new InvalidOperationException("callback bug"), LogSeverity.Error);
        TrtRecorder.FailCall(1, "second failure");
        Assert.Throws<TensorRtException>(() => new Builder(throwing));
        Assert.Equal("callback bug", throwing.CallbackException?.Message);
    }

    [Fact]
    public void DisposingAnOwnerDisposesWhatItOwnsFirstAndDisposeIsIdempotent()
    {
        TrtRecorder.Require();
        var logger = new Logger();
        var builder = new Builder(logger);
        var config = builder.CreateConfig();
        var network = builder.CreateNetwork();
        network.MarkOutput(network.AddActivation("r", network.AddInput("x", TrtDataType.Float, [1, 4]), Activation.Relu), "y");
        var plan = builder.BuildSerialized(network, config);
        var engine = Engine.Deserialize(logger, plan.Span);
        var context = engine.CreateExecutionContext();
        int before = TrtRecorder.Lines().Length;

        logger.Dispose();
        string[] destroyed = TrtRecorder.Lines()[before..];
        // Newest first: the engine's context, the engine, its runtime; the builder's network and config, the builder; the logger last.
        Assert.Equal(["context_destroy", "engine_destroy", "runtime_destroy", "network_destroy", "config_destroy", "builder_destroy", "logger_destroy"],
            destroyed.Select(l => l[..l.IndexOf(' ')]));
        Assert.True(context.IsDisposed && engine.IsDisposed && network.IsDisposed && config.IsDisposed && builder.IsDisposed && logger.IsDisposed);
        Assert.False(plan.IsDisposed); // host memory does not depend on the builder
        plan.Dispose();

        int after = TrtRecorder.Lines().Length;
        foreach (var o in new TrtObject[] { context, engine, network, config, builder, logger, plan }) o.Dispose();
        Assert.Equal(after, TrtRecorder.Lines().Length);
        Assert.Throws<ObjectDisposedException>(() => network.AddInput("late", TrtDataType.Float, [1]));
        Assert.Throws<ObjectDisposedException>(() => new Builder(logger));

        // Disposing a child alone destroys only it and takes it out of its owner.
        using var l2 = new Logger();
        using var b2 = new Builder(l2);
        var n2 = b2.CreateNetwork();
        n2.Dispose();
        b2.Dispose();
        Assert.Equal(["network_destroy", "builder_destroy"], TrtRecorder.Lines()[^2..].Select(l => l[..l.IndexOf(' ')]));
    }

    [Fact]
    public void AMissingShimIsOneErrorNamingTheLibraryAndTheSearch()
    {
        string empty = Directory.CreateTempSubdirectory("cudann-trt-root").FullName;
        try
        {
            var env = new Dictionary<string, string?> { ["HOME"] = empty };
            var (handle, path, error) = TrtLibrary.LoadUncached(k => env.GetValueOrDefault(k), empty);
            Assert.Equal((0, null), (handle, path));
            Assert.Contains("libcudann_trt.so (Cuda.Nn's TensorRT shim", error);
            Assert.Contains("was not found in", error);
            Assert.Contains(AppContext.BaseDirectory.TrimEnd('/'), error);
            Assert.Contains("Set CUDANN_TRT_PATH to the file", error);

            env[TrtLibrary.OverrideVariable] = Path.Combine(empty, "nope.so");
            (_, _, error) = TrtLibrary.LoadUncached(k => env.GetValueOrDefault(k), empty);
            Assert.Equal($"CUDANN_TRT_PATH={Path.Combine(empty, "nope.so")}: no such file", error);

            // A loadable library that is not our shim is refused by name.
            string libm = new[] { "/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6" }.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("no libm.so.6 to stand in for a foreign library");
            env[TrtLibrary.OverrideVariable] = libm;
            (handle, _, error) = TrtLibrary.LoadUncached(k => env.GetValueOrDefault(k), empty);
            Assert.Equal(0, handle);
            Assert.Equal($"{libm} has no cudann_trt_api_version: it is not a Cuda.Nn TensorRT shim", error);
        }
        finally
        {
            Directory.Delete(empty, true);
        }
    }
}
