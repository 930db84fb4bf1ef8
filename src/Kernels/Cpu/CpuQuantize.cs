// The pieces around Int8Gemm for a quantized conv or linear: float -> uint8 quantization (vectorised),
// u8 im2col with the zero point as padding, and dequantization of the int32 sums into NCHW floats.
using System.Runtime.Intrinsics;

namespace Cuda.Nn.Kernels.Cpu;

public static unsafe class CpuQuantize
{
    /// <summary>q = saturate_u8(round_half_even(x / scale) + zeroPoint), ONNX QuantizeLinear's definition.</summary>
    public static void QuantizeU8(ReadOnlySpan<float> x, float scale, int zeroPoint, Span<byte> q)
    {
        if (q.Length < x.Length) throw new ArgumentException($"quantize: {q.Length} bytes for {x.Length} values");
        int i = 0;
        fixed (float* px = x)
        fixed (byte* pq = q)
        {
            if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
            {
                var s = Vector256.Create(scale);
                var zp = Vector256.Create(zeroPoint);
                var lo = Vector256<int>.Zero;
                var hi = Vector256.Create(255);
                // The float -> int conversion rounds half to even, the default MXCSR mode .NET runs under.
                for (; i + 32 <= x.Length; i += 32)
                {
                    var a = Vector256.Narrow(Q(px + i, s, zp, lo, hi), Q(px + i + 8, s, zp, lo, hi));
                    var b = Vector256.Narrow(Q(px + i + 16, s, zp, lo, hi), Q(px + i + 24, s, zp, lo, hi));
                    Vector256.Narrow(a.AsUInt16(), b.AsUInt16()).Store(pq + i);
                }
            }
            for (; i < x.Length; i++) pq[i] = (byte)Math.Clamp((int)MathF.Round(px[i] / scale, MidpointRounding.ToEven) + zeroPoint, 0, 255);
        }
    }

    private static Vector256<int> Q(float* p, Vector256<float> scale, Vector256<int> zp, Vector256<int> lo, Vector256<int> hi) =>
        Vector256.Min(Vector256.Max(System.Runtime.Intrinsics.X86.Avx.ConvertToVector256Int32(Vector256.Load(p) / scale) + zp, lo), hi);

    /// <summary>One row of lda bytes per output pixel (image-major), taps in (channel, ky, kx) order; taps outside
    /// the image read the zero point; the lda - K tail is zero.</summary>
    public static void Im2ColU8(ReadOnlySpan<byte> input, Conv2dGeometry g, byte zeroPoint, Span<byte> cols, int lda)
    {
        if (g.Groups != 1) throw new ArgumentException($"u8 im2col handles groups 1 only, got {g.Groups}");
        int n = g.N, c = g.C, h = g.H, w = g.W, oh = g.OH, ow = g.OW, kh = g.KH, kw = g.KW, k = c * kh * kw;
        if (cols.Length < (long)n * oh * ow * lda) throw new ArgumentException("im2col: the column buffer is too small");
        fixed (byte* pin = input)
        fixed (byte* pcols = cols)
        {
            byte* src0 = pin; byte* dst0 = pcols;
            CpuWorkers.ForRange(n * oh, 2, (s, e) =>
            {
                for (int row = s; row < e; row++)
                {
                    int img = row / oh, oy = row % oh;
                    for (int ox = 0; ox < ow; ox++)
                    {
                        byte* dst = dst0 + ((long)row * ow + ox) * lda;
                        int ix0 = ox * g.SW - g.PW;
                        bool insideX = ix0 >= 0 && ix0 + (kw - 1) * g.DW < w;
                        for (int ch = 0; ch < c; ch++)
                        {
                            byte* plane = src0 + ((long)img * c + ch) * h * w;
                            for (int ky = 0; ky < kh; ky++, dst += kw)
                            {
                                int iy = oy * g.SH - g.PH + ky * g.DH;
                                if ((uint)iy >= (uint)h) { new Span<byte>(dst, kw).Fill(zeroPoint); continue; }
                                byte* line = plane + (long)iy * w + ix0;
                                if (insideX) for (int kx = 0; kx < kw; kx++) dst[kx] = line[kx * g.DW];
                                else
                                    for (int kx = 0; kx < kw; kx++)
                                    {
                                        int ix = ix0 + kx * g.DW;
                                        dst[kx] = (uint)ix < (uint)w ? line[kx * g.DW] : zeroPoint;
                                    }
                            }
                        }
                        new Span<byte>(dst, lda - k).Clear();
                    }
                }
            });
        }
    }

    /// <summary>y[img, o, p] = scale[o] * acc[(img * plane + p) * channels + o] + offset[o]; NCHW output.
    /// Reads acc in order (one pixel's channels at a time) and writes one stream per channel plane.</summary>
    public static void DequantizeNchw(ReadOnlySpan<int> acc, int images, int channels, int plane, float[] scale, float[] offset, Span<float> y)
    {
        fixed (int* pa = acc)
        fixed (float* py = y)
        {
            int* a0 = pa; float* y0 = py;
            int blocks = (plane + 255) / 256;
            CpuWorkers.ForRange(images * blocks, 1, (s, e) =>
            {
                for (int t = s; t < e; t++)
                {
                    int img = t / blocks, p0 = t % blocks * 256, p1 = Math.Min(plane, p0 + 256);
                    float* yImg = y0 + (long)img * channels * plane;
                    for (int p = p0; p < p1; p++)
                    {
                        int* a = a0 + ((long)img * plane + p) * channels;
                        for (int o = 0; o < channels; o++) yImg[(long)o * plane + p] = scale[o] * a[o] + offset[o];
                    }
                }
            });
        }
    }
}
