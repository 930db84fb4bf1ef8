// Batches from a sample source (an in-memory set or image files): per-epoch shuffling from the seed, worker threads with a bounded
// prefetch queue per worker (read round-robin, so batch order is deterministic), drop_last, and batch
// tensors from the pooled allocator.
using System.Collections.Concurrent;

namespace Cuda.Nn.Data;

/// <summary>One batch: images [B, C, H, W] F32, labels [B] I64 and, after MixUp/CutMix, soft targets [B, K] F32. Dispose it after use.</summary>
public sealed class Batch(Tensor images, Tensor labels, int[] indices, Tensor? softTargets = null) : IDisposable
{
    public Tensor Images { get; } = images;
    public Tensor Labels { get; } = labels;
    /// <summary>Class probabilities from a batch transform (MixUp, CutMix); null when the labels are the targets.</summary>
    public Tensor? SoftTargets { get; } = softTargets;
    /// <summary>What the loss should compare with: the soft targets when present, else the labels.</summary>
    public Tensor Targets => SoftTargets ?? Labels;
    /// <summary>Dataset indices of the samples, in batch order.</summary>
    public int[] Indices { get; } = indices;
    public int Size => Indices.Length;

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        SoftTargets?.Dispose();
    }
}

public sealed class DataLoader
{
    private readonly ISampleSource _set;
    private readonly int[]? _subset;

    public int BatchSize { get; }
    public bool Shuffle { get; }
    public bool DropLast { get; }
    public int Workers { get; }
    public int Prefetch { get; }
    public ulong Seed { get; }
    public ITransform? Transform { get; }
    /// <summary>Applied to each whole batch after the per-sample transforms (MixUp, CutMix).</summary>
    public IBatchTransform? BatchTransform { get; init; }
    /// <summary>The sample order of each epoch, when something else draws it (class balancing resamples per epoch);
    /// every epoch must give the same count. Shuffle is not applied on top.</summary>
    public Func<int, int[]>? EpochOrder { get; init; }
    private int? _epochOrderCount;

