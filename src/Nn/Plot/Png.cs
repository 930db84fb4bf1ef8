// A minimal PNG encoder (8-bit RGB, one IDAT, zlib from the BCL) so plots need no image library.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Cuda.Nn.Plot;

public static class Png
{
    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    private static uint Crc(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var b in type) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        foreach (var b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>Encodes rgb (width*height*3 bytes, rows top to bottom).</summary>
    public static byte[] Encode(byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"{rgb.Length} bytes is not {width}x{height} RGB");
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type RGB
        Chunk(ms, "IHDR", ihdr);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0); // filter: none
                z.Write(rgb, y * width * 3, width * 3);
            }
        }
        Chunk(ms, "IDAT", raw.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var t = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(t);
        s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc(t, data));
        s.Write(len);
    }
}

/// <summary>An RGB raster with lines, rectangles and 5x7 bitmap text.</summary>
public sealed class Canvas(int width, int height)
{
    public int Width { get; } = width;
    public int Height { get; } = height;
    public byte[] Pixels { get; } = Enumerable.Repeat((byte)255, width * height * 3).ToArray();

    public void Set(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = (y * Width + x) * 3;
        Pixels[i] = c.R; Pixels[i + 1] = c.G; Pixels[i + 2] = c.B;
    }

    public void FillRect(int x0, int y0, int w, int h, (byte, byte, byte) c)
    {
        for (int y = y0; y < y0 + h; y++) for (int x = x0; x < x0 + w; x++) Set(x, y, c);
    }

    /// <summary>Bresenham line, thickness in pixels.</summary>
    public void Line(int x0, int y0, int x1, int y1, (byte, byte, byte) c, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), sx = x0 < x1 ? 1 : -1, dy = -Math.Abs(y1 - y0), sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            for (int t = 0; t < thickness; t++) for (int u = 0; u < thickness; u++) Set(x0 + t - thickness / 2, y0 + u - thickness / 2, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>Draws text with the built-in 5x7 font (upper case; unknown characters as blanks) at a pixel scale.</summary>
    public void Text(int x, int y, string text, (byte, byte, byte) c, int scale = 1)
    {
        foreach (var ch in text.ToUpperInvariant())
        {
            if (Font.Glyphs.TryGetValue(ch, out var rows))
                for (int r = 0; r < 7; r++)
                    for (int col = 0; col < 5; col++)
                        if (rows[r][col] == '#') FillRect(x + col * scale, y + r * scale, scale, scale, c);
            x += 6 * scale;
        }
    }

    public static int TextWidth(string text, int scale = 1) => text.Length * 6 * scale;

    public void Save(string path) => IO.AtomicFile.Write(path, s => s.Write(Png.Encode(Pixels, Width, Height)));
}
