// Native kernels, cuBLAS and cuDNN on a real GPU against plain CPU references. Each test skips visibly
// where there is no libcuda.so.1 or no device (every machine this project has built on so far), so these
// bodies have never run: they are the GPU check waiting for a GPU.
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.CudaNative;
using static Cuda.Nn.Tests.CudaNative.CudaTestSupport;

namespace Cuda.Nn.Tests.CudaNative;

public sealed class CudaDeviceTests
{
    private static readonly Lazy<CudaContext> Context = new(() => new CudaContext(0));
    private static readonly Dictionary<string, CudaModule> Modules = [];
    private static readonly Lazy<FusedKernels> LazyFused = new(() => new FusedKernels(new CudaKernelLauncher(Context.Value, compiler: new NvrtcCompiler(""))));

    // Launches go through the library's own launch code, so these tests check it as well as the kernels.
    private static FusedKernels Fused
    {
        get
        {
            RequireNvrtc();
            return LazyFused.Value;
        }
    }

    private static CudaContext Gpu()
    {
        RequireGpu();
        Context.Value.MakeCurrent();
        return Context.Value;
    }

    private static string Arch()
    {
        var (major, minor) = Context.Value.Device.ComputeCapability;
        return NvrtcCompiler.ArchitectureFor(major, minor, Nvrtc.SupportedArchs());
    }

    private static CudaFunction Kernel(string file, string name)
    {
        lock (Modules)
        {
            if (!Modules.TryGetValue(file, out var module))
            {
                RequireNvrtc();
                module = CudaModule.LoadPtx(NativeKernelSources.Compile(new NvrtcCompiler(""), file, Arch()).Ptx);
                Modules[file] = module;
            }
            return module.GetFunction(name);
        }
    }