    /// <param name="set">The samples.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="shuffle">Draw a new order every epoch (from seed and the epoch number).</param>
    /// <param name="transform">Applied to each sample (augmentation, normalisation), on the workers.</param>
    /// <param name="dropLast">Leave out the last batch when it is short.</param>
    /// <param name="workers">Threads decoding and transforming samples.</param>
    /// <param name="prefetch">Batches prepared ahead of the consumer.</param>
    /// <param name="seed">Seeds the shuffle and the random transforms.</param>
    /// <param name="subset">Dataset indices to draw from (a split); all samples when null.</param>
    public DataLoader(ISampleSource set, int batchSize, bool shuffle, ITransform? transform = null, bool dropLast = false,
        int workers = 1, int prefetch = 2, ulong seed = 0, int[]? subset = null)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be positive");
        if (workers < 0) throw new ArgumentOutOfRangeException(nameof(workers));
        _set = set;
        _subset = subset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Workers = workers;
        Prefetch = Math.Max(1, prefetch);
        Seed = seed;
        Transform = transform;
    }

    public int SampleCount => EpochOrder is null ? _subset?.Length ?? _set.Count : _epochOrderCount ??= EpochOrder(0).Length;
    public int BatchCount => DropLast ? SampleCount / BatchSize : (SampleCount + BatchSize - 1) / BatchSize;

    /// <summary>The sample order of an epoch: a Fisher-Yates shuffle from (seed, epoch) when shuffling.</summary>
    public int[] Order(int epoch)
    {
        if (EpochOrder is not null)
        {
            var drawn = EpochOrder(epoch);
            if (drawn.Length != SampleCount) throw new InvalidOperationException($"the epoch order of epoch {epoch} has {drawn.Length} samples, not {SampleCount}");
            return drawn;
        }
        var order = _subset is null ? Enumerable.Range(0, _set.Count).ToArray() : (int[])_subset.Clone();
        if (Shuffle) ShuffleInPlace(order, Seed, epoch);
        return order;
    }

    /// <summary>0..count-1 in the order a shuffling loader with this seed visits them in <paramref name="epoch"/>
    /// (the swaps depend only on the length, so a subset's order is the subset read through this permutation).</summary>
    public static int[] Shuffled(int count, ulong seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        ShuffleInPlace(order, seed, epoch);
        return order;
    }

    private static void ShuffleInPlace(int[] order, ulong seed, int epoch)
    {
        var g = new Generator(seed ^ 0x5DEECE66DUL);
        g.Offset = (ulong)epoch << 40;
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = g.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    /// <summary>The batches of one epoch from batch firstBatch on (a resumed run skips those it trained on; each
    /// batch depends only on the seed, epoch and its index, so the rest are the same). With workers &gt; 0 they are
    /// prepared ahead on background threads.</summary>
    public IEnumerable<Batch> Epoch(int epoch, CancellationToken cancel = default, int firstBatch = 0)
    {
        var order = Order(epoch);
        int batches = BatchCount;
        if (firstBatch < 0 || firstBatch > batches) throw new ArgumentOutOfRangeException(nameof(firstBatch), $"batch {firstBatch} of an epoch of {batches}");
        if (Workers == 0)
        {
            for (int b = firstBatch; b < batches; b++) yield return MakeBatch(order, b, epoch);
            yield break;
        }
        int w = Math.Min(Workers, Math.Max(1, batches - firstBatch));
        var queues = Enumerable.Range(0, w).Select(_ => new BlockingCollection<Batch>(Prefetch)).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        Exception? failure = null;
        var threads = new Thread[w];
        for (int t = 0; t < w; t++)
        {
            int worker = t;
            threads[t] = new Thread(() =>
            {
                try
                {
                    for (int b = firstBatch + worker; b < batches && !stop.IsCancellationRequested; b += w)
                    {
                        var batch = MakeBatch(order, b, epoch);
                        try { queues[worker].Add(batch, stop.Token); }
                        catch (OperationCanceledException) { batch.Dispose(); return; }
                    }
                }
                catch (Exception e) { failure ??= e; stop.Cancel(); }
                finally { queues[worker].CompleteAdding(); }
            }) { IsBackground = true, Name = $"cudann-loader-{worker}" };
            threads[t].Start();
        }
        try
        {
            for (int b = firstBatch; b < batches; b++)
            {
                Batch? next = null;
                try { next = queues[(b - firstBatch) % w].Take(stop.Token); }
                catch (InvalidOperationException) { }
                catch (OperationCanceledException) { }
                if (next is null)
                {
                    // The worker's own exception (it names the file or sample at fault), with its stack.
                    if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
                    cancel.ThrowIfCancellationRequested();
                    yield break;
                }
                yield return next;
            }
        }
        finally
        {
            stop.Cancel();
            foreach (var th in threads) th.Join();
            foreach (var q in queues)
            {
                while (q.TryTake(out var left)) left.Dispose();
                q.Dispose();
            }
        }
    }

    private Batch MakeBatch(int[] order, int b, int epoch)
    {
        int start = b * BatchSize, n = Math.Min(BatchSize, order.Length - start);
        var idx = order.AsSpan(start, n).ToArray();
        var img = new ImageBuffer(0, 0, 0);
        float[]? data = null;
        int c = 0, h = 0, w = 0;
        var labels = new long[n];
        for (int i = 0; i < n; i++)
        {
            int k = idx[i];
            labels[i] = _set.Load(k, img);
            try { Transform?.Apply(img, new SampleRandom(Seed, epoch, k)); }
            catch (ArgumentException e)
            {
                // A transform that cannot apply to this image (a crop larger than it): name the image.
                throw new InvalidDataException($"{_set.Describe(k)}: {img.Channels}x{img.Height}x{img.Width} image: {e.Message}", e);
            }
            if (data is null)
            {
                (c, h, w) = (img.Channels, img.Height, img.Width);
                data = new float[n * img.Size];
            }
            else if (img.Channels != c || img.Height != h || img.Width != w)
                throw new InvalidDataException($"{_set.Describe(k)} became {img.Channels}x{img.Height}x{img.Width} after the transforms, but the batch is {c}x{h}x{w}: add a crop or resize");
            img.Data.AsSpan(0, img.Size).CopyTo(data.AsSpan(i * img.Size));
        }
        data ??= [];
        Tensor? soft = null;
        if (BatchTransform is not null)
        {
            // Its own stream (another seed), so mixing does not shift any sample's augmentation.
            var mix = new BatchData(data, n, c, h, w, labels);
            BatchTransform.Apply(mix, new SampleRandom(Seed ^ 0x6D697875UL, epoch, b));
            if (mix.SoftTargets is not null) soft = DisposeScope.Detach(Tensor.FromArray(mix.SoftTargets, n, mix.Classes));
        }
        var images = DisposeScope.Detach(Tensor.FromArray(data, n, c, h, w));
        var lab = DisposeScope.Detach(Tensor.FromArray(labels, n));
        return new Batch(images, lab, idx, soft);
    }
}
