// Vision Transformer (Dosovitskiy et al.) with torchvision's parameter names (conv_proj, class_token,
// encoder.pos_embedding, encoder.layers.encoder_layer_N.{ln_1,self_attention,ln_2,mlp}, encoder.ln, heads.head).
using Cuda.Nn.Functional;
using Cuda.Nn.Modules;

namespace Cuda.Nn.Models;

/// <summary>Patch embedding: a conv with kernel = stride = patch, computed as a reshape and one GEMM.</summary>
public sealed partial class PatchEmbedding : Module
{
    public int Patch { get; }
    public Tensor Weight => Own("weight")!;
    public Tensor Bias => Own("bias")!;

    public PatchEmbedding(int inChannels, int dim, int patch, Generator? g)
    {
        Patch = patch;
        var w = RegisterParameter("weight", Tensor.Empty([dim, inChannels, patch, patch]));
        Init.TruncNormal(w, Math.Sqrt(1.0 / (inChannels * patch * patch)), g: g);
        RegisterParameter("bias", Tensor.Zeros([dim]));
    }

    /// <summary>[B, C, H, W] to [B, (H/p)(W/p), D].</summary>
    public override Tensor Forward(Tensor x)
    {
        int b = x.ShapeRef[0], c = x.ShapeRef[1], h = x.ShapeRef[2], w = x.ShapeRef[3], p = Patch;
        if (h % p != 0 || w % p != 0) throw new ArgumentException($"image {h}x{w} is not divisible into {p}x{p} patches");
        using var scope = new DisposeScope();
        var patches = x.Reshape(b, c, h / p, p, w / p, p).Permute(0, 2, 4, 1, 3, 5).Reshape(b, (h / p) * (w / p), c * p * p);
        var y = F.Linear(patches, Weight.Reshape(Weight.ShapeRef[0], -1), Bias);
        ModelSummary.Report(this, y, (long)y.Numel * c * p * p);
        return scope.MoveToOuter(y);
    }
}

public sealed partial class VitMlp : Module
{
    public VitMlp(int dim, int hidden, double dropout, Generator? g)
    {
        var fc1 = RegisterModule("0", new Linear(dim, hidden, generator: g));
        RegisterModule("1", Activation.GELU());
        RegisterModule("2", new Dropout(dropout));
        var fc2 = RegisterModule("3", new Linear(hidden, dim, generator: g));
        RegisterModule("4", new Dropout(dropout));
        foreach (var fc in new[] { fc1, fc2 })
        {
            var (fi, fo) = Init.Fans(fc.Weight.ShapeRef);
            Init.Uniform(fc.Weight, Math.Sqrt(6.0 / (fi + fo)), g);
            Init.Normal(fc.Bias!, 0, 1e-6, g);
        }
    }

    public override Tensor Forward(Tensor x)
    {
        var y = x.Share();
        foreach (var (_, m) in NamedChildren())
        {
            var next = m.Forward(y);
            y.Dispose();
            y = next;
        }
        return y;
    }
}

public sealed partial class EncoderBlock : Module
{
    private readonly LayerNorm _ln1, _ln2;
    private readonly MultiheadAttention _attention;
    private readonly Dropout _dropout;
    private readonly VitMlp _mlp;

    public EncoderBlock(int dim, int heads, int mlpDim, double dropout, double attentionDropout, Generator? g)
    {
        _ln1 = RegisterModule("ln_1", new LayerNorm(dim, 1e-6));
        _attention = RegisterModule("self_attention", new MultiheadAttention(dim, heads, attentionDropout, generator: g));
        _dropout = RegisterModule("dropout", new Dropout(dropout));
        _ln2 = RegisterModule("ln_2", new LayerNorm(dim, 1e-6));
        _mlp = RegisterModule("mlp", new VitMlp(dim, mlpDim, dropout, g));
    }

    public override Tensor Forward(Tensor x)
    {
        using var scope = new DisposeScope();
        var a = _dropout.Forward(_attention.Forward(_ln1.Forward(x)));
        var h = a.Add(x);
        var y = h.Add(_mlp.Forward(_ln2.Forward(h)));
        return scope.MoveToOuter(y);
    }
}

public sealed partial class VisionTransformer : Module
{
    private readonly PatchEmbedding _patch;
    private readonly VitEncoder _encoder;
    private readonly Linear _head;

    public int ImageSize { get; }
    public int PatchSize { get; }

    public VisionTransformer(int imageSize, int patchSize, int layers, int heads, int dim, int mlpDim, int numClasses = 1000, int inChannels = 3,
        double dropout = 0, double attentionDropout = 0, Generator? generator = null)
    {
        if (imageSize % patchSize != 0) throw new ArgumentException($"image size {imageSize} is not a multiple of patch size {patchSize}");
        ImageSize = imageSize;
        PatchSize = patchSize;
        int seq = (imageSize / patchSize) * (imageSize / patchSize) + 1;
        _patch = RegisterModule("conv_proj", new PatchEmbedding(inChannels, dim, patchSize, generator));
        RegisterParameter("class_token", Tensor.Zeros([1, 1, dim]));
        _encoder = RegisterModule("encoder", new VitEncoder(seq, layers, heads, dim, mlpDim, dropout, attentionDropout, generator));
        var headSeq = RegisterModule("heads", new Sequential());
        _head = new Linear(dim, numClasses, generator: generator);
        headSeq.AddNamed("head", _head);
        Init.Constant(_head.Weight, 0);
        Init.Constant(_head.Bias!, 0);
    }

    public Tensor ClassToken => Own("class_token")!;

    public override Tensor Forward(Tensor x)
    {
        if (x.Rank != 4 || x.ShapeRef[2] != ImageSize || x.ShapeRef[3] != ImageSize)
            throw new ArgumentException($"ViT expects [B, C, {ImageSize}, {ImageSize}] images, got {Kernels.Layout.ShapeString(x.ShapeRef)}");
        using var scope = new DisposeScope();
        int b = x.ShapeRef[0];
        var tokens = _patch.Forward(x);
        var cls = ClassToken.Expand(b, -1, -1);
        var seq = Tensor.Cat([cls, tokens], 1);
        var h = _encoder.Dropout.Forward(seq.Add(_encoder.PosEmbedding));
        h = _encoder.Layers.Forward(h);
        h = _encoder.Norm.Forward(h);
        var first = h.Select(1, 0);
        return scope.MoveToOuter(_head.Forward(first));
    }
}

/// <summary>torchvision's Encoder: pos_embedding, dropout, layers, ln.</summary>
public sealed partial class VitEncoder : Module
{
    public Sequential Layers { get; }
    public LayerNorm Norm { get; }
    public Dropout Dropout { get; }
    public Tensor PosEmbedding => Own("pos_embedding")!;

    public VitEncoder(int seq, int layers, int heads, int dim, int mlpDim, double dropout, double attentionDropout, Generator? g)
    {
        var pos = RegisterParameter("pos_embedding", Tensor.Empty([1, seq, dim]));
        Init.Normal(pos, 0, 0.02, g);
        Dropout = RegisterModule("dropout", new Dropout(dropout));
        Layers = RegisterModule("layers", new Sequential());
        for (int i = 0; i < layers; i++) Layers.AddNamed($"encoder_layer_{i}", new EncoderBlock(dim, heads, mlpDim, dropout, attentionDropout, g));
        Norm = RegisterModule("ln", new LayerNorm(dim, 1e-6));
    }

    public override Tensor Forward(Tensor x) => throw new InvalidOperationException("VitEncoder is driven by VisionTransformer.Forward");
}
