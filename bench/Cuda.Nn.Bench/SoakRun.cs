// Soak check (issue 19): many ResNet-20 training steps, then many batch-1 runs of its compiled inference plan, with
// process RSS, the GC heap and the CPU memory pool's live and pooled bytes sampled along the way. Not a timing: it
// fails (exit code 1, naming the metric) when a metric grows after warm-up by more than the tolerance.
//   dotnet run -c Release --project bench/Cuda.Nn.Bench -- soak [--train-steps 10000] [--inferences 100000]
//     [--batch 16] [--threads 1] [--samples 200] [--warmup-frac 0.1] [--tol-mib 16] [--tol-pct 5] [--tol-pool-bytes 0]
//     [--out soak.csv]
// Data: a fixed synthetic Fashion-MNIST-shaped set (1x28x28, 10 classes: a per-class template plus noise, from a
// seeded generator), so the loss falls and every run is the same; each step copies its batch into a new tensor as a
// data loader would. Each training step and each inference runs in its own dispose scope, as Trainer does.
using System.Diagnostics;
using System.Globalization;
using Cuda.Nn.Autograd;
using Cuda.Nn.Inference;
using Cuda.Nn.Functional;
using Cuda.Nn.Kernels.Cpu;
using Cuda.Nn.Models;
using Cuda.Nn.Optim;

namespace Cuda.Nn.Bench;

public static class SoakRun
{
    private const int Classes = 10, Side = 28, Pixels = Side * Side, DataSize = 1024;

    /// <summary>One sample of the memory metrics after a step (the step's scope already closed).</summary>
    public readonly record struct Sample(string Phase, long Step, double Seconds, long Rss, long GcHeap, long GcCommitted, long PoolLive, long PoolPooled, double Loss);

    /// <summary>
    /// The metrics the check looks at, by CSV column name. The process's figures move with the GC and the C heap, so
    /// they get a tolerance (--tol-mib, --tol-pct); the pool's are exact counts of blocks held, and a loop that
    /// allocates the same shapes every step holds the same blocks, so they get --tol-pool-bytes (default 0).
    /// </summary>
    private static readonly (string Name, Func<Sample, long> Get, bool Exact)[] Metrics =
    [
        ("rss_bytes", s => s.Rss, false),
        ("gc_heap_bytes", s => s.GcHeap, false),
        ("gc_committed_bytes", s => s.GcCommitted, false),
        ("pool_live_bytes", s => s.PoolLive, true),
        ("pool_pooled_bytes", s => s.PoolPooled, true),
    ];

