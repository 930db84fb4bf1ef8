using System.Text;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels;
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

public class SafeTensorsTests
{
    private static string TempPath() => Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}.safetensors");

    [Fact]
    public void EveryDTypeRoundTripsWithMetadata()
    {
        var tensors = new Dictionary<string, Tensor>();
        using var scope = new DisposeScope();
        var src = Tensor.Arange(-3, 9, 1, DType.F64).Reshape(3, 4);
        foreach (var dt in Enum.GetValues<DType>()) tensors[$"t_{dt}"] = src.To(dt);
        tensors["scalar"] = Tensor.Scalar(2.5);
        tensors["empty"] = Tensor.Zeros([0, 3]);
        var transposed = src.To(DType.F32).T();
        tensors["transposed"] = transposed;
        var path = TempPath();
        TensorFile.Save(path, tensors, new Dictionary<string, string> { ["note"] = "hello" });
        var back = TensorFile.Load(path, out var meta);
        File.Delete(path);
        Assert.Equal("hello", meta["note"]);
        foreach (var (k, t) in tensors)
        {
            Assert.Equal(t.DType, back[k].DType);
            Assert.Equal(t.Shape, back[k].Shape);
            Assert.Equal(t.ToDoubleArray(), back[k].ToDoubleArray());
            back[k].Dispose();
        }
    }

    [Fact]
    public void ReadsEveryOracleFile()
    {
        if (Oracle.Directory is null) Assert.Skip("oracle fixtures not found");
        foreach (var path in Directory.GetFiles(Oracle.Directory!, "*.safetensors"))
        {
            using var f = SafeTensorsFile.Open(path);
            Assert.NotEmpty(f.Entries);
            foreach (var e in f.Entries) Assert.Equal(e.Numel * e.DType.SizeOf(), f.GetBytes(e.Name).Length);
        }
        // every file records one libtorch version (the string the metadata holds, not one restated here)
        var versions = Directory.GetFiles(Oracle.Directory!, "*.safetensors").Select(path =>
        {
            using var f = SafeTensorsFile.Open(path);
            Assert.True(f.Metadata.TryGetValue("torch", out var v) && System.Text.RegularExpressions.Regex.IsMatch(v, @"^\d+\.\d+\.\d+"), $"{path}: 'torch' metadata missing or not a version");
            return f.Metadata["torch"];
        }).Distinct().ToList();
        Assert.Single(versions);
        using var fp16 = Oracle.Open("fp16.safetensors");
        Assert.NotEmpty(Oracle.Cases(fp16));
        foreach (var c in Oracle.Cases(fp16)) Assert.Equal(DType.F16, fp16[$"{c}.h"].DType);
        using var r18 = Oracle.Open("resnet18.safetensors");
        Assert.Equal(int.Parse(r18.Metadata["state_dict_entries"], System.Globalization.CultureInfo.InvariantCulture), r18.Entries.Count);
        Assert.Equal([64, 3, 7, 7], r18["conv1.weight"].Shape);
        Assert.Equal(DType.I64, r18["bn1.num_batches_tracked"].DType);
    }

    private static byte[] Valid() => SafeTensorsWriter.ToBytes(
        [new("a", DType.F32, [2, 2], new byte[16]), new("b", DType.I64, [3], new byte[24])],
        new Dictionary<string, string> { ["k"] = "v" });

    private static byte[] WithHeader(string json, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var b = new byte[8 + h.Length + dataBytes];
        BitConverter.TryWriteBytes(b.AsSpan(0, 8), (ulong)h.Length);
        h.CopyTo(b, 8);
        return b;
    }

    [Theory]
    [InlineData("short", "too short")]
    [InlineData("hugeheader", "exceeds")]
    [InlineData("pastend", "past the end")]
    [InlineData("notjson", "not valid")]
    [InlineData("array", "not an object")]
    [InlineData("nodtype", "no string 'dtype'")]
    [InlineData("baddtype", "unsupported dtype 'Q7'")]
    [InlineData("negdim", "invalid dimension")]
    [InlineData("offsets", "invalid data_offsets")]
    [InlineData("truncated", "truncated")]
    [InlineData("size", "needs 16")]
    [InlineData("overlap", "overlap")]
    [InlineData("metadata", "not a string")]
    public void MalformedFilesAreRejectedWithAReason(string kind, string expected)
    {
        byte[] bytes = kind switch
        {
            "short" => [1, 2, 3],
            "hugeheader" => [0, 0, 0, 0, 0, 0, 0, 0x40, 0],
            "pastend" => [100, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}'],
            "notjson" => WithHeader("{\"a\": [1, 2", 0),
            "array" => WithHeader("[1, 2]", 0),
            "nodtype" => WithHeader("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
            "baddtype" => WithHeader("{\"a\": {\"dtype\": \"Q7\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
            "negdim" => WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4),
            "offsets" => WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 8),
            "truncated" => WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8),
            "size" => WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}", 16),
            "overlap" => WithHeader("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12),
            _ => WithHeader("{\"__metadata__\": {\"x\": 3}}", 0),
        };
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.FromBytes(bytes, "broken.safetensors"));
        Assert.Contains("broken.safetensors", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void FuzzedFilesEitherParseWithinBoundsOrFailCleanly()
    {
        var valid = Valid();
        var rng = new Random(12345);
        int parsed = 0, rejected = 0;
        for (int i = 0; i < 3000; i++)
        {
            var b = (byte[])valid.Clone();
            switch (rng.Next(4))
            {
                case 0: for (int k = 0; k < 1 + rng.Next(4); k++) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8)); break;
                case 1: for (int k = 0; k < 1 + rng.Next(3); k++) b[8 + rng.Next(b.Length - 8)] = (byte)rng.Next(256); break;
                case 2: b = b[..rng.Next(b.Length)]; break;
                default: BitConverter.TryWriteBytes(b.AsSpan(0, 8), (ulong)rng.NextInt64(0, 1L << 40) >> rng.Next(40)); break;
            }
            try
            {
                using var f = SafeTensorsFile.FromBytes(b, "fuzz");
                foreach (var e in f.Entries) Assert.True(e.DataOffset + e.ByteLength <= b.Length);
                parsed++;
            }
            catch (SafeTensorsFormatException) { rejected++; }
        }
        Assert.True(parsed > 0 && rejected > 0, $"parsed {parsed}, rejected {rejected}");
    }

    [Fact]
    public void AFailedWriteLeavesThePreviousFileIntactAndNoTemporaryFile()
    {
        var dir = Directory.CreateTempSubdirectory("st-atomic").FullName;
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensorsWriter.Write(path, [new("w", DType.F32, [1], new byte[4])]);
        var before = File.ReadAllBytes(path);
        Assert.ThrowsAny<ArgumentException>(() => SafeTensorsWriter.Write(path, [new("w", DType.F32, [2], new byte[4])]));
        static IEnumerable<SafeTensorsWriter.Item> Failing()
        {
            yield return new("w", DType.F32, [1], new byte[4]);
            throw new IOException("disk vanished");
        }
        Assert.Throws<IOException>(() => SafeTensorsWriter.Write(path, Failing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(["model.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MissingNameIsReportedWithTheFile()
    {
        using var f = SafeTensorsFile.FromBytes(Valid(), "mem.safetensors");
        var e = Assert.Throws<KeyNotFoundException>(() => f.GetBytes("zzz"));
        Assert.Contains("mem.safetensors", e.Message);
        Assert.Contains("zzz", e.Message);
        Assert.Equal("v", f.Metadata["k"]);
    }
}

public class SafeTensorsLayoutTests
{
    [Fact]
    public void WrittenDataBlockHasNoGapsAndEveryTensorIsAlignedToItsElementSize()
    {
        var bytes = Cuda.Nn.IO.SafeTensorsWriter.ToBytes([
            new("u8", Kernels.DType.U8, [3], new byte[3]), new("f64", Kernels.DType.F64, [2], new byte[16]),
            new("f16", Kernels.DType.F16, [1], new byte[2]), new("f32", Kernels.DType.F32, [1], new byte[4])]);
        using var f = Cuda.Nn.IO.SafeTensorsFile.FromBytes(bytes, "mem");
        Assert.Equal(["u8", "f64", "f16", "f32"], f.Entries.Select(e => e.Name));
        var sorted = f.Entries.OrderBy(e => e.DataOffset).ToList();
        long dataStart = bytes.Length - sorted.Sum(e => e.ByteLength);
        Assert.Equal(dataStart, sorted[0].DataOffset);
        for (int i = 1; i < sorted.Count; i++) Assert.Equal(sorted[i - 1].DataOffset + sorted[i - 1].ByteLength, sorted[i].DataOffset);
        Assert.All(f.Entries, e => Assert.Equal(0, e.DataOffset % Kernels.DTypeInfo.SizeOf(e.DType)));
    }
}
