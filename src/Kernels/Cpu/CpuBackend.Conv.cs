// The CPU backend's conv2d entry points: dtype and shape checks, dense views of the operands, then CpuConv
// (which picks the kernel variant, ConvVariants.cs).
namespace Cuda.Nn.Kernels.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static DType ConvType(DType dt, string op) =>
        dt is DType.F32 or DType.F64 ? dt : throw new NotSupportedException($"{op} computes in F32 or F64, got {dt} (cast first)");

    private static void CheckShape(Layout l, string what, string op, params int[] expected) => BackendChecks.Shape(l, what, op, expected);

    private static void CheckGeometry(in Conv2dGeometry g, string op) => BackendChecks.Geometry(g, op);

    public void Conv2d(Storage x, Layout xLayout, Storage w, Layout wLayout, Storage? bias, Layout? biasLayout, Storage y, in Conv2dGeometry g)
    {
        var dt = ConvType(C(y).DType, "conv2d");
        CheckGeometry(g, "conv2d");
        CheckShape(xLayout, "input", "conv2d", g.N, g.C, g.H, g.W);
        CheckShape(wLayout, "weight", "conv2d", g.O, g.C / g.Groups, g.KH, g.KW);
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        using var ws = new Lease(DenseView(C(w), wLayout, dt, out var pw));
        byte* pb = null;
        CpuStorage? bs = null;
        if (bias is not null)
        {
            CheckShape(biasLayout!, "bias", "conv2d", g.O);
            bs = DenseView(C(bias), biasLayout!, dt, out pb);
        }
        try
        {
            if (dt == DType.F32) CpuConv.Forward((float*)px, (float*)pw, (float*)pb, C(y).Ptr<float>(), g);
            else CpuConv.Forward((double*)px, (double*)pw, (double*)pb, C(y).Ptr<double>(), g);
        }
        finally { bs?.Release(); }
    }

    public void Conv2dBackwardData(Storage gy, Layout gyLayout, Storage w, Layout wLayout, Storage gx, in Conv2dGeometry g)
    {
        var dt = ConvType(C(gx).DType, "conv2d backward");
        CheckGeometry(g, "conv2d backward");
        CheckShape(gyLayout, "output gradient", "conv2d backward", g.N, g.O, g.OH, g.OW);
        CheckShape(wLayout, "weight", "conv2d backward", g.O, g.C / g.Groups, g.KH, g.KW);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        using var ws = new Lease(DenseView(C(w), wLayout, dt, out var pw));
        if (dt == DType.F32) CpuConv.BackwardData((float*)pg, (float*)pw, C(gx).Ptr<float>(), g);
        else CpuConv.BackwardData((double*)pg, (double*)pw, C(gx).Ptr<double>(), g);
    }

    public void Conv2dBackwardFilter(Storage x, Layout xLayout, Storage gy, Layout gyLayout, Storage? gw, Storage? gbias, in Conv2dGeometry g)
    {
        var dt = ConvType((gw ?? gbias)?.DType ?? C(gy).DType, "conv2d backward");
        CheckGeometry(g, "conv2d backward");
        CheckShape(xLayout, "input", "conv2d backward", g.N, g.C, g.H, g.W);
        CheckShape(gyLayout, "output gradient", "conv2d backward", g.N, g.O, g.OH, g.OW);
        using var gs = new Lease(DenseView(C(gy), gyLayout, dt, out var pg));
        if (gbias is not null)
        {
            if (dt == DType.F32) CpuConv.BiasGrad((float*)pg, C(gbias).Ptr<float>(), g);
            else CpuConv.BiasGrad((double*)pg, C(gbias).Ptr<double>(), g);
        }
        if (gw is null) return;
        using var xs = new Lease(DenseView(C(x), xLayout, dt, out var px));
        if (dt == DType.F32) CpuConv.BackwardFilter((float*)px, (float*)pg, C(gw).Ptr<float>(), g);
        else CpuConv.BackwardFilter((double*)px, (double*)pg, C(gw).Ptr<double>(), g);
    }
}
