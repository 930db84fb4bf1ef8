#!/usr/bin/env python3
# Emits the SIMD micro-kernels of src/Kernels/Cpu/GemmMicroKernels.cs (everything after Scalar_4x8).
# Usage: python3 tools/gen_gemm_kernels.py SPEC... where SPEC is isa:MRxNV[/STRIDE]
#   isa = avx512 (16-float vectors) or avx2 (8-float vectors); NV = B vectors per row (NR = NV * width);
#   /STRIDE makes an edge variant that computes NR columns of a STRIDE-wide packed B panel.
# Env PF=0 (default) prefetches the C tile into L1 before the k loop, PF=1 into L2, PF=none skips it.
# Regenerate with: tools/gen_gemm_kernels.py avx512:6x4 avx512:6x3/64 avx512:6x2/64 avx512:6x1/64 avx2:6x2 avx2:6x1/16
import sys, os
PF=os.environ.get('PF','0')
def kernel(isa, mr, nv, stride=None):
    if isa == "avx512":
        V="Vector512<float>"; W=16; load="Avx512F.LoadAlignedVector512"; fma="Avx512F.FusedMultiplyAdd"; bc="Vector512.Create"; st="Store512"
    else:
        V="Vector256<float>"; W=8; load="Avx.LoadAlignedVector256"; fma="Fma.MultiplyAdd"; bc="Vector256.Create"; st="Store256"
    nr = nv*W
    name = f"{'Avx512' if isa=='avx512' else 'Avx2'}_{mr}x{nr}"
    doc = f"{mr}x{nr} tile: {mr*nv} accumulators + {nv} B vectors + 1 broadcast register."
    if stride:
        name = f"{'Avx512' if isa=='avx512' else 'Avx2'}_{mr}x{stride}_n{nr}"
        doc = f"Edge tile of the {mr}x{stride} kernel: only the first {nr} columns of each {stride}-wide B panel."
    L=[]
    L.append(f"    /// <summary>{doc}</summary>")
    L.append(f"    public static void {name}(int kc, float* pa, float* pb, float* c, nint ldc, float alpha, float beta)")
    L.append("    {")
    for r in range(mr):
        L.append("        " + " ".join(f"{V} c{r}_{v} = default;" for v in range(nv)))
    pf = "Sse.Prefetch0" if PF=="0" else "Sse.Prefetch1"
    if PF != "none":
        for r in range(mr):
            L.append("        " + " ".join(f"{pf}(c + {r} * ldc + {v*W*(2 if isa=='avx2' else 1)});" for v in range(nv if isa=='avx512' else nv//2)) + f" {pf}(c + {r} * ldc + {nr-1});")
    L.append("        for (; kc > 0; kc--)")
    L.append("        {")
    L.append("            " + " ".join(f"{V} b{v} = {load}(pb + {v*W});" for v in range(nv)))
    L.append(f"            {V} a;")
    for r in range(mr):
        s = f"a = {bc}(pa[{r}]); " + " ".join(f"c{r}_{v} = {fma}(a, b{v}, c{r}_{v});" for v in range(nv))
        L.append("            " + s)
    L.append(f"            pa += {mr}; pb += {stride or nr};")
    L.append("        }")
    L.append(f"        {V} va = {bc}(alpha), vb = {bc}(beta);")
    L.append("        bool z = beta == 0f;")
    for r in range(mr):
        L.append("        " + " ".join(f"{st}(c + {r} * ldc + {v*W}, c{r}_{v}, va, vb, z);" for v in range(nv)))
    L.append("    }")
    return "\n".join(L)

out = []
for spec in sys.argv[1:]:
    isa, t = spec.split(":"); stride = None
    if "/" in t: t, stride = t.split("/"); stride = int(stride)
    mr, nv = map(int, t.split("x"))
    out.append(kernel(isa, mr, nv, stride))
print("\n\n".join(out))
