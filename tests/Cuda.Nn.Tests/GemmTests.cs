using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

// The kernel options (GEMM family) and thread count are process-wide, so these tests run alone.
[CollectionDefinition(nameof(GemmCollection), DisableParallelization = true)]
public sealed class GemmCollection;

[Collection(nameof(GemmCollection))]
public unsafe class GemmTests
{
    private static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (2, 3, 4), (17, 33, 65), (1, 70, 45), (70, 1, 45), (1, 1, 300), (14, 32, 256),
        (15, 33, 257), (13, 31, 7), (29, 65, 1), (64, 64, 64), (65, 70, 600), (300, 257, 129), (3, 1000, 400), (100, 10, 50), (700, 20, 30),
    ];

    public static TheoryData<GemmIsa, int> IsaThreads()
    {
        var data = new TheoryData<GemmIsa, int>();
        foreach (GemmIsa isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2, GemmIsa.Scalar, GemmIsa.Auto })
            if (Gemm.IsSupported(isa))
                foreach (int t in new[] { 1, 2 }) data.Add(isa, t);
        return data;
    }

    private static void With(GemmIsa isa, int threads, Action body)
    {
        using var options = CpuKernelOptions.Use(CpuKernelOptions.Current with { GemmIsa = isa, Threads = threads });
        body();
    }

    [Theory]
    [MemberData(nameof(IsaThreads))]
    public void SgemmMatchesReference(GemmIsa isa, int threads) => With(isa, threads, () =>
    {
        int seed = 1;
        foreach (var (m, n, k) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    CheckSgemm(ta, tb, m, n, k, 1f, 0f, pad: 0, seed++);
                    CheckSgemm(ta, tb, m, n, k, -0.75f, 0.5f, pad: 3, seed++);
                }
    });

    [Theory]
    [MemberData(nameof(IsaThreads))]
    public void SgemmAlphaBetaAndDegenerateSizes(GemmIsa isa, int threads) => With(isa, threads, () =>
    {
        CheckSgemm(false, false, 20, 40, 30, 2f, 1f, pad: 1, seed: 7);
        CheckSgemm(true, false, 20, 40, 30, 0.5f, -2f, pad: 5, seed: 8);
        CheckSgemm(false, true, 20, 40, 0, 1f, 0.25f, pad: 0, seed: 9);  // k = 0: C = beta * C
        CheckSgemm(false, false, 20, 40, 0, 1f, 0f, pad: 2, seed: 10);   // k = 0, beta = 0: zeros despite NaN
        CheckSgemm(false, false, 20, 40, 30, 0f, 3f, pad: 0, seed: 11);  // alpha = 0
        CheckSgemm(false, false, 0, 40, 30, 1f, 0f, pad: 0, seed: 12);
        CheckSgemm(false, false, 20, 0, 30, 1f, 0f, pad: 0, seed: 13);
    });

    [Fact]
    public void SgemmLargeBlocksCrossNcAndPackedBLimits() => With(GemmIsa.Auto, 2, () =>
    {
        CheckSgemm(false, false, 2, 4100, 300, 1f, 0.5f, pad: 0, seed: 21); // n > NC
        CheckSgemm(true, false, 700, 40, 50, 1f, 0f, pad: 0, seed: 23);    // m > 2 * MC
        // A small packed-B bound forces several k super-blocks of the shared packed B.
        using (CpuKernelOptions.Use(CpuKernelOptions.Current with { GemmMaxPackedB = 1 << 16 }))
        {
            CheckSgemm(false, true, 200, 300, 1000, 1f, 0.5f, pad: 1, seed: 22);
            CheckSgemm(true, false, 200, 300, 1000, 1f, 0f, pad: 0, seed: 24);
        }
    });

    [Theory]
    [MemberData(nameof(IsaThreads))]
    public void SgemmMatrixVectorShapes(GemmIsa isa, int threads) => With(isa, threads, () =>
    {
        int seed = 300;
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                CheckSgemm(ta, tb, 1, 3000, 400, 1f, 0f, pad: 2, seed++);   // big enough to run in parallel
                CheckSgemm(ta, tb, 3000, 1, 400, -1f, 0.5f, pad: 2, seed++);
            }
    });

    [Fact]
    public void SgemmRejectsBadArguments()
    {
        nint x = 0; // never dereferenced: argument checks come first
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, false, -1, 1, 1, 1f, (float*)x, 1, (float*)x, 1, 0f, (float*)x, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(false, false, 2, 2, 3, 1f, (float*)x, 2, (float*)x, 2, 0f, (float*)x, 2));
        Assert.Contains(Gemm.ActiveKernel, new[] { "avx512", "avx2", "scalar" });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void DgemmMatchesReference(int threads) => With(GemmIsa.Auto, threads, () =>
    {
        int seed = 100;
        foreach (var (m, n, k) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    CheckDgemm(ta, tb, m, n, k, 1.0, 0.0, pad: 0, seed++);
                    CheckDgemm(ta, tb, m, n, k, 1.5, -0.5, pad: 2, seed++);
                }
        CheckDgemm(false, false, 5, 6, 0, 1.0, 2.0, pad: 1, seed: 1);
        CheckDgemm(true, true, 5, 6, 7, 0.0, 0.0, pad: 1, seed: 2);
    });

    private static void CheckSgemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad, int seed)
    {
        var rng = new Random(seed);
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        float[] a = Fill(rng, (ta ? k : m) * lda + 1), b = Fill(rng, (tb ? n : k) * ldb + 1);
        float[] c = Fill(rng, m * ldc + 1);
        if (beta == 0f) Array.Fill(c, float.NaN);
        float[] c0 = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = c)
            Gemm.Sgemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        string what = $"{Gemm.ForcedIsa} t={CpuWorkers.ThreadCount} ta={ta} tb={tb} {m}x{n}x{k} alpha={alpha} beta={beta} pad={pad}";
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, scale = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                    sum += av * bv;
                    scale += Math.Abs(av * bv);
                }
                double cOld = beta == 0f ? 0 : c0[i * ldc + j];
                double want = alpha * sum + beta * cOld;
                double tol = 1e-5 * (Math.Abs(alpha) * scale + Math.Abs(beta * cOld)) + 1e-30;
                double got = c[i * ldc + j];
                if (!(Math.Abs(got - want) <= tol))
                    Assert.Fail($"{what}: C[{i},{j}] = {got}, want {want} (tol {tol})");
            }
        // Padding columns of C must be untouched.
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++)
                Assert.True(c[i * ldc + j].Equals(c0[i * ldc + j]), $"{what}: padding C[{i},{j}] was written");
    }

    private static void CheckDgemm(bool ta, bool tb, int m, int n, int k, double alpha, double beta, int pad, int seed)
    {
        var rng = new Random(seed);
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        double[] a = FillD(rng, (ta ? k : m) * lda + 1), b = FillD(rng, (tb ? n : k) * ldb + 1);
        double[] c = FillD(rng, m * ldc + 1);
        if (beta == 0.0) Array.Fill(c, double.NaN);
        double[] c0 = (double[])c.Clone();
        fixed (double* pa = a, pb = b, pc = c)
            Gemm.Dgemm(ta, tb, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, scale = 0;
                for (int p = 0; p < k; p++)
                {
                    double prod = (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                    sum += prod;
                    scale += Math.Abs(prod);
                }
                double cOld = beta == 0.0 ? 0 : c0[i * ldc + j];
                double want = alpha * sum + beta * cOld;
                double tol = 1e-12 * (Math.Abs(alpha) * scale + Math.Abs(beta * cOld)) + 1e-300;
                double got = c[i * ldc + j];
                if (!(Math.Abs(got - want) <= tol))
                    Assert.Fail($"Dgemm t={CpuWorkers.ThreadCount} ta={ta} tb={tb} {m}x{n}x{k}: C[{i},{j}] = {got}, want {want}");
            }
    }

    private static float[] Fill(Random rng, int count)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static double[] FillD(Random rng, int count)
    {
        var x = new double[count];
        for (int i = 0; i < count; i++) x[i] = rng.NextDouble() * 2 - 1;
        return x;
    }
}
