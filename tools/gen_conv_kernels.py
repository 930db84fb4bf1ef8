#!/usr/bin/env python3
"""Writes the register-blocked AVX-512 conv tiles: the generated files listed in FILES, whole.

The JIT keeps accumulators in registers only when each is a separate local, so the tiles are unrolled here
instead of written with arrays of vectors. Usage:
    python3 tools/gen_conv_kernels.py --write    # regenerates every file in FILES
    python3 tools/gen_conv_kernels.py --check    # exit 1, naming the files, if one differs (GeneratedKernelsTests)
    python3 tools/gen_conv_kernels.py forward 8x48 8x32    # prints those tiles (forward, filter, stream, packed, blocked)
To add a tile, add its spec to FILES and rerun --write; never edit a generated file.
"""
import os
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


def stream(rows, width):
    # The forward tile, stored straight into y with the bias by streaming stores (y + r ldy + 16 v must be 64-byte
    # aligned): for output rows that are whole tiles, so no scratch and no second pass.
    name = f"Kernel{rows}x{width}"
    out = []
    for line in forward(rows, width):
        line = line.replace("flat positions", "positions of one output row, streamed into y with the bias")
        line = line.replace(f"private static void {name}(", f"private static void Stream{name}(")
        line = line.replace("float* w, float* y, nint ldy)", "float* w, float* bias, float* y, nint ldy)")
        if line.strip().startswith("Avx512F.Store(y"):
            line = line.replace("Avx512F.Store(", "Avx512F.StoreAlignedNonTemporal(")
            for r in range(rows):
                line = line.replace(f", c{r}_", f", s{r} + c{r}_")
        out.append(line)
    first_store = next(k for k, l in enumerate(out) if "StoreAlignedNonTemporal" in l)
    out.insert(first_store, "        " + " ".join(f"Vector512<float> s{r} = Vector512.Create(bias[{r}]);" for r in range(rows)))
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


