// Checks shared by the per-file oracle test classes.
using Cuda.Nn.Tests.Support;

namespace Cuda.Nn.Tests;

internal static class OracleFileChecks
{
    /// <summary>Every case that tensor names use has its metadata entry (so enumerating c0, c1, ... misses none).</summary>
    public static void MetadataListsEveryCase(string file)
    {
        using var oracle = OracleFixture.Open(file);
        Assert.NotEmpty(oracle.Cases);
        var missing = oracle.TensorCases().Except(oracle.Cases).ToList();
        Assert.True(missing.Count == 0, $"{file}: tensors of cases without metadata (not enumerated as c0, c1, ...): {string.Join(", ", missing)}");
    }
}
