// A float image [C, H, W] in reusable arrays. Decoded bytes are kept as bytes until something reads the
// floats: a crop-and-resize then samples the bytes directly, so a large photo is never converted to float
// in full only to be cut down to 224 x 224.
using System.Numerics.Tensors;

namespace Cuda.Nn.Data;

public sealed class ImageBuffer(int channels, int height, int width)
{
    private float[] _data = new float[channels * height * width];
    private float[] _scratch = [];
    private byte[] _bytes = [];
    private bool _bytesPending;

    public int Channels { get; private set; } = channels;
    public int Height { get; private set; } = height;
    public int Width { get; private set; } = width;
    public int Size => Channels * Height * Width;

    /// <summary>The pixels as floats (at least Size elements); reading converts pending bytes first.</summary>
    public float[] Data
    {
        get
        {
            if (_bytesPending)
            {
                TensorPrimitives.ConvertTruncating<byte, float>(_bytes.AsSpan(0, Size), _data);
                TensorPrimitives.Multiply(_data.AsSpan(0, Size), 1f / 255f, _data);
                _bytesPending = false;
            }
            return _data;
        }
    }

    /// <summary>torchvision's ToTensor: C x H x W bytes, read as value / 255 (converted lazily).</summary>
    public void SetFromBytes(ReadOnlySpan<byte> chw, int c, int h, int w)
    {
        if (chw.Length != c * h * w) throw new ArgumentException($"{chw.Length} bytes for a {c}x{h}x{w} image");
        Reset(c, h, w);
        if (_bytes.Length < chw.Length) _bytes = new byte[chw.Length];
        chw.CopyTo(_bytes);
        _bytesPending = true;
    }

    /// <summary>Lets a decoder write C x H x W bytes straight into the buffer (grown as needed), then marks them pending.</summary>
    internal (int C, int H, int W) DecodeInto(Func<byte[], (byte[] Buffer, int C, int H, int W)> decode)
    {
        var (buffer, c, h, w) = decode(_bytes);
        _bytes = buffer;
        Reset(c, h, w);
        _bytesPending = true;
        return (c, h, w);
    }

    /// <summary>The unconverted bytes, when the image still holds them (each means byte / 255).</summary>
    internal bool TryGetPendingBytes(out byte[] bytes)
    {
        bytes = _bytes;
        return _bytesPending;
    }

    /// <summary>A scratch array of at least c*h*w elements holding nothing in particular.</summary>
    internal float[] Scratch(int c, int h, int w)
    {
        if (_scratch.Length < c * h * w) _scratch = new float[c * h * w];
        return _scratch;
    }

    /// <summary>Swaps in the scratch array as the data, with a new shape.</summary>
    internal void SwapWithScratch(int c, int h, int w)
    {
        (_data, _scratch) = (_scratch, _data);
        _bytesPending = false;
        (Channels, Height, Width) = (c, h, w);
    }

    /// <summary>Sets the shape, with room for it; the contents are undefined until written through Data.</summary>
    public void Reset(int c, int h, int w)
    {
        (Channels, Height, Width) = (c, h, w);
        _bytesPending = false;
        if (_data.Length < c * h * w) _data = new float[c * h * w];
    }
}
