// The collectives without a launcher: the single-process implementation, the F16/BF16 widening across bucket edges,
// that the dist-check can fail, and libmpi's lookup and its errors. MpiRunTests runs them across processes.
using Cuda.Nn.Distributed;
using Cuda.Nn.Kernels;
using Cuda.Nn.Kernels.Cpu;

namespace Cuda.Nn.Tests;

public sealed unsafe class CollectivesTests
{
    [Fact]
    public void OneProcessLeavesEveryBufferAsItIs()
    {
        using var c = new SingleProcessCollectives();
        float[] f = [1.5f, -2, 3];
        double[] d = [0.1, 7];
        Half[] h = [(Half)1.25, (Half)(-3)];
        ushort[] b = [CpuCopy.FloatToBf16(2.5f)];
        foreach (var op in new[] { AllReduceOp.Sum, AllReduceOp.Average })
        {
            c.AllReduce(f, op);
            c.AllReduce(d, op);
            c.AllReduce(h, op);
            c.AllReduceBf16(b, op);
        }
        Assert.Equal([1.5f, -2, 3], f);
        Assert.Equal([0.1, 7], d);
        Assert.Equal([(Half)1.25, (Half)(-3)], h);
        Assert.Equal(2.5f, CpuCopy.Bf16ToFloat(b[0]));
        using var t = Tensor.FromArray(new float[] { 4, 5 }, 2);
        c.AllReduce(t, AllReduceOp.Average);
        Assert.Equal([4f, 5f], t.ToArray<float>());
        Assert.Equal([3.5, 1], c.AllGather([3.5, 1]));
        c.Barrier();
        Assert.Contains("root rank 1 is outside [0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() => c.Broadcast<byte>(new byte[4], 1)).Message);
        Assert.Contains("I64", Assert.Throws<NotSupportedException>(() => c.AllReduce(DType.I64, 0, 1, AllReduceOp.Sum)).Message);
    }

    [Theory]
    [InlineData(DType.F16)]
    [InlineData(DType.BF16)]
    public void HalfPrecisionIsReducedInF32OneBucketAtATimeAndRoundedOnce(DType dtype)
    {
        // A stand-in transport: "the other rank holds the same values", so the F32 sum is 2x + 1/3 of a unit.
        const int bucket = 64, n = 2 * bucket + 3;
        var buffer = new byte[n * 2];
        var chunks = new List<long>();
        var expected = new double[n];
        fixed (byte* p = buffer)
        {
            byte* one = stackalloc byte[2];
            for (int i = 0; i < n; i++)
            {
                CpuCopy.WriteDouble(dtype, p + 2 * i, (i - 60) * 0.37);
                float x = (float)CpuCopy.ReadDouble(dtype, p + 2 * i);
                CpuCopy.WriteDouble(dtype, one, 2 * x + 1 / 3f);
                expected[i] = CpuCopy.ReadDouble(dtype, one);
            }
            WideningReduce.Run(dtype, (nint)p, n, bucket, (q, count) =>
            {
                chunks.Add(count);
                var s = new Span<float>((float*)q, (int)count);
                for (int i = 0; i < s.Length; i++) s[i] = 2 * s[i] + 1 / 3f;
            });
            Assert.Equal([bucket, bucket, 3L], chunks);
            for (int i = 0; i < n; i++) Assert.Equal(expected[i], CpuCopy.ReadDouble(dtype, p + 2 * i));
        }
    }

    /// <summary>A "two-rank" transport that does nothing: the check must notice.</summary>
    private sealed class DeafCollectives : ICollectives
    {
        public int Rank => 0;
        public int WorldSize => 2;
        public string Description => "deaf";
        public void AllReduce(DType dtype, nint buffer, long count, AllReduceOp op) { }
        public void Broadcast(nint buffer, long bytes, int root) { }
        public void Barrier() { }
        public double[] AllGather(ReadOnlySpan<double> values) => [.. values.ToArray(), .. values.ToArray()];
        public void Dispose() { }
    }

    [Fact]
    public void DistCheckFailsOnATransportThatDoesNotReduce()
    {
        var log = new StringWriter();
        var check = new CollectivesCheck(new DeafCollectives(), log);
        Assert.False(check.Run([5]));
        var text = log.ToString();
        // All 8 all-reduce checks (4 dtypes x sum/average), the broadcast and the all-gather fail; barrier and signals pass.
        Assert.Equal(10, check.Failed);
        Assert.Contains("rank 0/2: all-reduce sum F32 n=5: max error", text);
        Assert.Contains("expected", text);
        Assert.Contains("broadcast of 1003 bytes from rank 1", text);
        Assert.Contains("FAILED", text);
    }

    [Fact]
    public void LibmpiIsLookedForWhereDistributionsPutIt()
    {
        var root = Directory.CreateTempSubdirectory("mpi-root").FullName;
        try
        {
            var env = new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = "/first:/second", ["OPAL_PREFIX"] = "/opt/ompi" };
            var dirs = MpiLibrary.SearchDirectories(env.GetValueOrDefault, root);
            Assert.Equal(["/first", "/second", "/opt/ompi/lib"], dirs.Take(3));
            Assert.Contains(Path.Join(root, "usr/lib64/openmpi/lib"), dirs); // Fedora's
            Assert.Null(MpiLibrary.Locate(dirs));
            var ompi = Directory.CreateDirectory(Path.Join(root, "usr/lib/x86_64-linux-gnu/openmpi/lib")).FullName;
            File.WriteAllBytes(Path.Join(ompi, "libmpi.so.40"), []);
            Assert.Equal(Path.Join(ompi, "libmpi.so.40"), MpiLibrary.Locate(dirs));

            var message = MpiLibrary.NotFoundMessage(dirs, []);
            Assert.Contains("libmpi.so.40 was not found", message);
            Assert.Contains(ompi, message); // the folders that exist are listed
            Assert.Contains("apt-get install openmpi-bin libopenmpi-dev", message);
            Assert.Contains("CUDANN_MPI_PATH", message);
        }
        finally { Directory.Delete(root, true); }
    }

