// The library's JSON goes through source-generated contracts (src/Nn/IO/JsonContracts.cs, for trimming and NativeAOT).
// What that must not change: a config file that names a few keys keeps every other default, unknown keys stay
// errors, and the written names stay snake_case.
using Cuda.Nn.Training;

namespace Cuda.Nn.Tests;

public class JsonContractTests
{
    [Fact]
    public void AConfigFileNamingOneKeyKeepsEveryOtherDefault()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("json-contracts").FullName, "config.json");
        File.WriteAllText(path, """{"epochs": 2}""");
        var read = TrainConfig.FromJsonFile(path);
        Assert.Equal(2, read.Epochs);
        var expected = new TrainConfig { Epochs = 2 };
        Assert.Equal(expected.ToJson(), read.ToJson());
        Assert.Contains("\"batch_size\": " + new TrainConfig().BatchSize, read.ToJson());

        File.WriteAllText(path, """{"epochs": 2, "batchsize": 64}""");
        var e = Assert.Throws<InvalidDataException>(() => TrainConfig.FromJsonFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("batchsize", e.Message);
        Directory.Delete(Path.GetDirectoryName(path)!, true);
    }
}
