// A fixed pool of worker threads for CPU kernels. The calling thread always takes part, so a
// parallel region on N threads uses N-1 pool workers; no Task allocation per call.
namespace Cuda.Nn.Kernels.Cpu;

public static class CpuWorkers
{
    private static readonly Lock Gate = new();
    private static Worker[] _workers = [];
    [ThreadStatic] private static bool _insideRegion;

    /// <summary>How long an idle worker spins for the next parallel region before it blocks
    /// (CpuKernelOptions.SpinMicroseconds, read at each wait so a scope's value takes effect at once).</summary>
    private static long SpinTicks => System.Diagnostics.Stopwatch.Frequency * CpuKernelOptions.Current.SpinMicroseconds / 1_000_000;

    /// <summary>Threads used by parallel kernels (the caller included): CpuKernelOptions.Threads, which defaults to the
    /// processor count; set it for a scope with CpuKernelOptions.UseThreads.</summary>
    public static int ThreadCount => CpuKernelOptions.Current.Threads;

    /// <summary>
    /// Runs body(chunk) for chunk in [0, chunks), spreading chunks over ThreadCount threads. Nested calls
    /// run serially on the calling thread, so kernels may call each other freely.
    /// </summary>
    public static void For(int chunks, Action<int> body) => Run(chunks, body, pinned: false);

    /// <summary>
    /// Runs body(part) for part in [0, parts), part 0 on the calling thread and part i on pool worker i - 1, the same
    /// threads on every call (For hands chunks to whichever thread asks first). Kernels that split their data alike in
    /// consecutive calls then mostly read what their own core wrote, which matters where a cache line written by
    /// another core costs far more than a local one (as on this project's 2-vCPU machines). A worker that has not
    /// started its part StealTicks after the caller finished its own has it run by the caller instead. Callers pass
    /// at most ThreadCount parts; any beyond it (the count lowered meanwhile) run on the calling thread after part 0.
    /// </summary>
    public static void ForEachThread(int parts, Action<int> body) => Run(parts, body, pinned: true);

    private static void Run(int chunks, Action<int> body, bool pinned)
    {
        if (chunks <= 0) return;
        int threads = Math.Min(ThreadCount, chunks);
        if (threads == 1 || _insideRegion)
        {
            for (int i = 0; i < chunks; i++) body(i);
            return;
        }
        lock (Gate) // one parallel region at a time; concurrent callers queue here
        {
            EnsureWorkers(threads - 1);
            var job = new Job(body, chunks, threads - 1, pinned);
            for (int w = 0; w < threads - 1; w++) _workers[w].Start(job);
            _insideRegion = true; // also while waiting: the caller may take over a worker's part there
            try
            {
                job.Run(0);
                job.WaitAll();
            }
            finally { _insideRegion = false; }
            if (job.Error is { } e) throw new AggregateException("a parallel CPU kernel failed", e);
        }
    }

    /// <summary>Splits [0, count) into ranges of at least minChunk items and runs body(start, end) on each.</summary>
    public static void ForRange(int count, int minChunk, Action<int, int> body)
    {
        if (count <= 0) return;
        int chunks = Math.Max(1, Math.Min(ThreadCount, count / Math.Max(1, minChunk)));
        if (chunks == 1) { body(0, count); return; }
        int per = (count + chunks - 1) / chunks;
        For(chunks, c =>
        {
            int s = c * per, e = Math.Min(count, s + per);
            if (s < e) body(s, e);
        });
    }

    private static void EnsureWorkers(int n)
    {
        if (_workers.Length >= n) return;
        var w = new Worker[n];
        Array.Copy(_workers, w, _workers.Length);
        for (int i = _workers.Length; i < n; i++) w[i] = new Worker(i);
        _workers = w;
    }

    /// <summary>How long a caller that finished its pinned part waits for a worker to start its own (5 µs; a worker
    /// normally starts within 1 µs).</summary>
    private static readonly long StealTicks = System.Diagnostics.Stopwatch.Frequency / 200_000;

    /// <summary>Set by the last worker to finish a job; a caller that spun past SpinTicks blocks on it.</summary>
    private static readonly ManualResetEventSlim Finished = new(false);