def packed(width):
    # Narrow tiles keep several partial sums per position (k unrolled) so the FMA latency does not serialise them.
    unroll = max(1, min(8, 8 // width))
    accs = [[f"c{r}_{u}" for r in range(width)] for u in range(unroll)]
    out = [f"    /// <summary>16 output channels x {width} positions ({width * unroll} accumulators).</summary>",
           "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
           f"    private static void PackedKernel{width}(float* x, int* koff, int k, float* w, float* o)",
           "    {"]
    for u in range(unroll):
        out.append("        " + " ".join(f"Vector512<float> {a} = default;" for a in accs[u]))
    out.append("        int i = 0;")
    if unroll > 1:
        out += [f"        for (; i + {unroll} <= k; i += {unroll}, w += {16 * unroll})", "        {"]
        for u in range(unroll):
            out.append(f"            float* x{u} = x + koff[i + {u}]; Vector512<float> a{u} = Avx512F.LoadVector512(w + {16 * u});")
        for u in range(unroll):
            out.append("            " + " ".join(f"{accs[u][r]} = Avx512F.FusedMultiplyAdd(a{u}, Vector512.Create(x{u}[{r}]), {accs[u][r]});" for r in range(width)))
        out.append("        }")
    out += ["        for (; i < k; i++, w += 16)", "        {",
            "            float* xp = x + koff[i]; Vector512<float> a = Avx512F.LoadVector512(w);",
            "            " + " ".join(f"{accs[0][r]} = Avx512F.FusedMultiplyAdd(a, Vector512.Create(xp[{r}]), {accs[0][r]});" for r in range(width)),
            "        }"]
    for r in range(width):
        total = " + ".join(accs[u][r] for u in range(unroll))
        out.append(f"        Avx512F.Store(o + {16 * r}, {total});")
    out.append("    }")
    return out


def block_tile_loop(blocks, width, unroll, position):
    """The declarations and k loop shared by the multi-block tiles: accumulators c{b}_{r}_{u}, B weight loads and R
    broadcasts per k; position(r) is the index of position r's value from its x pointer."""
    acc = lambda u, b, r: f"c{b}_{r}_{u}"
    out = []
    for u in range(unroll):
        for b in range(blocks):
            out.append("        " + " ".join(f"Vector512<float> {acc(u, b, r)} = default;" for r in range(width)))
    out.append("        int i = 0;")
    step = 16 * blocks
    def body(indent, u, xname, woff):
        lines = [indent + " ".join(f"Vector512<float> a{u}_{b} = Avx512F.LoadVector512(w + {woff + 16 * b});" for b in range(blocks))]
        for r in range(width):
            lines.append(indent + f"v = Vector512.Create({xname}[{position(r)}]); " + " ".join(f"{acc(u, b, r)} = Avx512F.FusedMultiplyAdd(a{u}_{b}, v, {acc(u, b, r)});" for b in range(blocks)))
        return lines
    if unroll > 1:
        out += [f"        for (; i + {unroll} <= k; i += {unroll}, w += {step * unroll})", "        {", "            Vector512<float> v;"]
        for u in range(unroll):
            out.append(f"            float* x{u} = x + koff[i + {u}];")
            out += body("            ", u, f"x{u}", step * u)
        out.append("        }")
    out += [f"        for (; i < k; i++, w += {step})", "        {", "            Vector512<float> v;", "            float* xp = x + koff[i];"]
    out += body("            ", 0, "xp", 0)
    out.append("        }")
    return out, lambda b, r: " + ".join(acc(u, b, r) for u in range(unroll))


def packed_blocks(blocks, width):
    # B blocks of 16 output channels x R positions: B weight loads and R broadcasts per B x R FMAs.
    unroll = max(1, min(4, 8 // (blocks * width)))
    out = [f"    /// <summary>{16 * blocks} output channels ({blocks} blocks) x {width} positions ({blocks * width * unroll} accumulators);",
           "    /// block b's position r lands at o + (b * 32 + r) * 16.</summary>",
           "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
           f"    private static void PackedKernel{blocks}x{width}(float* x, int* koff, int k, float* w, float* o)",
           "    {"]
    loop, total = block_tile_loop(blocks, width, unroll, lambda r: f"{r}")
    out += loop
    for b in range(blocks):
        for r in range(width):
            out.append(f"        Avx512F.Store(o + {(b * 32 + r) * 16}, {total(b, r)});")
    out.append("    }")
    return out


def blocked(blocks, width):
    # Channel-blocked input and output ([C/16][H][W][16]): position r reads x[koff[k] + r * TStep.Floats], and the
    # tile is written straight to y (16 channels of a position are one vector), with bias, residual and ReLU, no
    # transpose; a set bit r of junk stores zeros there instead (grid columns that land on y's zero border).
    unroll = max(1, min(8 if blocks == 1 else 4, 8 // (blocks * width)))
    out = [f"    /// <summary>{16 * blocks} output channels ({blocks} block{'s' if blocks > 1 else ''}) x {width} position{'s' if width > 1 else ''} ({blocks * width * unroll} accumulators).</summary>",
           "    [MethodImpl(MethodImplOptions.AggressiveOptimization)]",
           f"    private static void BlockedKernel{blocks}x{width}<TStep>(float* x, int* koff, int k, float* w, float* y, float* res, float* bias, nint blockStride, uint junk, bool relu)",
           "        where TStep : struct, IPositionStep",
           "    {"]
    loop, total = block_tile_loop(blocks, width, unroll, lambda r: f"{r} * TStep.Floats")
    out += loop
    for b in range(blocks):
        out.append(f"        var bias{b} = Avx512F.LoadVector512(bias + {16 * b});")
        for r in range(width):
            at = f"{b} * blockStride + {16 * r}" if b else f"{16 * r}"
            out.append(f"        Write(y + {at}, res == null ? null : res + {at}, {total(b, r)} + bias{b}, relu, (junk & {1 << r}u) != 0);")
    out.append("    }")
    return out


def blocked_table(specs):
    out = ["    /// <summary>The register tile of B blocks x R positions, for positions step floats apart in x (16 or 32).</summary>",
           "    private static delegate*<float*, int*, int, float*, float*, float*, float*, nint, uint, bool, void> BlockedKernel(int blocks, int width, int step) =>",
           "        (blocks * 100 + width, step) switch",
           "        {"]
    for b, r in specs:
        for st in (16, 32):
            out.append(f"            ({b * 100 + r}, {st}) => &BlockedKernel{b}x{r}<Step{st}>,")
    out += ["            _ => throw new ArgumentOutOfRangeException(nameof(width), $\"no {blocks}x{width} tile for a step of {step}\"),", "        };"]
    return out


def emit(family, specs):
    """The tiles of one family, as the generated file holds them (blank line between methods)."""
    if family == "blocked":
        pairs = [tuple(int(v) for v in spec.split("x")) for spec in specs]
        return "\n\n".join(["\n".join(blocked_table(pairs))] + ["\n".join(blocked(b, r)) for b, r in pairs])
    blocks = []
    for spec in specs:
        if family == "packed":
            if "x" in spec:
                b, r = (int(v) for v in spec.split("x"))
                blocks.append("\n".join(packed_blocks(b, r)))
            else:
                blocks.append("\n".join(packed(int(spec))))
            continue
        a, b = (int(v) for v in spec.split("x"))
        gen = {"forward": forward, "filter": filter_, "stream": stream}[family]
        blocks.append("\n".join(gen(a, b)))
    return "\n\n".join(blocks)


# Each generated file: its class declaration, what it holds, and the tiles by family.
FILES = {
    "src/Kernels/Cpu/CpuConvDirect.Kernels.g.cs": (
        "internal static unsafe partial class CpuConvDirect",
        "Register tiles of CpuConvDirect: stride-1 forward/backward-data (8 channels x 48, 32 or 16 flat positions),\n"
        "// the weight gradient (4 x 6) and the stride-2 row tiles with streaming stores.",
        [("forward", "8x48 8x32 8x16"), ("filter", "4x6"), ("stream", "8x48 8x32 8x16")]),
    "src/Kernels/Cpu/CpuConvPacked.Kernels.g.cs": (
        "internal sealed unsafe partial class PackedConv2d",
        "Register tiles of PackedConv2d (16, 32 or 64 output channels x R positions).",
        [("packed", "24 16 12 8 4 2 1 2x12 2x8 2x4 2x2 2x1 4x6 4x4 4x2 4x1")]),
    "src/Kernels/Cpu/CpuConvBlocked.Kernels.g.cs": (
        "internal sealed unsafe partial class BlockedConv2d",
        "Register tiles of BlockedConv2d (16, 32 or 64 output channels x R positions, channel-blocked input and output).",
        [("blocked", "1x24 1x16 1x12 1x8 1x4 1x2 1x1 2x12 2x8 2x4 2x2 2x1 4x6 4x4 4x2 4x1")]),
}


def render(path):
    declaration, what, families = FILES[path]
    body = "\n\n".join(emit(family, specs.split()) for family, specs in families)
    return ("// <auto-generated> by tools/gen_conv_kernels.py --write: do not edit; change the generator and rerun it\n"
            "// (GeneratedKernelsTests fails when this file and the generator differ).\n"
            f"// {what}\n"
            "using System.Runtime.CompilerServices;\n"
            "using System.Runtime.Intrinsics;\n"
            "using System.Runtime.Intrinsics.X86;\n\n"
            "namespace Cuda.Nn.Kernels.Cpu;\n\n"
            f"{declaration}\n{{\n{body}\n}}\n")


def write_or_check(root, check):
    differ = []
    for path in FILES:
        full = os.path.join(root, path)
        text = render(path)
        old = open(full, encoding="utf-8").read() if os.path.exists(full) else None
        if old == text:
            continue
        differ.append(path)
        if not check:
            with open(full, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    if check and differ:
        sys.exit("generated files differ from tools/gen_conv_kernels.py (rerun it with --write): " + ", ".join(differ))
    if not check:
        print("wrote " + (", ".join(differ) if differ else "nothing (all current)"))


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if argv[:1] in (["--write"], ["--check"]):
        write_or_check(root, argv[0] == "--check")
        return
    if len(argv) < 2 or argv[0] not in ("forward", "filter", "packed", "stream", "blocked"):
        sys.exit(__doc__)
    print(emit(argv[0], argv[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
