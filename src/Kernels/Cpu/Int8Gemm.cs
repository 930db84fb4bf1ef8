// Int8 GEMM for quantized inference: C[M, N] (int32) = A[M, K] (uint8 activations) x B (int8 weights, given as
// [N, K] rows, one per output channel). B is packed once into groups of four k per output column, the layout
// VPDPBUSD consumes: one instruction multiplies 4 u8 x s8 pairs per int32 lane and adds them to the
// accumulator. .NET 10 exposes VPDPBUSD only in its 256-bit AVX-VNNI form (AvxVnni), so the kernel works on
// 8 output columns per vector; without AVX-VNNI a scalar loop gives the same integers.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Cuda.Nn.Kernels.Cpu;

/// <summary>Int8 weights packed for Int8Gemm: K rounded up to 4, N up to 16, zero padding.</summary>
public sealed class PackedInt8Weights
{
    public int N { get; }
    public int K { get; }
    internal int KPadded { get; }
    internal int NPadded { get; }
    /// <summary>[KPadded / 4][NPadded][4] bytes.</summary>
    internal sbyte[] Data { get; }
    /// <summary>Sum over k of each output column's weights (for the activation zero point).</summary>
    public int[] ColumnSums { get; }

    public PackedInt8Weights(ReadOnlySpan<sbyte> rows, int n, int k)
    {
        if (rows.Length != n * k) throw new ArgumentException($"int8 weights: {rows.Length} values for [{n}, {k}]");
        (N, K) = (n, k);
        KPadded = (k + 3) & ~3;
        NPadded = (n + 15) & ~15;
        Data = new sbyte[KPadded * NPadded];
        ColumnSums = new int[n];
        for (int o = 0; o < n; o++)
            for (int i = 0; i < k; i++)
            {
                sbyte w = rows[o * k + i];
                Data[(i >> 2) * NPadded * 4 + o * 4 + (i & 3)] = w;
                ColumnSums[o] += w;
            }
    }
}

public static unsafe class Int8Gemm
{
    /// <summary>Whether the VPDPBUSD kernel runs on this CPU (else the scalar loop).</summary>
    public static bool UsesVnni => AvxVnni.IsSupported && !CpuKernelOptions.Current.Int8ForceScalar;

    /// <summary>C[M, N] = A[M, lda] (first K columns; lda is at least K rounded up to 4, padding any value) x B.</summary>
    public static void Multiply(ReadOnlySpan<byte> a, int m, int lda, PackedInt8Weights b, Span<int> c)
    {
        if (lda < b.KPadded) throw new ArgumentException($"int8 gemm: row stride {lda} is below K {b.K} rounded up to 4 ({b.KPadded})");
        if (a.Length < (long)m * lda || c.Length < (long)m * b.N) throw new ArgumentException($"int8 gemm: buffers too small for M {m}, K {b.K}, N {b.N}");
        fixed (byte* pa = a)
        fixed (sbyte* pb = b.Data)
        fixed (int* pc = c)
        {
            byte* ap = pa; sbyte* bp = pb; int* cp = pc;
            int rowBlocks = (m + 3) / 4;
            bool vnni = UsesVnni;
            // Padding columns of A meet zero weights, so whatever they hold adds nothing.
            CpuWorkers.ForRange(rowBlocks, Math.Max(1, 4096 / Math.Max(1, b.NPadded)), (s, e) =>
            {
                for (int rb = s; rb < e; rb++)
                {
                    int m0 = rb * 4, rows = Math.Min(4, m - m0);
                    if (vnni) BlockVnni(ap + (long)m0 * lda, lda, rows, bp, b, cp + (long)m0 * b.N);
                    else BlockScalar(ap + (long)m0 * lda, lda, rows, bp, b, cp + (long)m0 * b.N);
                }
            });
        }
    }

    private static void BlockVnni(byte* a, int lda, int rows, sbyte* b, PackedInt8Weights w, int* c)
    {
        int np = w.NPadded, n = w.N, k4 = w.KPadded / 4;
        byte* a0 = a, a1 = rows > 1 ? a + lda : a, a2 = rows > 2 ? a + 2 * lda : a, a3 = rows > 3 ? a + 3 * lda : a;
        var tmp = stackalloc int[16];
        for (int n0 = 0; n0 < np; n0 += 16)
        {
            Vector256<int> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            sbyte* bcol = b + n0 * 4;
            for (int kk = 0; kk < k4; kk++)
            {
                var b0 = Avx.LoadVector256(bcol + (long)kk * np * 4);
                var b1 = Avx.LoadVector256(bcol + (long)kk * np * 4 + 32);
                var x0 = Vector256.Create(*(int*)(a0 + kk * 4)).AsByte();
                var x1 = Vector256.Create(*(int*)(a1 + kk * 4)).AsByte();
                var x2 = Vector256.Create(*(int*)(a2 + kk * 4)).AsByte();
                var x3 = Vector256.Create(*(int*)(a3 + kk * 4)).AsByte();
                c00 = AvxVnni.MultiplyWideningAndAdd(c00, x0, b0); c01 = AvxVnni.MultiplyWideningAndAdd(c01, x0, b1);
                c10 = AvxVnni.MultiplyWideningAndAdd(c10, x1, b0); c11 = AvxVnni.MultiplyWideningAndAdd(c11, x1, b1);
                c20 = AvxVnni.MultiplyWideningAndAdd(c20, x2, b0); c21 = AvxVnni.MultiplyWideningAndAdd(c21, x2, b1);
                c30 = AvxVnni.MultiplyWideningAndAdd(c30, x3, b0); c31 = AvxVnni.MultiplyWideningAndAdd(c31, x3, b1);
            }
            int cols = Math.Min(16, n - n0);
            if (cols <= 0) break;
            void Store(int r, Vector256<int> lo, Vector256<int> hi)
            {
                if (r >= rows) return;
                lo.Store(tmp);
                hi.Store(tmp + 8);
                new ReadOnlySpan<int>(tmp, cols).CopyTo(new Span<int>(c + (long)r * n + n0, cols));
            }
            Store(0, c00, c01); Store(1, c10, c11); Store(2, c20, c21); Store(3, c30, c31);
        }
    }

    private static void BlockScalar(byte* a, int lda, int rows, sbyte* b, PackedInt8Weights w, int* c)
    {
        int np = w.NPadded, n = w.N, kp = w.KPadded;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < n; o++)
            {
                int acc = 0;
                for (int i = 0; i < kp; i++) acc += a[(long)r * lda + i] * b[(i >> 2) * np * 4 + o * 4 + (i & 3)];
                c[(long)r * n + o] = acc;
            }
    }
}
