// PyTorch .pth state dicts: fixtures come from Support/make_pth.py (Python's own pickle and zipfile with
// stand-in torch names, no torch needed), compared bit for bit with safetensors files of the same tensors.
// Hostile and damaged files must fail with an InvalidDataException naming the file, and never run anything.
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Cuda.Nn.IO;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public sealed class PthFileTests
{
    private static readonly Lazy<(string Dir, string Marker)> Fixtures = new(MakeFixtures);

    private static string Python() => PythonInterpreter.RequireOrSkip("the .pth fixtures cannot be generated");

    private static string Script
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Cuda.Nn.sln"))) return Path.Combine(d.FullName, "tests", "Cuda.Nn.Tests", "Support", "make_pth.py");
            throw new DirectoryNotFoundException($"no folder holding Cuda.Nn.sln above {AppContext.BaseDirectory}");
        }
    }

    private static string RunScript(params string[] args)
    {
        var psi = new ProcessStartInfo(Python()) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"make_pth.py {string.Join(' ', args)} ran longer than a minute");
        }
        Assert.True(p.ExitCode == 0, $"make_pth.py {string.Join(' ', args)} failed:\n{stdout.Result}{stderr.Result}");
        return stdout.Result;
    }

    private static (string Dir, string Marker) MakeFixtures()
    {
        var dir = Directory.CreateTempSubdirectory("cudann-pth-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, true); } catch (IOException) { } };
        var marker = Path.Combine(dir, "PAYLOAD_RAN");
        RunScript("fixtures", dir, marker);
        return (dir, marker);
    }

    private static string Fixture(string name)
    {
        Python();
        return Path.Combine(Fixtures.Value.Dir, name);
    }

    private static unsafe byte[] Bytes(Tensor t)
    {
        using var c = t.Contiguous();
        int size = c.DType.SizeOf();
        return new ReadOnlySpan<byte>(((CpuStorage)c.Storage).Pointer + (long)c.Layout.Offset * size, c.Numel * size).ToArray();
    }

    private static void AssertSameTensors(Dictionary<string, Tensor> expected, Dictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, e) in expected)
        {
            var a = actual[k];
            Assert.True(e.DType == a.DType, $"{k}: dtype {a.DType}, expected {e.DType}");
            Assert.True(e.Shape.SequenceEqual(a.Shape), $"{k}: shape {Layout.ShapeString(a.Shape)}, expected {Layout.ShapeString(e.Shape)}");
            Assert.True(Bytes(e).AsSpan().SequenceEqual(Bytes(a)), $"{k}: bytes differ");
        }
    }

    private static void DisposeAll(Dictionary<string, Tensor> d)
    {
        foreach (var t in d.Values) t.Dispose();
    }

    [Theory]
    [InlineData("basic.pth", "basic.safetensors")]
    [InlineData("basic_p3.pth", "basic.safetensors")]
    [InlineData("basic_p4.pth", "basic.safetensors")]
    [InlineData("basic_p5.pth", "basic.safetensors")]
    [InlineData("prefix.pth", "basic.safetensors")]
    [InlineData("bigendian.pth", "basic.safetensors")]
    [InlineData("plaindict.pth", "basic.safetensors")]
    [InlineData("nested.pth", "basic.safetensors")]
    [InlineData("dataparallel.pth", "basic.safetensors")]
    [InlineData("views.pth", "views.safetensors")]
    public void PthAndSafetensorsOfTheSameStateDictAreBitIdentical(string pth, string safetensors)
    {
        var expected = TensorFile.Load(Fixture(safetensors));
        var actual = PthFile.Load(Fixture(pth));
        try
        {
            Assert.NotEmpty(actual);
            AssertSameTensors(expected, actual);
        }
        finally { DisposeAll(expected); DisposeAll(actual); }
    }

    [Fact]
    public void EveryDTypeAndViewKindIsCovered()
    {
        var basic = PthFile.Load(Fixture("basic.pth"));
        var views = PthFile.Load(Fixture("views.pth"));
        try
        {
            Assert.Equal(Enum.GetValues<DType>().Order(), basic.Values.Select(t => t.DType).Distinct().Order());
            Assert.Equal([0, 3], basic["empty"].Shape);
            Assert.Empty(basic["bn.num_batches_tracked"].Shape);
            // Independent of the generator's own view arithmetic: the views are what Tensor's views give.
            var full = views["full"];
            using var scope = new DisposeScope();
            Assert.Equal(full.T().ToDoubleArray(), views["transposed"].ToDoubleArray());
            Assert.Equal(full.Reshape(24).ToDoubleArray()[7..10].Concat(full.Reshape(24).ToDoubleArray()[13..16]), views["window"].ToDoubleArray());
            Assert.Equal(full.Reshape(24).ToDoubleArray()[23], views["scalar"].ToDoubleArray().Single());
        }
        finally { DisposeAll(basic); DisposeAll(views); }
    }

    [Theory]
    [InlineData("hostile_os_system.pth", "os.system")]
    [InlineData("hostile_builtins_eval.pth", "builtins.eval")]
    [InlineData("hostile_subprocess_popen.pth", "subprocess.Popen")]
    [InlineData("hostile_stack_global.pth", "os.system")]
    [InlineData("hostile_inst.pth", "os.system")]
    public void HostileGlobalsAreRefusedAndNothingRuns(string file, string global)
    {
        var path = Fixture(file);
        var e = Assert.Throws<InvalidDataException>(() => PthFile.Load(path));
        Assert.Equal($"{path}: refuses global '{global}' (only tensors, OrderedDict and primitive types are loaded, as torch.load(weights_only=True))", e.Message);
        Assert.Throws<InvalidDataException>(() => StateDictFile.Load(path));
        Assert.False(File.Exists(Fixtures.Value.Marker), "the payload ran");
    }

    [Fact]
    public void TheHostileFixturesDoRunTheirPayloadUnderAnUnrestrictedUnpickler()
    {
        // Without this, a refused fixture could be harmless by mistake and the test above would prove nothing.
        var dir = Directory.CreateTempSubdirectory("cudann-pth-live-").FullName;
        try
        {
            var marker = Path.Combine(dir, "RAN");
            RunScript("fixtures", dir, marker);
            foreach (var kind in new[] { "os_system", "builtins_eval", "subprocess_popen", "stack_global", "inst" })
            {
                RunScript("unpickle", Path.Combine(dir, $"hostile_{kind}.pth"));
                Assert.True(File.Exists(marker), $"hostile_{kind}.pth did not run its payload under Python's pickle");
                File.Delete(marker);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("nontensor.pth", "entry 'step' of the state dict is an int, not a tensor")]
    [InlineData("int16.pth", "tensor 'w' is stored as torch.ShortStorage, a dtype Cuda.Nn does not support")]
    [InlineData("toplist.pth", "holds a list, not a state dict")]
    [InlineData("outofrange.pth", "tensor 'w' (shape [2, 2], stride (3, 1), offset 0) reaches element 4 of storage '0', which has 4")]
    [InlineData("badoffset.pth", "reaches element 4 of storage '0'")]
    [InlineData("legacy.pth", "a legacy (torch < 1.6, not zip) torch.save file; re-save it with a current torch")]
    public void UnsupportedContentIsAnErrorNamingFileAndReason(string file, string expected)
    {
        var path = Fixture(file);
        var e = Assert.Throws<InvalidDataException>(() => PthFile.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    // ---------- zips made here: damaged or not torch.save files ----------

    private static Dictionary<string, byte[]> Records(string pth)
    {
        using var z = ZipFile.OpenRead(pth);
        return z.Entries.ToDictionary(e => e.FullName, e => { using var s = e.Open(); using var m = new MemoryStream(); s.CopyTo(m); return m.ToArray(); });
    }

    private static MemoryStream MakeZip(IEnumerable<KeyValuePair<string, byte[]>> records, CompressionLevel level = CompressionLevel.NoCompression)
    {
        var m = new MemoryStream();
        using (var z = new ZipArchive(m, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, data) in records)
            {
                using var s = z.CreateEntry(name, level).Open();
                s.Write(data);
            }
        m.Position = 0;
        return m;
    }

    /// <summary>The file with one bit flipped inside the stored bytes of a record.</summary>
    private static byte[] FlipInside(byte[] file, byte[] record)
    {
        int at = file.AsSpan().IndexOf(record);
        Assert.True(at > 0);
        file[at + record.Length / 2] ^= 1;
        return file;
    }

    [Theory]
    [InlineData("empty", "no <name>/data.pkl record, so it is not a torch.save file (it is empty)")]
    [InlineData("nopickle", "no <name>/data.pkl record, so it is not a torch.save file (it holds 'archive/version'")]
    [InlineData("rootpickle", "no <name>/data.pkl record")]
    [InlineData("twopickles", "several state pickles")]
    [InlineData("missingrecord", "record 'archive/data/3' (the storage of tensor 'bn.num_batches_tracked') is missing")]
    [InlineData("shortrecord", "record 'archive/data/0' holds 100 bytes but tensor 'conv.weight' needs 432 for its 108-element torch.FloatStorage")]
    [InlineData("byteorder", "record 'archive/byteorder' says 'middle', not 'little' or 'big'")]
    [InlineData("garbledpickle", "data.pkl byte 0: unknown pickle opcode 0x00")]
    [InlineData("notzip", "not a PyTorch file (torch.save writes a zip archive; this has no zip signature)")]
    [InlineData("zipheaderonly", "cannot read the zip directory")]
    [InlineData("crc", "record 'archive/data/0' fails its CRC-32 check: the file is damaged")]
    [InlineData("torchscript", "a TorchScript archive (torch.jit.save), not a torch.save state dict")]
    public void DamagedOrForeignArchivesAreErrorsNamingTheFile(string kind, string expected)
    {
        var basic = Records(Fixture("basic.pth"));
        IEnumerable<KeyValuePair<string, byte[]>> With(string name, byte[] data) => basic.Where(p => p.Key != name).Append(new(name, data));
        Stream s = kind switch
        {
            "empty" => MakeZip([]),
            "nopickle" => MakeZip(basic.Where(p => p.Key != "archive/data.pkl").OrderByDescending(p => p.Key == "archive/version")),
            "rootpickle" => MakeZip(basic.Select(p => new KeyValuePair<string, byte[]>(p.Key["archive/".Length..], p.Value))),
            "twopickles" => MakeZip(basic.Append(new("other/data.pkl", basic["archive/data.pkl"]))),
            "missingrecord" => MakeZip(basic.Where(p => p.Key != "archive/data/3")),
            "shortrecord" => MakeZip(With("archive/data/0", new byte[100])),
            "torchscript" => MakeZip(basic.Append(new("archive/constants.pkl", "not read"u8.ToArray()))),
            "byteorder" => MakeZip(With("archive/byteorder", "middle"u8.ToArray())),
            "garbledpickle" => MakeZip(With("archive/data.pkl", new byte[40]), CompressionLevel.Optimal),
            "notzip" => new MemoryStream("{\"a\": 1}"u8.ToArray()),
            "crc" => new MemoryStream(FlipInside(File.ReadAllBytes(Fixture("basic.pth")), basic["archive/data/0"])),
            _ => new MemoryStream([(byte)'P', (byte)'K', 3, 4, 0, 0, 0]),
        };
        var e = Assert.Throws<InvalidDataException>(() => PthFile.Load(s, "made.pth"));
        Assert.StartsWith("made.pth: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    private static void LoadsOrFailsCleanly(Func<Dictionary<string, Tensor>> load, string source, ref int loaded, ref int rejected)
    {
        try
        {
            DisposeAll(load());
            loaded++;
        }
        catch (InvalidDataException e)
        {
            Assert.True(e.Message.StartsWith(source + ": ", StringComparison.Ordinal), $"message does not name the file: {e.Message}");
            rejected++;
        }
    }

    [Fact]
    public void TruncatedAndBitFlippedFilesLoadOrFailCleanly()
    {
        var valid = File.ReadAllBytes(Fixture("basic.pth"));
        var rng = new Random(2024);
        int loaded = 0, rejected = 0;
        for (int cut = 0; cut < valid.Length; cut += 7)
            LoadsOrFailsCleanly(() => PthFile.Load(new MemoryStream(valid[..cut]), "fuzz.pth"), "fuzz.pth", ref loaded, ref rejected);
        for (int i = 0; i < 1500; i++)
        {
            var b = (byte[])valid.Clone();
            for (int k = 0; k < 1 + rng.Next(4); k++)
                if (rng.Next(2) == 0) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                else b[rng.Next(b.Length)] = (byte)rng.Next(256);
            LoadsOrFailsCleanly(() => PthFile.Load(new MemoryStream(b), "fuzz.pth"), "fuzz.pth", ref loaded, ref rejected);
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"loaded {loaded}, rejected {rejected}");
        Assert.True(loaded > 0 && rejected > 0, $"loaded {loaded}, rejected {rejected}");
    }

    [Fact]
    public void FuzzedPicklesInsideValidZipsLoadOrFailCleanly()
    {
        // The zip CRC stops most flips of the raw file; here the pickle itself is mutated and rezipped, so
        // shapes, strides, offsets, keys, opcodes and lengths reach the unpickler and the tensor builder.
        var rng = new Random(77);
        int loaded = 0, rejected = 0;
        foreach (var fixture in new[] { "basic.pth", "basic_p4.pth", "views.pth" })
        {
            var records = Records(Fixture(fixture));
            var pickle = records["archive/data.pkl"];
            for (int i = 0; i < 700; i++)
            {
                var p = (byte[])pickle.Clone();
                switch (rng.Next(4))
                {
                    case 0: for (int k = 0; k < 1 + rng.Next(3); k++) p[rng.Next(p.Length)] ^= (byte)(1 << rng.Next(8)); break;
                    case 1: for (int k = 0; k < 1 + rng.Next(3); k++) p[rng.Next(p.Length)] = (byte)rng.Next(256); break;
                    case 2: p = p[..rng.Next(p.Length)]; break;
                    default: { int at = rng.Next(p.Length - 4); p[at] = (byte)"KJMXhq("[rng.Next(7)]; p[at + 1] = (byte)rng.Next(256); break; }
                }
                var zip = MakeZip(records.Where(r => r.Key != "archive/data.pkl").Prepend(new("archive/data.pkl", p)));
                LoadsOrFailsCleanly(() => PthFile.Load(zip, "fuzz.pth"), "fuzz.pth", ref loaded, ref rejected);
            }
        }
        for (int i = 0; i < 2000; i++) // random bytes straight into the unpickler
        {
            var p = new byte[rng.Next(1, 64)];
            rng.NextBytes(p);
            if (rng.Next(2) == 0) p[0] = 0x80;
            try { TorchPickle.Load(p, "fuzz.pth"); }
            catch (InvalidDataException e) { Assert.StartsWith("fuzz.pth: ", e.Message); }
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"loaded {loaded}, rejected {rejected}");
        Assert.True(loaded > 0 && rejected > 0, $"loaded {loaded}, rejected {rejected}");
    }

    private static byte[] P(string hexOrText) => Encoding.Latin1.GetBytes(hexOrText);

    [Theory]
    [InlineData("deep", "MARKs nest deeper than 256")]
    [InlineData("stack", "the stack exceeds 1048576 items")]
    [InlineData("hugestring", "a string of 2147483647 bytes exceeds the 16777216-byte limit")]
    [InlineData("claimedstring", "truncated: needs 1000 more bytes")]
    [InlineData("long4", "LONG4 of 1000000 bytes (at most 64)")]
    [InlineData("memo", "memo entry 7 was never stored")]
    [InlineData("listkey", "a dict key of type list is not supported")]
    [InlineData("underflow", "stack underflow")]
    [InlineData("ext", "EXT opcodes")]
    [InlineData("nostop", "the pickle ends without STOP")]
    [InlineData("build", "BUILD of a list")]
    [InlineData("callstring", "REDUCE of a str, which is not a permitted function")]
    [InlineData("storagecall", "'torch.FloatStorage' cannot be called")]
    [InlineData("badpid", "a persistent id that is a str")]
    [InlineData("pathkey", "storage key '../x' is not a short name")]
    [InlineData("longname", "a GLOBAL name has no end of line within 1024 bytes")]
    [InlineData("keywork", "more than 67108864 steps of key hashing and copying")]
    public void HostilePicklesHitALimitOrARuleNotACrash(string kind, string expected)
    {
        byte[] pickle = kind switch
        {
            "deep" => P("\u0080\u0002" + new string('(', 300) + "N."),
            "stack" => P("\u0080\u0002" + new string('N', (1 << 20) + 1) + "."),
            "hugestring" => P("\u0080\u0002X\u00ff\u00ff\u00ff\u007f"),
            "claimedstring" => P("\u0080\u0002X\u00e8\u0003\u0000\u0000abc."),
            "long4" => P("\u0080\u0002\u008b\u0040\u0042\u000f\u0000"),
            "memo" => P("\u0080\u0002h\u0007."),
            "listkey" => P("\u0080\u0002}]Ns."),
            "underflow" => P("\u0080\u0002(0."),
            "ext" => P("\u0080\u0002\u0082\u0001."),
            "nostop" => P("\u0080\u0002N"),
            "build" => P("\u0080\u0002]}b."),
            "callstring" => P("\u0080\u0002X\u0001\u0000\u0000\u0000a)R."),
            "storagecall" => P("\u0080\u0002ctorch\nFloatStorage\n)R."),
            "badpid" => P("\u0080\u0002X\u0001\u0000\u0000\u0000aQ."),
            "pathkey" => P("\u0080\u0002(X\u0007\u0000\u0000\u0000storagectorch\nFloatStorage\nX\u0004\u0000\u0000\u0000../xX\u0003\u0000\u0000\u0000cpuK\u0001tQ."),
            // One 1 MB key reused through the memo: each SETITEM would hash it again.
            "keywork" => P("\u0080\u0002}X\u0000\u0000\u0010\u0000" + new string('a', 1 << 20) + "q\u00010" + string.Concat(Enumerable.Repeat("h\u0001Ns", 100)) + "."),
            _ => P("\u0080\u0002c" + new string('a', 5000) + "\nb\n."),
        };
        var e = Assert.Throws<InvalidDataException>(() => TorchPickle.Load(pickle, "evil.pth"));
        Assert.StartsWith("evil.pth: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void SelfReferencingContainersTerminate()
    {
        // {'state_dict': <itself>} and a list holding itself: cycles in the object graph are legal pickles.
        var cyclic = MakeZip([new("archive/data.pkl", P("\u0080\u0002}q\u0000X\u000a\u0000\u0000\u0000state_dicth\u0000s."))]);
        var e = Assert.Throws<InvalidDataException>(() => PthFile.Load(cyclic, "cycle.pth"));
        Assert.Contains("entry 'state_dict' of the state dict under 'state_dict' under 'state_dict' under 'state_dict' is a dict, not a tensor", e.Message);
        var list = Assert.IsType<List<object?>>(TorchPickle.Load(P("\u0080\u0002]q\u0000h\u0000a."), "cycle.pth"));
        Assert.Same(list, list[0]);
    }

    // ---------- Checkpoint.LoadModel (train --init) ----------

    [Fact]
    public void CheckpointLoadModelReadsATorchSaveOfAModelsStateDict()
    {
        var dir = Directory.CreateTempSubdirectory("cudann-pth-model-").FullName;
        try
        {
            using var source = ModelRegistry.Create("resnet20", new ModelOptions(10, 1, 28, new Generator(1)));
            var st = Path.Combine(dir, "resnet20.safetensors");
            var pth = Path.Combine(dir, "resnet20.pth");
            TensorFile.Save(st, source.StateDict());
            RunScript("convert", st, pth);

            using var target = ModelRegistry.Create("resnet20", new ModelOptions(10, 1, 28, new Generator(2)));
            Assert.False(Bytes(source.StateDict()["conv1.weight"]).AsSpan().SequenceEqual(Bytes(target.StateDict()["conv1.weight"])));
            var result = Checkpoint.LoadModel(pth, target);
            Assert.True(result.IsClean, result.ToString());
            AssertSameTensors(source.StateDict(), target.StateDict());

            // The same entry point still reads safetensors, and names a legacy torch file's problem.
            using var third = ModelRegistry.Create("resnet20", new ModelOptions(10, 1, 28, new Generator(3)));
            Assert.True(Checkpoint.LoadModel(st, third).IsClean);
            AssertSameTensors(source.StateDict(), third.StateDict());
            var legacy = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadModel(Fixture("legacy.pth"), third));
            Assert.Contains("legacy", legacy.Message);
        }
        finally { Directory.Delete(dir, true); }
    }
}
