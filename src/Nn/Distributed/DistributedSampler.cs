// PyTorch's DistributedSampler: each rank takes every WorldSize-th sample of one epoch order that all ranks draw
// alike from (seed, epoch), so the shards are disjoint and cover the data; the order is padded with its own first
// samples to a multiple of the world size (or cut, with dropLast), so every rank runs the same number of steps.
namespace Cuda.Nn.Distributed;

public sealed class DistributedSampler
{
    private readonly Func<int, int[]> _globalOrder;

    public int Rank { get; }
    public int WorldSize { get; }
    public bool DropLast { get; }
    /// <summary>Samples in one epoch before sharding.</summary>
    public int Count { get; }
    /// <summary>Samples per rank per epoch (torch's num_samples).</summary>
    public int SamplesPerRank { get; }
    /// <summary>SamplesPerRank x WorldSize (torch's total_size).</summary>
    public int TotalSize => SamplesPerRank * WorldSize;

    /// <summary>Shards 0..count-1, shuffled per epoch from the seed as DataLoader shuffles (the same order a
    /// single process would see: rank r's shard is every WorldSize-th sample of it from r).</summary>
    public DistributedSampler(int count, int rank, int worldSize, bool shuffle = true, ulong seed = 0, bool dropLast = false)
        : this(count, rank, worldSize, epoch => shuffle ? Data.DataLoader.Shuffled(count, seed, epoch) : Enumerable.Range(0, count).ToArray(), dropLast) { }

    /// <summary>Shards an epoch order drawn elsewhere (class balancing, a data split); it must be the same on every
    /// rank and have <paramref name="count"/> entries each epoch.</summary>
    public DistributedSampler(int count, int rank, int worldSize, Func<int, int[]> globalOrder, bool dropLast = false)
    {
        if (worldSize < 1) throw new ArgumentOutOfRangeException(nameof(worldSize), $"world size {worldSize} must be at least 1");
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside [0, {worldSize})");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (dropLast && count < worldSize) throw new ArgumentException($"{count} samples cannot give each of {worldSize} ranks one with drop-last", nameof(count));
        Rank = rank;
        WorldSize = worldSize;
        DropLast = dropLast;
        Count = count;
        _globalOrder = globalOrder;
        // torch: ceil(n / world), or with drop_last ceil((n - world) / world) when n is not a multiple, i.e. floor(n / world).
        SamplesPerRank = dropLast ? count / worldSize : (count + worldSize - 1) / worldSize;
    }

    /// <summary>This rank's samples of <paramref name="epoch"/>, in the order it should see them.</summary>
    public int[] Indices(int epoch)
    {
        var order = _globalOrder(epoch);
        if (order.Length != Count) throw new InvalidOperationException($"the epoch order of epoch {epoch} has {order.Length} samples, not {Count}");
        return Shard(order, Rank, WorldSize, TotalSize);
    }

    /// <summary>Entries rank, rank + world, ... of <paramref name="order"/> without padding: shards of unequal length
    /// whose union is the order exactly once (for evaluation, where padding would count samples twice).</summary>
    public static int[] Strided(int[] order, int rank, int worldSize)
    {
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside [0, {worldSize})");
        var shard = new int[Math.Max(0, (order.Length - rank + worldSize - 1) / worldSize)];
        for (int i = 0; i < shard.Length; i++) shard[i] = order[rank + i * worldSize];
        return shard;
    }

    /// <summary>Pads <paramref name="order"/> by repeating it from its start (or cuts it) to <paramref name="totalSize"/>,
    /// then takes entries rank, rank + world, ... as torch's indices[rank:total_size:num_replicas].</summary>
    public static int[] Shard(int[] order, int rank, int worldSize, int totalSize)
    {
        if (order.Length == 0) return [];
        var shard = new int[totalSize / worldSize];
        for (int i = 0; i < shard.Length; i++) shard[i] = order[(rank + (long)i * worldSize) % order.Length];
        return shard;
    }
}