    public static int Run(string[] args)
    {
        var opt = ParseArgs(args);
        BenchEnvironment.Apply((int)opt["threads"]);
        long trainSteps = (long)opt["train-steps"], inferences = (long)opt["inferences"];
        int batch = (int)opt["batch"], samples = (int)opt["samples"];
        var tol = new Tolerance(opt["tol-mib"], opt["tol-pct"], (long)opt["tol-pool-bytes"]);
        double warmFrac = opt["warmup-frac"];
        string outPath = Path.GetFullPath(OutPath(args));
        Console.WriteLine($"soak: {trainSteps} training steps of resnet20 (batch {batch}), {inferences} plan inferences (batch 1), " +
                          $"{CpuWorkers.ThreadCount} thread(s); samples to {outPath}");

        var (images, labels) = SyntheticData(new Generator(7));
        var all = new List<Sample>();
        var total = Stopwatch.StartNew();
        using var model = ResNet.ResNet20(Classes, 1, new Generator(0));

        // Training: forward, cross-entropy, backward, SGD step, zero grad, one dispose scope per step.
        var sw = Stopwatch.StartNew();
        long allocated0 = GC.GetTotalAllocatedBytes();
        using (var sgd = new Sgd(model.Parameters(), 0.02, 0.9, 0, 5e-4, nesterov: true))
        {
            model.Train();
            long every = Math.Max(1, trainSteps / samples);
            double lossSum = 0;
            int lossCount = 0;
            var xBuf = new float[batch * Pixels];
            var yBuf = new long[batch];
            for (long step = 1; step <= trainSteps; step++)
            {
                using (var scope = new DisposeScope())
                {
                    for (int i = 0; i < batch; i++)
                    {
                        int k = (int)((step * batch + i) % DataSize);
                        Array.Copy(images, k * Pixels, xBuf, i * Pixels, Pixels);
                        yBuf[i] = labels[k];
                    }
                    var x = Tensor.FromArray(xBuf, batch, 1, Side, Side);
                    var y = Tensor.FromArray(yBuf, batch);
                    var loss = F.CrossEntropy(model.Forward(x), y);
                    loss.Backward();
                    sgd.Step();
                    sgd.ZeroGrad();
                    lossSum += loss.Item();
                    lossCount++;
                }
                if (step % every == 0 || step == trainSteps)
                {
                    all.Add(Take("train", step, sw.Elapsed.TotalSeconds, lossSum / lossCount));
                    lossSum = 0;
                    lossCount = 0;
                }
            }
        }
        double trainSeconds = sw.Elapsed.TotalSeconds;
        long trainAllocated = GC.GetTotalAllocatedBytes() - allocated0;

        // Inference: the fused plan of the trained model at batch 1. The pool's blocks from training go back to the
        // OS first, so this phase's pooled bytes are its own.
        CpuMemoryPool.Trim();
        sw.Restart();
        allocated0 = GC.GetTotalAllocatedBytes();
        long correct = 0;
        using (var plan = InferencePlan.Compile(model, [1, Side, Side]))
        {
            long every = Math.Max(1, inferences / samples);
            var xBuf = new float[Pixels];
            for (long run = 1; run <= inferences; run++)
            {
                using (var scope = new DisposeScope())
                {
                    int k = (int)(run % DataSize);
                    Array.Copy(images, k * Pixels, xBuf, 0, Pixels);
                    var logits = plan.Run(Tensor.FromArray(xBuf, 1, 1, Side, Side)).ToFloatArray();
                    if (ArgMax(logits) == labels[k]) correct++;
                }
                if (run % every == 0 || run == inferences) all.Add(Take("infer", run, sw.Elapsed.TotalSeconds, double.NaN));
            }
        }
        double inferSeconds = sw.Elapsed.TotalSeconds;
        long inferAllocated = GC.GetTotalAllocatedBytes() - allocated0;

        WriteCsv(outPath, all);
        Console.WriteLine($"train: {trainSteps} steps in {trainSeconds:F1} s ({1000 * trainSeconds / Math.Max(1, trainSteps):F2} ms/step), " +
                          $"loss {FirstLoss(all):F4} -> {all.LastOrDefault(s => s.Phase == "train").Loss:F4}, managed allocations {trainAllocated / 1024.0 / Math.Max(1, trainSteps):F1} KiB/step");
        Console.WriteLine($"infer: {inferences} runs in {inferSeconds:F1} s ({1000 * inferSeconds / Math.Max(1, inferences):F3} ms/run), " +
                          $"accuracy on the synthetic set {100.0 * correct / Math.Max(1, inferences):F2}%, managed allocations {inferAllocated / 1024.0 / Math.Max(1, inferences):F1} KiB/run");
        Console.WriteLine($"total {total.Elapsed.TotalSeconds:F1} s");
        var failures = new List<string>();
        foreach (var phase in new[] { "train", "infer" })
            failures.AddRange(Summarise(phase, all.Where(s => s.Phase == phase).ToList(), warmFrac, tol));
        Console.WriteLine($"tolerance: growth (final - warm-up) fails above max({tol.Mib:G} MiB, {tol.Pct:G}% of warm-up) for rss and gc, above {tol.PoolBytes} bytes for the pool");
        foreach (var f in failures) Console.WriteLine($"FAIL {f}");
        Console.WriteLine(failures.Count == 0 ? "soak: PASS" : $"soak: FAIL ({failures.Count} metric(s) grew)");
        return failures.Count == 0 ? 0 : 1;
    }

    private static Sample Take(string phase, long step, double seconds, double loss)
    {
        var info = GC.GetGCMemoryInfo();
        return new Sample(phase, step, seconds, Rss(), GC.GetTotalMemory(false), info.TotalCommittedBytes,
            CpuMemoryPool.LiveBytes, CpuMemoryPool.PooledBytes, loss);
    }

