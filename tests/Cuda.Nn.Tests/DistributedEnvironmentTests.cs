// Rendezvous from the launcher's environment: mpirun's OMPI_COMM_WORLD_* and torchrun's RANK/WORLD_SIZE/...,
// read through a dictionary so no test touches the process environment.
using Cuda.Nn.Distributed;

namespace Cuda.Nn.Tests;

public sealed class DistributedEnvironmentTests
{
    private static DistributedEnvironment Read(params (string Name, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Name, v => v.Value);
        return DistributedEnvironment.FromVariables(n => d.GetValueOrDefault(n));
    }

    [Fact]
    public void NoLauncherIsOneProcess()
    {
        var env = Read();
        Assert.Equal(DistributedEnvironment.Single, env);
        Assert.False(env.IsDistributed);
        Assert.IsType<SingleProcessCollectives>(env.CreateCollectives());
    }

    [Fact]
    public void ReadsOpenMpisVariables()
    {
        var env = Read(("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "2"));
        Assert.Equal(new DistributedEnvironment(Launcher.OpenMpi, 3, 4, 1, 2), env);
        Assert.Null(env.MasterAddr);
        // Without the local variables every rank is taken to be on this machine.
        Assert.Equal(new DistributedEnvironment(Launcher.OpenMpi, 1, 2, 1, 2), Read(("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "2")));
    }

    [Fact]
    public void ReadsTorchrunsVariables()
    {
        var env = Read(("RANK", "5"), ("WORLD_SIZE", "8"), ("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "4"), ("MASTER_ADDR", "10.0.0.1"), ("MASTER_PORT", "29500"));
        Assert.Equal(new DistributedEnvironment(Launcher.Torchrun, 5, 8, 1, 4) { MasterAddr = "10.0.0.1", MasterPort = 29500 }, env);
        Assert.Equal("rank 5 of 8 (Torchrun, local rank 1 of 4)", env.ToString());
        // One torchrun process needs no rendezvous and runs alone.
        Assert.IsType<SingleProcessCollectives>(Read(("RANK", "0"), ("WORLD_SIZE", "1")).CreateCollectives());
    }

    [Fact]
    public void TorchrunWithSeveralRanksSaysWhatIsMissingAndWhatWorks()
    {
        var env = Read(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29500"));
        var e = Assert.Throws<NotSupportedException>(() => env.CreateCollectives());
        Assert.Contains("not implemented", e.Message);
        Assert.Contains("mpirun -n 2", e.Message);
    }

    [Theory]
    [InlineData("OMPI_COMM_WORLD_RANK=abc,OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=abc")]
    [InlineData("OMPI_COMM_WORLD_RANK=2,OMPI_COMM_WORLD_SIZE=2", "OMPI_COMM_WORLD_RANK=2: expected an integer in [0, 1]")]
    [InlineData("OMPI_COMM_WORLD_RANK=0", "OMPI_COMM_WORLD_SIZE is not set")]
    [InlineData("OMPI_COMM_WORLD_RANK=1,OMPI_COMM_WORLD_SIZE=2,RANK=0", "RANK=0 contradicts mpirun's OMPI_COMM_WORLD_RANK=1")]
    [InlineData("RANK=0,WORLD_SIZE=0", "WORLD_SIZE=0: expected an integer in [1,")]
    [InlineData("RANK=-1,WORLD_SIZE=2", "RANK=-1")]
    [InlineData("RANK=1,WORLD_SIZE=2", "needs MASTER_ADDR and MASTER_PORT")]
    [InlineData("RANK=1,WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=70000", "MASTER_PORT=70000")]
    [InlineData("WORLD_SIZE=2,MASTER_ADDR=h,MASTER_PORT=1", "RANK is not set")]
    public void BadVariablesAreNamed(string vars, string fragment)
    {
        var pairs = vars.Split(',').Select(v => v.Split('=')).Select(p => (p[0], p[1])).ToArray();
        Assert.Contains(fragment, Assert.Throws<ArgumentException>(() => Read(pairs)).Message);
    }

    [Theory]
    [InlineData(2, 2, 2, 2, 1)]      // this machine: 2 cores, mpirun -n 2 --bind-to none
    [InlineData(16, 16, 16, 2, 8)]   // unbound: the cores are shared
    [InlineData(1, 1, 16, 2, 1)]     // mpirun's default core binding: the rank's one core is its share
    [InlineData(8, 8, 16, 2, 8)]     // bound to a socket of 8 cores
    [InlineData(2, 64, 64, 2, 1)]    // a container's CPU quota of 2 on a 64-core host
    [InlineData(1, 1, 1, 4, 1)]      // never fewer than one thread
    [InlineData(12, null, null, 3, 4)]
    public void ThreadsPerRankAreTheCoresSharedByTheLocalRanks(int processorCount, int? affinity, int? online, int localRanks, int expected)
    {
        var env = new DistributedEnvironment(Launcher.OpenMpi, 0, localRanks, 0, localRanks);
        Assert.Equal(expected, env.ThreadsFor(processorCount, affinity, online));
    }

    [Fact]
    public void OnlineCpusReadsTheKernelsRanges()
    {
        var f = Path.GetTempFileName();
        try
        {
            File.WriteAllText(f, "0-3,8-11,15\n");
            Assert.Equal(9, DistributedEnvironment.OnlineCpus(f));
            File.WriteAllText(f, "garbage");
            Assert.Null(DistributedEnvironment.OnlineCpus(f));
            Assert.Null(DistributedEnvironment.OnlineCpus(f + ".missing"));
        }
        finally { File.Delete(f); }
    }
}
