// Argument checks every backend makes the same way, so their error messages cannot drift apart.
namespace Cuda.Nn.Kernels;

internal static class BackendChecks
{
    public static void Shape(Layout l, string what, string op, int[] expected)
    {
        if (!l.Shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"{op}: {what} has shape {Layout.ShapeString(l.Shape)}, expected {Layout.ShapeString(expected)}");
    }

    public static void Geometry(in Conv2dGeometry g, string op)
    {
        if (g.Groups < 1 || g.C % g.Groups != 0 || g.O % g.Groups != 0)
            throw new ArgumentException($"{op}: groups {g.Groups} must divide both input channels {g.C} and output channels {g.O}");
        if (g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 || g.PH < 0 || g.PW < 0)
            throw new ArgumentException($"{op}: stride and dilation must be positive and padding non-negative ({g})");
        if (g.OH < 1 || g.OW < 1)
            throw new ArgumentException($"{op}: kernel {g.KH}x{g.KW} (dilation {g.DH},{g.DW}) is larger than the padded input {g.H + 2 * g.PH}x{g.W + 2 * g.PW} ({g})");
    }
}