    /// <summary>Resident set size: VmRSS from /proc/self/status where there is one, else the working set.</summary>
    private static long Rss()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }

    /// <summary>Per metric: the value at warm-up (first sample at or after warmFrac of the phase), max from there, final, growth.</summary>
    private static List<string> Summarise(string phase, List<Sample> s, double warmFrac, Tolerance tol)
    {
        var failures = new List<string>();
        if (s.Count == 0) return failures;
        long warmStep = (long)Math.Ceiling(s[^1].Step * warmFrac);
        int w = s.FindIndex(x => x.Step >= warmStep);
        Console.WriteLine($"{phase} (warm-up = step {s[w].Step} of {s[^1].Step}, {s.Count} samples):");
        Console.WriteLine($"  {"metric",-20} {"warm-up MiB",12} {"max MiB",10} {"final MiB",10} {"growth MiB",11}");
        foreach (var (name, get, exact) in Metrics)
        {
            long warm = get(s[w]), max = s.Skip(w).Max(get), final = get(s[^1]), growth = final - warm;
            double limit = exact ? tol.PoolBytes : Math.Max(tol.Mib * (1 << 20), warm * tol.Pct / 100);
            bool fail = growth > limit;
            Console.WriteLine($"  {name,-20} {Mib(warm),12:F2} {Mib(max),10:F2} {Mib(final),10:F2} {Mib(growth),11:+0.00;-0.00;0.00}{(fail ? "  FAIL" : "")}");
            if (fail) failures.Add($"{phase} {name}: grew {Mib(growth):F2} MiB (from {Mib(warm):F2} at step {s[w].Step} to {Mib(final):F2}), limit {limit:F0} bytes");
        }
        return failures;
    }

    private readonly record struct Tolerance(double Mib, double Pct, long PoolBytes);

    private static double Mib(long bytes) => bytes / (double)(1 << 20);

    private static double FirstLoss(List<Sample> all) => all.FirstOrDefault(s => s.Phase == "train").Loss;

    private static void WriteCsv(string path, List<Sample> all)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var w = new StreamWriter(path);
        w.WriteLine("phase,step,seconds,rss_bytes,gc_heap_bytes,gc_committed_bytes,pool_live_bytes,pool_pooled_bytes,loss");
        foreach (var s in all)
            w.WriteLine(string.Join(',', s.Phase, s.Step.ToString(CultureInfo.InvariantCulture), s.Seconds.ToString("F3", CultureInfo.InvariantCulture),
                s.Rss, s.GcHeap, s.GcCommitted, s.PoolLive, s.PoolPooled, double.IsNaN(s.Loss) ? "" : s.Loss.ToString("F5", CultureInfo.InvariantCulture)));
    }

    /// <summary>DataSize images: class c is a fixed random template (std 1) plus noise (std 0.7); labels cycle through the classes.</summary>
    private static (float[] Images, long[] Labels) SyntheticData(Generator g)
    {
        var templates = new float[Classes * Pixels];
        for (int i = 0; i < templates.Length; i++) templates[i] = Gaussian(g);
        var images = new float[DataSize * Pixels];
        var labels = new long[DataSize];
        for (int k = 0; k < DataSize; k++)
        {
            int c = (int)(((ulong)k * 7919) % Classes); // not in order, so consecutive batches mix the classes
            labels[k] = c;
            for (int p = 0; p < Pixels; p++) images[k * Pixels + p] = templates[c * Pixels + p] + 0.7f * Gaussian(g);
        }
        return (images, labels);
    }

    private static float Gaussian(Generator g) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - g.NextDouble())) * Math.Cos(2 * Math.PI * g.NextDouble()));

    private static int ArgMax(float[] v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private static readonly Dictionary<string, double> Defaults = new()
    {
        ["train-steps"] = 10_000, ["inferences"] = 100_000, ["batch"] = 16, ["threads"] = 1, ["samples"] = 200,
        ["warmup-frac"] = 0.1, ["tol-mib"] = 16, ["tol-pct"] = 5, ["tol-pool-bytes"] = 0,
    };

    private static Dictionary<string, double> ParseArgs(string[] args)
    {
        var o = new Dictionary<string, double>(Defaults);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"soak: expected --name value, got '{args[i]}'");
            string name = args[i][2..];
            if (name != "out")
            {
                if (!o.ContainsKey(name)) throw new ArgumentException($"soak: unknown option --{name} (known: {string.Join(", ", Defaults.Keys.Append("out"))})");
                o[name] = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
            i++;
        }
        return o;
    }

    private static string OutPath(string[] args)
    {
        int i = Array.IndexOf(args, "--out");
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : "soak.csv";
    }
}
