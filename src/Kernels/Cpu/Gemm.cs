// Row-major GEMM in the BLIS/GotoBLAS style. Loop nest (outermost first):
//   jc: NC columns of C           -- B super-block packed once, shared by all threads (lives in L3)
//   kb: up to KB depth            -- bounds the packed-B buffer
//   [parallel: tasks = row ranges (or column ranges when that balances better)]
//   pc: KC depth                  -- beta applies on the first slice only
//   ic: MC rows                   -- A block packed per thread (lives in L2)
//   jr / ir: NR / MR micro-panels -- micro-kernel; B micro-panel stays in L1 across ir
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

/// <summary>Instruction set a GEMM micro-kernel uses.</summary>
public enum GemmIsa { Auto, Avx512, Avx2, Scalar }

public static unsafe class Gemm
{
    /// <summary>Below this many multiply-adds a GEMM runs on the calling thread only (dispatch would cost more).</summary>
    internal const long ParallelMinWork = 1L << 20;

    // The shared packed-B buffer's upper bound (CpuKernelOptions.GemmMaxPackedB, 4 MiB of floats by default) sets
    // the k super-block KB: every row chunk streams the whole super-block, so it must stay resident in L3.

    /// <summary>Which micro-kernel Auto resolves to on this CPU ("avx512", "avx2" or "scalar").</summary>
    public static string ActiveKernel => Name(Resolve(GemmIsa.Auto));

    /// <summary>The family the options ask for (Auto = runtime dispatch); set it through CpuKernelOptions.GemmIsa.</summary>
    public static GemmIsa ForcedIsa => CpuKernelOptions.Current.GemmIsa;

    /// <summary>Whether this CPU can run the given kernel family.</summary>
    public static bool IsSupported(GemmIsa isa) => isa switch
    {
        GemmIsa.Auto or GemmIsa.Scalar => true,
        GemmIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmIsa.Avx512 => Avx512F.IsSupported,
        _ => false,
    };

    private static GemmIsa Resolve(GemmIsa isa) => isa != GemmIsa.Auto ? isa
        : IsSupported(GemmIsa.Avx512) ? GemmIsa.Avx512
        : IsSupported(GemmIsa.Avx2) ? GemmIsa.Avx2
        : GemmIsa.Scalar;

    private static string Name(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => "avx512",
        GemmIsa.Avx2 => "avx2",
        _ => "scalar",
    };

    /// <summary>
    /// Micro-kernel and cache blocking for one ISA. MC is a multiple of MR, NC of NR. Edge[v - 1] is a
    /// kernel that computes only the first v * EdgeWidth columns of an NR-wide panel, so a narrow last
    /// panel (or a small n) does not pay for the full tile.
    /// </summary>
    internal readonly struct Config(delegate*<int, float*, float*, float*, nint, float, float, void> kernel, int mr, int nr, int kc, int mc, int nc,
        delegate*<int, float*, float*, float*, nint, float, float, void>[]? edge = null, int edgeWidth = 0)
    {
        public readonly delegate*<int, float*, float*, float*, nint, float, float, void> Kernel = kernel;
        public readonly int MR = mr, NR = nr, KC = kc, MC = mc, NC = nc;
        public readonly delegate*<int, float*, float*, float*, nint, float, float, void>[]? Edge = edge;
        public readonly int EdgeWidth = edgeWidth;
    }

    private static readonly delegate*<int, float*, float*, float*, nint, float, float, void>[] Avx512Edge =
        [&GemmMicroKernels.Avx512_6x64_n16, &GemmMicroKernels.Avx512_6x64_n32, &GemmMicroKernels.Avx512_6x64_n48, &GemmMicroKernels.Avx512_6x64];

    private static readonly delegate*<int, float*, float*, float*, nint, float, float, void>[] Avx2Edge =
        [&GemmMicroKernels.Avx2_6x16_n8, &GemmMicroKernels.Avx2_6x16];