    private sealed class Job(Action<int> body, int chunks, int workers, bool pinned)
    {
        private int _next = -1;
        private int _remainingWorkers = workers;
        /// <summary>Pinned parts below this are tracked in _started and may be taken over; later ones run on their worker.</summary>
        private const int TrackedParts = 64;
        private long _started; // pinned: bit i once a thread has taken part i (next to the counter WaitAll reads)
        private readonly int _threads = workers + 1;
        public Exception? Error;

        /// <summary>Runs chunks on thread `thread` (0: the caller, i: worker i - 1): its own chunk when pinned, else
        /// the next unclaimed ones.</summary>
        public void Run(int thread)
        {
            if (pinned)
            {
                Body(thread);
                for (int part = _threads; thread == 0 && part < chunks; part++) Body(part); // parts past the threads
                return;
            }
            int i;
            while ((i = Interlocked.Increment(ref _next)) < chunks) Body(i);
        }

        /// <summary>A worker's share: its part when pinned (unless the caller took it over), else chunks as they come;
        /// then it counts itself done (for a part the caller took over, the caller counted it).</summary>
        public void Work(int thread)
        {
            if (pinned && thread < TrackedParts && !Take(thread)) return;
            Run(thread);
            WorkerDone();
        }

        private bool Take(int part) => (Interlocked.Or(ref _started, 1L << part) & (1L << part)) == 0;

        private void Body(int i)
        {
            try { body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
        }

        public void WorkerDone()
        {
            if (Interlocked.Decrement(ref _remainingWorkers) == 0) Finished.Set();
        }

        /// <summary>Waits on the counter, which alone decides; the event only saves spinning (a late Set from the previous
        /// job may wake this wait early, and the loop checks again).</summary>
        public void WaitAll()
        {
            long now = System.Diagnostics.Stopwatch.GetTimestamp(), until = now + SpinTicks, stealAt = now + StealTicks;
            while (Volatile.Read(ref _remainingWorkers) > 0)
            {
                // A pinned part its worker has not started StealTicks after the caller finished its own: the worker is
                // asleep or its vCPU preempted, so the caller runs the part (which then crosses cores, once).
                if (pinned && System.Diagnostics.Stopwatch.GetTimestamp() > stealAt)
                {
                    long started = Volatile.Read(ref _started);
                    for (int part = 1; part < Math.Min(_threads, TrackedParts); part++)
                        if ((started & 1L << part) == 0 && Take(part))
                        {
                            Body(part);
                            WorkerDone();
                        }
                }
                if (System.Diagnostics.Stopwatch.GetTimestamp() < until) { Thread.SpinWait(1); continue; }
                Finished.Wait(1);
                Finished.Reset();
            }
        }
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _signal = new(0);
        private Job? _pending;
        private int _sleeping; // 1 while blocked (or about to block) on _signal
        private readonly int _index;

        public Worker(int index)
        {
            _index = index;
            var t = new Thread(Loop) { IsBackground = true, Name = $"cudann-cpu-{index}" };
            t.Start();
        }

        public void Start(Job job)
        {
            Volatile.Write(ref _pending, job);
            if (Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1) _signal.Release();
        }

        private void Loop()
        {
            _insideRegion = true;
            while (true)
            {
                Next().Work(_index + 1);
            }
        }

        /// <summary>Spins for the next job for a while (a wake-up through the kernel costs tens of microseconds, as
        /// long as a small kernel), then blocks.</summary>
        private Job Next()
        {
            long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            Job? job;
            while (Volatile.Read(ref _pending) is null || (job = Interlocked.Exchange(ref _pending, null)) is null)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() > until)
                {
                    Interlocked.Exchange(ref _sleeping, 1);
                    if ((job = Interlocked.Exchange(ref _pending, null)) is not null)
                    {
                        // A starter may have seen _sleeping == 1 and released the semaphore: consume that release.
                        if (Interlocked.CompareExchange(ref _sleeping, 0, 1) != 1) _signal.Wait();
                        return job;
                    }
                    _signal.Wait();
                    until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                    continue;
                }
                Thread.SpinWait(1);
            }
            return job;
        }
    }
}
