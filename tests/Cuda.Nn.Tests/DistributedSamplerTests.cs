// DistributedSampler against PyTorch's algorithm (written out below from torch/utils/data/distributed.py) and the
// properties data-parallel training relies on: disjoint shards covering the data, equal lengths, per-epoch reshuffles,
// and step k of all ranks together being step k of one process with the whole batch.
using Cuda.Nn.Data;
using Cuda.Nn.Distributed;

namespace Cuda.Nn.Tests;

public sealed class DistributedSamplerTests
{
    /// <summary>torch's __iter__ after the permutation: pad with the start of the list (repeated if needed) or cut,
    /// then indices[rank:total_size:num_replicas].</summary>
    private static int[] TorchShard(int[] indices, int rank, int world, bool dropLast)
    {
        int n = indices.Length;
        int numSamples = dropLast && n % world != 0 ? (int)Math.Ceiling((n - world) / (double)world) : (int)Math.Ceiling(n / (double)world);
        int total = numSamples * world;
        var list = indices.ToList();
        if (!dropLast)
        {
            int pad = total - n;
            if (pad <= n) list.AddRange(indices.Take(pad));
            else list.AddRange(Enumerable.Repeat(indices, (int)Math.Ceiling(pad / (double)n)).SelectMany(x => x).Take(pad));
        }
        else list = list.Take(total).ToList();
        return list.Where((_, i) => i >= rank && (i - rank) % world == 0).ToArray();
    }

    [Fact]
    public void HandWorkedCasesMatchTorch()
    {
        // torch, n = 10, 3 replicas, no shuffle: padded [0..9, 0, 1]; drop_last keeps 9.
        int[][] padded = [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]];
        int[][] dropped = [[0, 3, 6], [1, 4, 7], [2, 5, 8]];
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(padded[r], new DistributedSampler(10, r, 3, shuffle: false).Indices(0));
            Assert.Equal(dropped[r], new DistributedSampler(10, r, 3, shuffle: false, dropLast: true).Indices(0));
        }
        // More padding than samples: 2 samples over 5 ranks repeat the list, [0, 1, 0, 1, 0].
        Assert.Equal([0, 1, 0, 1, 0], Enumerable.Range(0, 5).Select(r => new DistributedSampler(2, r, 5, shuffle: false).Indices(0).Single()));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 2)]
    [InlineData(10, 3)]
    [InlineData(100, 4)]
    [InlineData(101, 4)]
    [InlineData(3, 7)]
    public void ShardsAreTorchsDisjointEqualAndCoverTheData(int n, int world)
    {
        foreach (bool dropLast in n >= world ? new[] { false, true } : [false])
            for (int epoch = 0; epoch < 3; epoch++)
            {
                var samplers = Enumerable.Range(0, world).Select(r => new DistributedSampler(n, r, world, shuffle: true, seed: 42, dropLast: dropLast)).ToArray();
                var global = DataLoader.Shuffled(n, 42, epoch);
                var shards = samplers.Select(s => s.Indices(epoch)).ToArray();
                for (int r = 0; r < world; r++)
                {
                    Assert.Equal(TorchShard(global, r, world, dropLast), shards[r]);
                    Assert.Equal(samplers[r].SamplesPerRank, shards[r].Length);
                }
                var all = shards.SelectMany(s => s).ToList();
                Assert.Equal(samplers[0].TotalSize, all.Count);
                if (dropLast) Assert.Equal(all.Count, all.Distinct().Count()); // nothing repeated, n - total left out
                else
                {
                    Assert.Equal(Enumerable.Range(0, n), all.Distinct().Order()); // every sample somewhere
                    // Only padding repeats, and the padding is the order again from its start.
                    Assert.Equal(Enumerable.Range(n, all.Count - n).Select(i => global[i % n]).Order(), all.GroupBy(x => x).SelectMany(g => g.Skip(1)).Order());
                }
            }
    }

    [Fact]
    public void ReshufflesPerEpochFromTheSeedAlikeOnEveryRank()
    {
        var a = new DistributedSampler(1000, 1, 2, seed: 7);
        var b = new DistributedSampler(1000, 1, 2, seed: 7);
        var other = new DistributedSampler(1000, 1, 2, seed: 8);
        Assert.Equal(a.Indices(3), b.Indices(3));
        Assert.NotEqual(a.Indices(0), a.Indices(1));
        Assert.NotEqual(a.Indices(0), other.Indices(0));
        Assert.Equal(Enumerable.Range(0, 500).Select(i => 2 * i + 1), new DistributedSampler(1000, 1, 2, shuffle: false).Indices(5));
    }

    [Fact]
    public void StepKOfAllRanksIsStepKOfOneProcessWithTheWholeBatch()
    {
        // 2 ranks at batch B/2 see, together, the samples one process at batch B sees in the same step.
        const int n = 96, world = 2, batch = 16;
        var single = new DataLoader(new TensorSampleSource(n), batch, shuffle: true, workers: 0, seed: 3);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var order = single.Order(epoch);
            var shards = Enumerable.Range(0, world).Select(r => new DistributedSampler(n, r, world, single.Order, dropLast: false).Indices(epoch)).ToArray();
            for (int k = 0; k < n / batch; k++)
            {
                var together = shards.SelectMany(s => s.Skip(k * batch / world).Take(batch / world)).Order();
                Assert.Equal(order.Skip(k * batch).Take(batch).Order(), together);
            }
        }
    }

    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(10, 3)]
    [InlineData(3, 5)]
    public void EvaluationShardsCoverTheOrderOnceWithoutPadding(int n, int world)
    {
        var order = DataLoader.Shuffled(n, 9, 0);
        var shards = Enumerable.Range(0, world).Select(r => DistributedSampler.Strided(order, r, world)).ToArray();
        Assert.Equal(order.Order(), shards.SelectMany(s => s).Order());
        Assert.All(shards, s => Assert.InRange(s.Length, n / world, (n + world - 1) / world));
        Assert.Equal(order.Where((_, i) => i % world == world - 1), shards[world - 1]);
    }

    [Fact]
    public void BadArgumentsNameWhatIsWrong()
    {
        Assert.Contains("rank 2 is outside [0, 2)", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2)).Message);
        Assert.Contains("world size 0", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 0, 0)).Message);
        Assert.Contains("drop-last", Assert.Throws<ArgumentException>(() => new DistributedSampler(1, 0, 2, dropLast: true)).Message);
        var s = new DistributedSampler(10, 0, 2, _ => new int[9]);
        Assert.Contains("9 samples, not 10", Assert.Throws<InvalidOperationException>(() => s.Indices(0)).Message);
    }

    /// <summary>Only the count matters to DataLoader.Order.</summary>
    private sealed class TensorSampleSource(int count) : ISampleSource
    {
        public int Count => count;
        public string[] ClassNames => ["only"];
        public long Label(int index) => 0;
        public long Load(int index, ImageBuffer image) => 0;
    }
}