    // Measured on Zen 5 (see docs/gemm.md): a 6x64 tile (24 zmm accumulators, 10 loads per 24 FMAs)
    // beat 14x32, 12x32, 8x48 and 9x48. The kc x 64 B micro-panel (96 KiB at KC = 384) streams from L2,
    // which has the bandwidth for it; the MC x KC A block (180 x 384 x 4 = 270 KiB) stays in L2; the
    // packed B block is shared by both threads in L3. A larger KC means fewer read-modify-write passes over C.
    internal static Config ConfigFor(GemmIsa isa) => isa switch
    {
        GemmIsa.Avx512 => new Config(&GemmMicroKernels.Avx512_6x64, 6, 64, 384, 6 * 30, 4096, Avx512Edge, 16),
        GemmIsa.Avx2 => new Config(&GemmMicroKernels.Avx2_6x16, 6, 16, 256, 6 * 48, 4096, Avx2Edge, 8),
        _ => new Config(&GemmMicroKernels.Scalar_4x8, 4, 8, 256, 4 * 32, 4096),
    };

    /// <summary>
    /// Row-major C[m,n] = alpha * op(A) * op(B) + beta * C. op(A) is [m,k]: A is stored [m,k] with row
    /// stride lda, or when transA [k,m] with row stride lda. Same for B ([k,n] or, when transB, [n,k]).
    /// beta == 0 means C is overwritten (NaNs in C ignored).
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        int threads = (long)m * n * k < ParallelMinWork ? 1 : CpuWorkers.ThreadCount;
        var options = CpuKernelOptions.Current;
        var forced = options.GemmIsa;
        var tryConfig = options.GemmConfig;
        if ((m == 1 || n == 1) && tryConfig is null && forced == GemmIsa.Auto)
        {
            GemmVector.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }
        if (n <= 32 && m >= 2 * n && tryConfig is null)
        {
            SgemmNarrow(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            return;
        }
        Config cfg = tryConfig ?? ConfigFor(Resolve(forced));
        SgemmContext ctx = SgemmContext.Current ??= new SgemmContext();
        ctx.Run(cfg, threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    [ThreadStatic] private static AlignedBuffer? _narrowC;

    /// <summary>
    /// Narrow C (n much smaller than m and than the 64-wide tile): compute C^T = op(B)^T op(A)^T, whose
    /// rows are long, into a scratch buffer with full tiles, then add its transpose into C.
    /// </summary>
    private static void SgemmNarrow(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        float* ct = (_narrowC ??= new AlignedBuffer()).Get((nint)n * m);
        Sgemm(!transB, !transA, n, m, k, 1f, b, ldb, a, lda, 0f, ct, m);
        for (int i = 0; i < m; i++)
        {
            float* ci = c + (nint)i * ldc;
            if (beta == 0f) for (int j = 0; j < n; j++) ci[j] = alpha * ct[(nint)j * m + i];
            else for (int j = 0; j < n; j++) ci[j] = alpha * ct[(nint)j * m + i] + beta * ci[j];
        }
    }

    /// <summary>Same as Sgemm for float64 (simple blocked and vectorised; see GemmDouble.cs).</summary>
    public static void Dgemm(bool transA, bool transB, int m, int n, int k, double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc)
    {
        CheckArgs(transA, transB, m, n, k, lda, ldb, ldc);
        GemmDouble.Run(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    internal static void CheckArgs(bool transA, bool transB, int m, int n, int k, int lda, int ldb, int ldc)
    {
        if (m < 0) throw new ArgumentOutOfRangeException(nameof(m), m, "must be non-negative");
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be non-negative");
        if (k < 0) throw new ArgumentOutOfRangeException(nameof(k), k, "must be non-negative");
        if (lda < (transA ? m : k)) throw new ArgumentOutOfRangeException(nameof(lda), lda, $"must be at least {(transA ? m : k)}");
        if (ldb < (transB ? k : n)) throw new ArgumentOutOfRangeException(nameof(ldb), ldb, $"must be at least {(transB ? k : n)}");
        if (ldc < n) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"must be at least {n}");
    }

    private static void ScaleC(int m, int n, float beta, float* c, int ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            Span<float> row = new(c + (nint)i * ldc, n);
            if (beta == 0f) row.Clear();
            else System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row);
        }
    }

    /// <summary>64-byte aligned native buffer that grows on demand and is freed with its owner.</summary>
    internal sealed class AlignedBuffer
    {
        public float* Ptr;
        private nint _capacity;

        public float* Get(nint floats)
        {
            if (floats > _capacity)
            {
                if (Ptr != null) NativeMemory.AlignedFree(Ptr);
                Ptr = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
                _capacity = floats;
            }
            return Ptr;
        }

        ~AlignedBuffer()
        {
            if (Ptr != null) NativeMemory.AlignedFree(Ptr);
        }
    }

    /// <summary>Per-thread packed-A block, reused by every GEMM that thread works on.</summary>
    [ThreadStatic] private static AlignedBuffer? _packA;

    internal static float* PackABuffer(nint floats) => (_packA ??= new AlignedBuffer()).Get(floats);

    /// <summary>Per-thread single B micro-panel for the small-m path (packed just before use, stays in L1/L2).</summary>
    [ThreadStatic] private static AlignedBuffer? _packBPanel;

    /// <summary>
    /// Arguments of one SGEMM call plus cached delegates, one instance per calling thread, so a call
    /// allocates nothing after warm-up besides the worker pool's own bookkeeping.
    /// </summary>
    private sealed class SgemmContext
    {
        [ThreadStatic] public static SgemmContext? Current;

        private readonly AlignedBuffer _packB = new();
        private readonly Action<int> _packBody, _computeBody;
        private Config _cfg;
        private bool _transA, _transB, _inlineB;
        private int _m, _k, _jc, _nc, _kb, _kbLen, _ncPanels, _packChunks, _mChunks, _nChunks;
        private float _alpha, _beta;
        private float* _a, _b, _c, _bp;
        private nint _lda, _ldb, _ldc;

        public SgemmContext()
        {
            _packBody = PackChunk;
            _computeBody = Compute;
        }

        public void Run(in Config cfg, int threads, bool transA, bool transB, int m, int n, int k, float alpha,
            float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        {
            _cfg = cfg; _transA = transA; _transB = transB; _m = m; _k = k; _alpha = alpha; _beta = beta;
            _a = a; _b = b; _c = c; _lda = lda; _ldb = ldb; _ldc = ldc;
            int mPanels = (m + cfg.MR - 1) / cfg.MR;
            // Small m (one MC block): each task packs its B micro-panels just before use, so B goes
            // through packing while in L1/L2 instead of a round trip through a large shared buffer in L3.
            _inlineB = m <= cfg.MC;
            for (int jc = 0; jc < n; jc += cfg.NC)
            {
                _jc = jc;
                _nc = Math.Min(cfg.NC, n - jc);
                _ncPanels = (_nc + cfg.NR - 1) / cfg.NR;
                int kbMax = _inlineB ? k : Math.Max(cfg.KC, CpuKernelOptions.Current.GemmMaxPackedB / (_ncPanels * cfg.NR) / cfg.KC * cfg.KC);
                ChooseSplit(threads, mPanels, _ncPanels);
                for (int kb = 0; kb < k; kb += kbMax)
                {
                    _kb = kb;
                    _kbLen = Math.Min(kbMax, k - kb);
                    if (!_inlineB)
                    {
                        _bp = _packB.Get((nint)_ncPanels * cfg.NR * _kbLen);
                        _packChunks = Math.Min(threads, _ncPanels);
                        if (_packChunks > 1) CpuWorkers.For(_packChunks, _packBody); else PackChunk(0);
                    }
                    int tasks = _mChunks * _nChunks;
                    if (tasks > 1) CpuWorkers.For(tasks, _computeBody); else Compute(0);
                }
            }
        }

        /// <summary>
        /// Splits the work along M or N, whichever leaves less idle time. There are several chunks per
        /// thread, handed out dynamically, so a thread delayed by another process does not hold up the
        /// call: M chunks are at most one MC block (so they cost no extra B traffic), N chunks at least
        /// four NR panels (each repacks the small A).
        /// </summary>
        private void ChooseSplit(int threads, int mPanels, int nPanels)
        {
            _mChunks = _nChunks = 1;
            if (threads <= 1) return;
            // Share of the threads' time doing work when panels are split into `threads` equal ranges.
            double mEff = (double)mPanels / (threads * ((mPanels + threads - 1) / threads));
            double nEff = (double)nPanels / (threads * ((nPanels + threads - 1) / threads));
            // Prefer M when B is shared (an N split repacks A per task); prefer N when each task packs
            // its own B panels anyway (an M split would then pack B twice).
            bool preferM = _inlineB ? mEff > nEff * 1.03 : mEff >= nEff * 0.97;
            if (preferM || nPanels < threads)
            {
                int blocks = (mPanels * _cfg.MR + _cfg.MC - 1) / _cfg.MC;
                _mChunks = Math.Min(mPanels, (blocks + threads - 1) / threads * threads);
            }
            else
                _nChunks = Math.Min(nPanels, threads * Math.Clamp(nPanels / (4 * threads), 1, 4));
        }

        /// <summary>Packs this chunk's share of B micro-panels for every KC slice of the current super-block.</summary>
        private void PackChunk(int chunk)
        {
            int p0 = (int)((long)_ncPanels * chunk / _packChunks), p1 = (int)((long)_ncPanels * (chunk + 1) / _packChunks);
            int kc = _cfg.KC, nr = _cfg.NR;
            for (int pc = 0; pc < _kbLen; pc += kc)
            {
                int kcLen = Math.Min(kc, _kbLen - pc);
                float* dst = _bp + (nint)pc * _ncPanels * nr;
                GemmPacking.PackB(_transB, _b, _ldb, _jc, _nc, _kb + pc, kcLen, nr, _cfg.EdgeWidth, p0, p1, dst);
            }
        }

        private void Compute(int task)
        {
            Config cfg = _cfg;
            int mr = cfg.MR, nr = cfg.NR;
            int mPanels = (_m + mr - 1) / mr;
            int mi = task / _nChunks, ni = task % _nChunks;
            int row0 = (int)((long)mPanels * mi / _mChunks) * mr;
            int row1 = Math.Min(_m, (int)((long)mPanels * (mi + 1) / _mChunks) * mr);
            int jr0 = (int)((long)_ncPanels * ni / _nChunks), jr1 = (int)((long)_ncPanels * (ni + 1) / _nChunks);
            if (row0 >= row1 || jr0 >= jr1) return;
            float* pa = PackABuffer((nint)cfg.MC * cfg.KC + GemmPacking.PackASlack);
            float* bLocal = _inlineB ? (_packBPanel ??= new AlignedBuffer()).Get((nint)cfg.KC * nr) : null;
            float* tmp = stackalloc float[mr * nr];
            var kernel = cfg.Kernel;
            for (int pc = 0; pc < _kbLen; pc += cfg.KC)
            {
                int kcLen = Math.Min(cfg.KC, _kbLen - pc);
                int kAbs = _kb + pc;
                float beta = kAbs == 0 ? _beta : 1f;
                float* bBlock = _inlineB ? null : _bp + (nint)pc * _ncPanels * nr;
                for (int ic = row0; ic < row1; ic += cfg.MC)
                {
                    int mc = Math.Min(cfg.MC, row1 - ic);
                    GemmPacking.PackA(_transA, _a, _lda, ic, mc, kAbs, kcLen, mr, pa);
                    for (int jr = jr0; jr < jr1; jr++)
                    {
                        float* bPanel;
                        if (_inlineB)
                        {
                            GemmPacking.PackB(_transB, _b, _ldb, _jc, _nc, kAbs, kcLen, nr, cfg.EdgeWidth, jr, jr + 1, bLocal - (nint)jr * nr * kcLen);
                            bPanel = bLocal;
                        }
                        else bPanel = bBlock + (nint)jr * kcLen * nr;
                        int cols = Math.Min(nr, _nc - jr * nr);
                        float* cCol = _c + _jc + jr * nr;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            float* aPanel = pa + (nint)ir * kcLen;
                            float* cp = cCol + (nint)(ic + ir) * _ldc;
                            int rows = Math.Min(mr, mc - ir);
                            if (rows == mr && cols == nr)
                                kernel(kcLen, aPanel, bPanel, cp, _ldc, _alpha, beta);
                            else
                            {
                                var edge = cols < nr && cfg.Edge is { } e ? e[(cols - 1) / cfg.EdgeWidth] : kernel;
                                if (rows == mr && cols % Math.Max(1, cfg.EdgeWidth) == 0 && cfg.Edge is not null)
                                    edge(kcLen, aPanel, bPanel, cp, _ldc, _alpha, beta); // exact narrow tile: write C directly
                                else
                                {
                                    edge(kcLen, aPanel, bPanel, tmp, nr, 1f, 0f);
                                    MergeEdge(tmp, nr, cp, _ldc, rows, cols, _alpha, beta);
                                }
                            }
                        }
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void MergeEdge(float* tmp, int nr, float* c, nint ldc, int rows, int cols, float alpha, float beta)
        {
            for (int r = 0; r < rows; r++)
            {
                float* t = tmp + r * nr;
                float* cr = c + r * ldc;
                if (beta == 0f) for (int j = 0; j < cols; j++) cr[j] = alpha * t[j];
                else for (int j = 0; j < cols; j++) cr[j] = alpha * t[j] + beta * cr[j];
            }
        }
    }
}
