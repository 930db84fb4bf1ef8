#!/usr/bin/env python3
"""Prints the register-blocked AVX-512 kernels of src/Kernels/Cpu/CpuConvDirect.cs.

The JIT keeps accumulators in registers only when each is a separate local, so the tiles are unrolled here
instead of written with arrays of vectors. Usage:
    python3 tools/gen_conv_kernels.py forward 8x48 8x32 8x16    # Kernel8x48, Kernel8x32, Kernel8x16
    python3 tools/gen_conv_kernels.py filter 4x6                # FilterKernel4x6
Paste the output over the methods of the same names.
"""
import sys


def forward(rows, width):
    vecs = width // 16
    out = [f"    /// <summary>{rows} output channels x {width} flat positions ({rows * vecs} accumulators).</summary>",
           "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
           f"    private static void Kernel{rows}x{width}(float* x, nint plane, int* taps, int kk, int channels, float* w, float* y, nint ldy)",
           "    {"]
    for r in range(rows):
        out.append("        " + " ".join(f"Vector512<float> c{r}_{v} = default;" for v in range(vecs)))
    out += ["        for (int c = 0; c < channels; c++, x += plane)",
            f"            for (int t = 0; t < kk; t++, w += {rows})",
            "            {",
            "                float* xp = x + taps[t];",
            "                " + " ".join(f"Vector512<float> b{v} = Avx512F.LoadVector512(xp + {16 * v});" for v in range(vecs)),
            "                Vector512<float> a;"]
    for r in range(rows):
        out.append(f"                a = Vector512.Create(w[{r}]); "
                   + " ".join(f"c{r}_{v} = Avx512F.FusedMultiplyAdd(a, b{v}, c{r}_{v});" for v in range(vecs)))
    out.append("            }")
    for r in range(rows):
        out.append("        " + " ".join(f"Avx512F.Store(y + {r} * ldy + {16 * v}, c{r}_{v});" for v in range(vecs)))
    out.append("    }")
    return out


def filter_(rows, cols):
    out = ["    /// <summary>",
           f"    /// Weight-gradient tile of {rows} output channels x {cols} (input channel, tap) pairs: dst[r, q] += the dot product of",
           "    /// gradient row r with the input shifted by offs[q], over jn flat positions (a multiple of 16).",
           "    /// </summary>",
           "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
           f"    private static void FilterKernel{rows}x{cols}(float* gy, nint ldg, float* x, int* offs, int jn, float* dst, nint ldd)",
           "    {"]
    for r in range(rows):
        out.append("        " + " ".join(f"Vector512<float> a{r}_{q} = default;" for q in range(cols)))
    out.append("        " + " ".join(f"float* x{q} = x + offs[{q}];" for q in range(cols)))
    out.append("        " + " ".join(f"float* g{r}p = gy + {r} * ldg;" for r in range(rows)))
    out += ["        for (int j = 0; j < jn; j += 16)", "        {",
            "            " + " ".join(f"Vector512<float> g{r} = Avx512F.LoadVector512(g{r}p + j);" for r in range(rows)),
            "            Vector512<float> v;"]
    for q in range(cols):
        out.append(f"            v = Avx512F.LoadVector512(x{q} + j); "
                   + " ".join(f"a{r}_{q} = Avx512F.FusedMultiplyAdd(g{r}, v, a{r}_{q});" for r in range(rows)))
    out.append("        }")
    for r in range(rows):
        out.append("        " + " ".join(f"dst[{r} * ldd + {q}] += Vector512.Sum(a{r}_{q});" for q in range(cols)))
    out.append("    }")
    return out


def main(argv):
    if len(argv) < 2 or argv[0] not in ("forward", "filter"):
        sys.exit(__doc__)
    blocks = []
    for spec in argv[1:]:
        a, b = (int(v) for v in spec.split("x"))
        blocks.append("\n".join(forward(a, b) if argv[0] == "forward" else filter_(a, b)))
    print("\n\n".join(blocks))


if __name__ == "__main__":
    main(sys.argv[1:])
