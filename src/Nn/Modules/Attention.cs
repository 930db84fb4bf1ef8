// nn.MultiheadAttention (batch_first) with PyTorch's packed in-projection parameter names.
using Cuda.Nn.Functional;

namespace Cuda.Nn.Modules;

public sealed partial class MultiheadAttention : Module
{
    public int EmbedDim { get; }
    public int NumHeads { get; }
    public double DropoutP { get; }
    public Tensor InProjWeight => Own("in_proj_weight")!;
    public Tensor? InProjBias => Own("in_proj_bias");
    public Linear OutProj { get; }

    public MultiheadAttention(int embedDim, int numHeads, double dropout = 0, bool bias = true, Generator? generator = null)
    {
        if (embedDim % numHeads != 0) throw new ArgumentException($"embed_dim {embedDim} is not divisible by num_heads {numHeads}");
        EmbedDim = embedDim;
        NumHeads = numHeads;
        DropoutP = dropout;
        var w = RegisterParameter("in_proj_weight", Tensor.Empty([3 * embedDim, embedDim]));
        // xavier_uniform_ on the packed weight, zero biases (PyTorch's _reset_parameters)
        Init.Uniform(w, Math.Sqrt(6.0 / (embedDim + 3 * embedDim)), generator);
        if (bias) RegisterParameter("in_proj_bias", Tensor.Zeros([3 * embedDim]));
        OutProj = RegisterModule("out_proj", new Linear(embedDim, embedDim, bias, generator));
        if (bias) Init.Constant(OutProj.Bias!, 0);
    }

    /// <summary>Self-attention on x [B, T, E].</summary>
    public override Tensor Forward(Tensor input) => Forward(input, input, input, out _, null, needWeights: false);

    /// <summary>query [B, Tq, E], key/value [B, Tk, E]; attnWeights [B, Tq, Tk] averaged over heads when needWeights.</summary>
    public Tensor Forward(Tensor query, Tensor key, Tensor value, out Tensor? attnWeights, Tensor? attnMask = null, bool needWeights = true, bool isCausal = false)
    {
        using var scope = new DisposeScope();
        int e = EmbedDim, h = NumHeads, d = e / h;
        int b = query.ShapeRef[0], tq = query.ShapeRef[1], tk = key.ShapeRef[1];
        var w = InProjWeight.Split(e, 0);
        var bias = InProjBias?.Split(e, 0);
        Tensor Project(Tensor x, int i, int t) =>
            F.Linear(x, w[i], bias?[i]).Reshape(b, t, h, d).Transpose(1, 2);
        var q = Project(query, 0, tq);
        var k = Project(key, 1, tk);
        var v = Project(value, 2, tk);
        var o = F.ScaledDotProductAttention(q, k, v, out var weights, attnMask, isCausal, DropoutP, IsTraining, null, keepWeights: needWeights);
        var merged = o.Transpose(1, 2).Reshape(b, tq, e);
        var y = OutProj.Forward(merged);
        attnWeights = needWeights && weights is not null ? scope.MoveToOuter(weights.Mean(1)) : null;
        return scope.MoveToOuter(y);
    }
}