    private static float[] Random(int n, int seed, float scale = 1)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1) * scale).ToArray();
    }

    private static void Close(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double atol, double rtol, string what)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= atol + rtol * Math.Abs(expected[i]),
                $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void DriverWithoutADeviceSaysWhy()
    {
        if (!CudaDriver.IsAvailable) Assert.Skip("no libcuda.so.1 (set CUDANN_DRIVER_PATH to a driver library to run this without a GPU)");
        var why = CudaDriver.UnavailableReason();
        if (why is null) Assert.Skip("a device is present: DeviceReportsItself covers the driver");
        Assert.Contains("CUDA_ERROR", why!, StringComparison.Ordinal);
        Assert.True(CudaDriver.Version >= 11000, $"driver API version {CudaDriver.Version}");
        Assert.Equal("CUDA_ERROR_OUT_OF_MEMORY", CudaDriver.ErrorName(2));
        Assert.Equal("CUDA_ERROR_NO_DEVICE", CudaDriver.ErrorName(100));
        var e = Assert.Throws<CudaException>(() => new CudaContext(0));
        Assert.Contains("cuInit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceReportsItself()
    {
        var ctx = Gpu();
        Assert.True(CudaDriver.DeviceCount >= 1);
        Assert.False(string.IsNullOrWhiteSpace(ctx.Device.Name));
        Assert.True(ctx.Device.ComputeCapability.Major >= 5);
        Assert.True(ctx.Device.TotalMemory > 0);
        Assert.True(ctx.MemoryInfo().Free > 0);
    }

    [Fact]
    public void EveryProductionKernelLoadsOnTheDevice()
    {
        Gpu();
        foreach (var (file, kernels) in NativeKernelSources.Kernels)
            foreach (var k in kernels) Assert.Equal(k, Kernel(file, k).Name);
    }

    [Fact]
    public void SoftmaxForwardAndBackwardMatchTheCpu()
    {
        Gpu();
        const int rows = 37, cols = 1000;
        var x = Random(rows * cols, 1, 8);
        var dy = Random(rows * cols, 2);
        using var dx = CudaBuffer.From<float>(x);
        using var ddy = CudaBuffer.From<float>(dy);
        using var y = new CudaBuffer(rows * cols * 4L);
        using var gx = new CudaBuffer(rows * cols * 4L);
        Fused.SoftmaxForward(DType.F32, y.Pointer, dx.Pointer, rows, cols);
        Fused.SoftmaxBackward(DType.F32, gx.Pointer, ddy.Pointer, y.Pointer, rows, cols);
        var expectedY = new float[rows * cols];
        var expectedGx = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * cols, cols);
            double m = double.NegativeInfinity, s = 0, dot = 0;
            foreach (var v in row) m = Math.Max(m, v);
            foreach (var v in row) s += Math.Exp(v - m);
            for (int j = 0; j < cols; j++) expectedY[r * cols + j] = (float)(Math.Exp(row[j] - m) / s);
            for (int j = 0; j < cols; j++) dot += dy[r * cols + j] * (double)expectedY[r * cols + j];
            for (int j = 0; j < cols; j++) expectedGx[r * cols + j] = (float)(expectedY[r * cols + j] * (dy[r * cols + j] - dot));
        }
        Close(expectedY, y.ToArray<float>(), 1e-6, 1e-4, "softmax");
        Close(expectedGx, gx.ToArray<float>(), 1e-6, 1e-3, "softmax grad");
    }

    [Fact]
    public void CrossEntropyWithSmoothingAndIgnoredRowsMatchesTheCpu()
    {
        Gpu();
        const int rows = 9, cols = 10, ignore = -100;
        const float smoothing = 0.1f;
        var x = Random(rows * cols, 3, 4);
        long[] t = [0, 3, 9, ignore, 5, 5, 1, 2, 8];
        using var dx = CudaBuffer.From<float>(x);
        using var dt = CudaBuffer.From<long>(t);
        using var loss = new CudaBuffer(rows * 4);
        using var lse = new CudaBuffer(rows * 4);
        using var one = CudaBuffer.From<float>([1f]);
        using var grad = new CudaBuffer(rows * cols * 4);
        int valid = t.Count(v => v != ignore);
        Fused.CrossEntropyForward(DType.F32, loss.Pointer, lse.Pointer, dx.Pointer, dt.Pointer, rows, cols, ignore, smoothing);
        Fused.CrossEntropyBackward(DType.F32, grad.Pointer, dx.Pointer, lse.Pointer, dt.Pointer, one.Pointer, 0, 1f / valid, rows, cols, ignore, smoothing);
        var expectedLoss = new float[rows];
        var expectedGrad = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            if (t[r] == ignore) continue;
            var row = x.AsSpan(r * cols, cols);
            double m = double.NegativeInfinity, s = 0, sum = 0;
            foreach (var v in row) { m = Math.Max(m, v); sum += v; }
            foreach (var v in row) s += Math.Exp(v - m);
            double l = m + Math.Log(s);
            expectedLoss[r] = (float)(l - (1 - smoothing) * row[(int)t[r]] - smoothing / cols * sum);
            for (int j = 0; j < cols; j++)
                expectedGrad[r * cols + j] = (float)((Math.Exp(row[j] - l) - (j == t[r] ? 1 - smoothing : 0) - smoothing / cols) / valid);
        }
        Close(expectedLoss, loss.ToArray<float>(), 1e-5, 1e-5, "loss");
        Close(expectedGrad, grad.ToArray<float>(), 1e-6, 1e-4, "dlogits");
    }

    [Fact]
    public void LayerNormForwardAndBackwardMatchTheCpu()
    {
        Gpu();
        const int rows = 13, cols = 300;
        const float eps = 1e-5f;
        var x = Random(rows * cols, 4, 3).Select(v => v + 5).ToArray();
        var w = Random(cols, 5);
        var b = Random(cols, 6);
        var dy = Random(rows * cols, 7);
        using var dxIn = CudaBuffer.From<float>(x);
        using var dw = CudaBuffer.From<float>(w);
        using var db = CudaBuffer.From<float>(b);
        using var ddy = CudaBuffer.From<float>(dy);
        using var y = new CudaBuffer(rows * cols * 4);
        using var mean = new CudaBuffer(rows * 4);
        using var rstd = new CudaBuffer(rows * 4);
        using var gx = new CudaBuffer(rows * cols * 4);
        using var gw = new CudaBuffer(cols * 4);
        using var gb = new CudaBuffer(cols * 4);
        Fused.LayerNormForward(DType.F32, y.Pointer, mean.Pointer, rstd.Pointer, dxIn.Pointer, dw.Pointer, db.Pointer, rows, cols, eps);
        Fused.LayerNormBackward(DType.F32, gx.Pointer, gw.Pointer, gb.Pointer, ddy.Pointer, dxIn.Pointer, dw.Pointer, mean.Pointer, rstd.Pointer, rows, cols);

        var ey = new float[rows * cols];
        var egx = new float[rows * cols];
        var egw = new double[cols];
        var egb = new double[cols];
        for (int r = 0; r < rows; r++)
        {
            double mu = 0, var = 0;
            for (int j = 0; j < cols; j++) mu += x[r * cols + j];
            mu /= cols;
            for (int j = 0; j < cols; j++) var += Math.Pow(x[r * cols + j] - mu, 2);
            double rs = 1 / Math.Sqrt(var / cols + eps);
            double sg = 0, sgx = 0;
            for (int j = 0; j < cols; j++)
            {
                double xhat = (x[r * cols + j] - mu) * rs, g = dy[r * cols + j] * w[j];
                ey[r * cols + j] = (float)(xhat * w[j] + b[j]);
                sg += g;
                sgx += g * xhat;
                egw[j] += dy[r * cols + j] * xhat;
                egb[j] += dy[r * cols + j];
            }
            for (int j = 0; j < cols; j++)
            {
                double xhat = (x[r * cols + j] - mu) * rs;
                egx[r * cols + j] = (float)(rs * (dy[r * cols + j] * w[j] - sg / cols - xhat * sgx / cols));
            }
        }
        Close(ey, y.ToArray<float>(), 1e-4, 1e-4, "layernorm y");
        Close(egx, gx.ToArray<float>(), 1e-4, 1e-3, "layernorm dx");
        Close(egw.Select(v => (float)v).ToArray(), gw.ToArray<float>(), 1e-4, 1e-4, "layernorm dweight");
        Close(egb.Select(v => (float)v).ToArray(), gb.ToArray<float>(), 1e-4, 1e-4, "layernorm dbias");
    }

    [Fact]
    public void BiasGeluForwardF16MatchesTheCpu()
    {
        Gpu();
        const int rows = 5, channels = 64;
        var x = Random(rows * channels, 8, 3);
        var b = Random(channels, 9);
        using var dx = CudaBuffer.From<Half>(x.Select(v => (Half)v).ToArray());
        using var db = CudaBuffer.From<Half>(b.Select(v => (Half)v).ToArray());
        using var y = new CudaBuffer(rows * channels * 2);
        Fused.BiasActivationForward(DType.F16, y.Pointer, dx.Pointer, db.Pointer, rows * channels, channels, 1, BiasActivation.Gelu);
        var expected = new float[rows * channels];
        for (int i = 0; i < expected.Length; i++)
        {
            double v = (double)(Half)x[i] + (double)(Half)b[i % channels];
            expected[i] = (float)(0.5 * v * (1 + Kernels.Cpu.ScalarMath.Erf(v / Math.Sqrt(2))));
        }
        Close(expected, y.ToArray<Half>().Select(h => (float)h).ToArray(), 2e-3, 2e-3, "bias+gelu f16");
    }

    [Fact]
    public void AdamWAndNesterovSgdStepsMatchTheCpu()
    {
        Gpu();
        const int n = 1000;
        const float lr = 1e-2f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
        const long step = 3;
        var p = Random(n, 10);
        var g = Random(n, 11);
        var m = Random(n, 12, 0.1f);
        var v = Random(n, 13, 0.1f).Select(Math.Abs).ToArray();
        using var dp = CudaBuffer.From<float>(p);
        using var dg = CudaBuffer.From<float>(g);
        using var dm = CudaBuffer.From<float>(m);
        using var dv = CudaBuffer.From<float>(v);
        double stepSize = lr / (1 - Math.Pow(b1, step)), bc2 = Math.Sqrt(1 - Math.Pow(b2, step));
        Fused.AdamStep(DType.F32, dp.Pointer, dg.Pointer, dm.Pointer, dv.Pointer, n, lr, b1, b2, eps, wd, decoupled: true, step);
        var ep = new float[n];
        for (int i = 0; i < n; i++)
        {
            double pi = p[i] * (1 - lr * wd);
            double mi = b1 * m[i] + (1 - b1) * g[i], vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
            ep[i] = (float)(pi - stepSize * mi / (Math.Sqrt(vi) / bc2 + eps));
        }
        Close(ep, dp.ToArray<float>(), 1e-6, 1e-5, "adamw param");

        const float mu = 0.9f, sgdWd = 5e-4f, sgdLr = 0.1f;
        using var sp = CudaBuffer.From<float>(p);
        using var buf = CudaBuffer.From<float>(m);
        Fused.SgdStep(DType.F32, sp.Pointer, dg.Pointer, buf.Pointer, n, sgdLr, mu, 0, sgdWd, nesterov: true, firstStep: false);
        var es = new float[n];
        for (int i = 0; i < n; i++)
        {
            double gi = g[i] + sgdWd * p[i], bi = mu * m[i] + gi;
            es[i] = (float)(p[i] - sgdLr * (gi + mu * bi));
        }
        Close(es, sp.ToArray<float>(), 1e-6, 1e-5, "sgd param");
    }

    [Fact]
    public void UnscaleFlagsNonFiniteGradientsAndTheScaleBacksOff()
    {
        Gpu();
        using var grads = CudaBuffer.From<float>([2f, 4f, 8f]);
        using var inv = CudaBuffer.From<float>([0.5f]);
        using var flag = CudaBuffer.From<int>([0]);
        Fused.UnscaleCheck(DType.F32, grads.Pointer, 3, inv.Pointer, flag.Pointer);
        Assert.Equal([1f, 2f, 4f], grads.ToArray<float>());
        Assert.Equal(0, flag.ToArray<int>()[0]);

        using var bad = CudaBuffer.From<Half>([(Half)1, Half.PositiveInfinity]);
        Fused.UnscaleCheck(DType.F16, bad.Pointer, 2, inv.Pointer, flag.Pointer);
        Assert.Equal(1, flag.ToArray<int>()[0]);

        using var scale = CudaBuffer.From<float>([65536f]);
        using var tracker = CudaBuffer.From<int>([5]);
        Fused.UpdateScale(scale.Pointer, inv.Pointer, tracker.Pointer, flag.Pointer, 2f, 0.5f, 2000);
        Assert.Equal(32768f, scale.ToArray<float>()[0]);
        Assert.Equal(1f / 32768f, inv.ToArray<float>()[0]);
        Assert.Equal(0, tracker.ToArray<int>()[0]);
    }

    [Fact]
    public void CublasRowMajorGemmMatchesTheCpu()
    {
        Gpu();
        RequireLibrary(CudaLibrary.Cublas);
        const int M = 33, N = 17, K = 65;
        var a = Random(M * K, 14);
        var b = Random(K * N, 15);
        using var da = CudaBuffer.From<float>(a);
        using var db = CudaBuffer.From<float>(b);
        using var dc = new CudaBuffer(M * N * 4);
        using var blas = new Cublas();
        blas.Gemm(new RowMajorGemm(M, N, K), 1, da.Pointer, db.Pointer, 0, dc.Pointer, CudaDataType.R32F, CudaDataType.R32F,
            CublasComputeType.Compute32FPedantic);
        var expected = new float[M * N];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
            {
                double s = 0;
                for (int p = 0; p < K; p++) s += a[i * K + p] * (double)b[p * N + j];
                expected[i * N + j] = (float)s;
            }
        Close(expected, dc.ToArray<float>(), 1e-4, 1e-4, "cublas gemm");
    }

    [Fact]
    public void CudnnConvolutionForwardMatchesTheCpu()
    {
        Gpu();
        RequireLibrary(CudaLibrary.Cudnn);
        const int n = 2, c = 3, h = 7, w = 6, k = 4, r = 3, pad = 1, stride = 2;
        var x = Random(n * c * h * w, 16);
        var f = Random(k * c * r * r, 17);
        using var dnn = new Cudnn();
        nint xd = Cudnn.TensorDescriptor(CudnnDataType.Float, n, c, h, w);
        nint fd = Cudnn.FilterDescriptor(CudnnDataType.Float, k, c, r, r);
        nint cd = Cudnn.ConvolutionDescriptor(pad, pad, stride, stride, 1, 1, 1, math: CudnnMathType.Fma);
        var (on, oc, oh, ow) = Cudnn.ForwardOutputShape(cd, xd, fd);
        Assert.Equal((n, k, (h + 2 * pad - r) / stride + 1, (w + 2 * pad - r) / stride + 1), (on, oc, oh, ow));
        nint yd = Cudnn.TensorDescriptor(CudnnDataType.Float, on, oc, oh, ow);
        try
        {
            var algo = dnn.Algorithms(Cudnn.Pass.Forward, cd, xd, fd, yd)[0].Algo;
            long ws = dnn.WorkspaceSize(Cudnn.Pass.Forward, algo, cd, xd, fd, yd);
            using var work = ws > 0 ? new CudaBuffer(ws) : null;
            using var dx = CudaBuffer.From<float>(x);
            using var df = CudaBuffer.From<float>(f);
            using var dy = new CudaBuffer(on * oc * oh * ow * 4L);
            dnn.ConvolutionForward(cd, algo, xd, dx.Pointer, fd, df.Pointer, yd, dy.Pointer, work?.Pointer ?? 0, ws);
            var expected = new float[on * oc * oh * ow];
            for (int b = 0; b < n; b++)
                for (int o = 0; o < k; o++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            double s = 0;
                            for (int ci = 0; ci < c; ci++)
                                for (int u = 0; u < r; u++)
                                    for (int v = 0; v < r; v++)
                                    {
                                        int yi = i * stride - pad + u, xj = j * stride - pad + v;
                                        if (yi >= 0 && yi < h && xj >= 0 && xj < w)
                                            s += x[((b * c + ci) * h + yi) * w + xj] * (double)f[((o * c + ci) * r + u) * r + v];
                                    }
                            expected[((b * k + o) * oh + i) * ow + j] = (float)s;
                        }
            Close(expected, dy.ToArray<float>(), 1e-4, 1e-4, "cudnn conv");
        }
        finally
        {
            Cudnn.DestroyTensorDescriptor(xd);
            Cudnn.DestroyTensorDescriptor(yd);
            Cudnn.DestroyFilterDescriptor(fd);
            Cudnn.DestroyConvolutionDescriptor(cd);
        }
    }
}