    private static (int Code, string Out, string Err) DistCheck(params (string, string)[] env) =>
        CudannProcess.RunWith(env.ToDictionary(e => e.Item1, e => e.Item2), "dist-check");

    [Fact]
    public void AMissingLibmpiIsOneLineNamingTheFile()
    {
        var (code, _, err) = DistCheck(("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "1"), ("CUDANN_MPI_PATH", "/nonexistent/libmpi.so.40"));
        Assert.Equal(1, code);
        Assert.Equal("cudann dist-check: CUDANN_MPI_PATH=/nonexistent/libmpi.so.40 could not be loaded: /nonexistent/libmpi.so.40: cannot open shared object file: No such file or directory", err.Trim());
    }

    [Fact]
    public void ALibraryThatIsNotOpenMpiIsNamed()
    {
        var libc = new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6" }.FirstOrDefault(File.Exists);
        if (libc is null) Assert.Skip("no libc.so.6 at the usual paths");
        var (code, _, err) = DistCheck(("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "1"), ("CUDANN_MPI_PATH", libc));
        Assert.Equal(1, code);
        Assert.Contains($"{libc} has no symbol ompi_mpi_comm_world: it is not Open MPI", err);
    }

    [Fact]
    public void LauncherErrorsReachTheCommandLine()
    {
        var (code, _, err) = DistCheck(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500"));
        Assert.Equal(1, code);
        Assert.StartsWith("cudann dist-check: torchrun's environment (RANK=0, WORLD_SIZE=2)", err);
        (code, _, err) = DistCheck(("RANK", "x"), ("WORLD_SIZE", "2"));
        Assert.Equal(1, code);
        Assert.Contains("RANK=x: expected an integer", err);
    }
}
