// Buffers planned once. The first run of an input shape records the shapes of the outputs the fused convs and
// blocked max pools write themselves; the plan then gives each of them a fixed place in one arena for that shape, sharing space between
// outputs that are never alive at the same time, and later runs of the shape write there (no allocation, and the
// same few cache-warm buffers every call). Other nodes still take their outputs from the memory pool.
//
// An output lives from the step that writes it to its last reader. A reader that is not a fused conv may return a
// view of it (Reshape, Flatten, Identity, ...), so the life extends to that reader's outputs' ends too, conservatively;
// an output whose life reaches the graph's output is never placed in the arena (the caller keeps the result).
// One run at a time uses an arena: a concurrent run of the same shape takes its buffers from the pool instead.
using Cuda.Nn.Autograd;
using Cuda.Nn.Kernels;


namespace Cuda.Nn.Inference;

public sealed partial class InferencePlan
{
    /// <summary>At most this many input shapes get an arena; runs of further shapes use the memory pool.</summary>
    private const int MaxMemoryPlans = 4;

    private readonly Dictionary<string, MemoryPlan> _memoryPlans = new(StringComparer.Ordinal);
    private readonly Lock _memoryGate = new();

    /// <summary>The key under which a run's env carries the planned buffer of a value (not a legal ONNX name to meet).</summary>
    private static string SlotKey(string value) => "\u0001planned:" + value;

    /// <summary>The memory plan's buffer for a value when this run has one of this shape.</summary>
    private static Tensor? Planned(Dictionary<string, Tensor> env, string value, int[] shape) =>
        env.TryGetValue(SlotKey(value), out var slot) && slot.ShapeRef.AsSpan().SequenceEqual(shape) ? slot.Share() : null;

    private static string ShapeKey(ReadOnlySpan<int> shape) => string.Join(',', shape.ToArray());

    /// <summary>For tests and logs: the arena planned for an input shape (values placed, floats), or null if none yet.</summary>
    public (int Values, long Floats, long UnsharedFloats)? MemoryPlanFor(int[] inputShape)
    {
        lock (_memoryGate)
            return _memoryPlans.TryGetValue(ShapeKey(inputShape), out var m) ? (m.Slots.Count, m.Floats, m.UnsharedFloats) : null;
    }

    /// <summary>For tests: the arena planned for an input shape (owned by the plan), or null.</summary>
    internal Tensor? ArenaFor(int[] inputShape)
    {
        lock (_memoryGate)
            return _memoryPlans.TryGetValue(ShapeKey(inputShape), out var m) ? m.Arena : null;
    }

    private sealed class MemoryPlan(Tensor arena, Dictionary<string, Tensor> slots, long unshared) : IDisposable
    {
        private int _inUse;
        public Tensor Arena => arena;
        /// <summary>The planned buffers, keyed as env carries them (SlotKey of the value).</summary>
        public Dictionary<string, Tensor> Slots { get; } = slots;
        public long Floats => arena.Numel;
        public long UnsharedFloats { get; } = unshared;
        public bool TryEnter() => Interlocked.CompareExchange(ref _inUse, 1, 0) == 0;
        public void Leave() => Volatile.Write(ref _inUse, 0);

        public void Dispose()
        {
            foreach (var s in Slots.Values) s.Dispose();
            arena.Dispose();
        }
    }

    /// <summary>Puts the arena's buffers for this input shape into env when there is a free one; otherwise, when the shape
    /// has none yet, returns in record a dictionary for the first run to fill.</summary>
    private MemoryPlan? EnterMemoryPlan(Tensor input, Dictionary<string, Tensor> env, out Dictionary<string, int[]>? record)
    {
        record = null;
        MemoryPlan? plan;
        lock (_memoryGate)
        {
            if (!_memoryPlans.TryGetValue(ShapeKey(input.ShapeRef), out plan))
            {
                if (_memoryPlans.Count < MaxMemoryPlans && input.Device == Device.Cpu) record = new(StringComparer.Ordinal);
                return null;
            }
        }
        if (!plan.TryEnter()) return null;
        foreach (var (key, slot) in plan.Slots) env[key] = slot;
        return plan;
    }

    /// <summary>Plans the recorded outputs of a first run: lifetimes, then offsets, largest first, at the lowest address
    /// free of every placed output whose life overlaps.</summary>
    private void AddMemoryPlan(Tensor input, Dictionary<string, int[]> shapes)
    {
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        var readers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (int i = 0; i < _steps.Count; i++)
        {
            foreach (var o in _steps[i].Outputs) producer[o] = i;
            foreach (var r in _steps[i].Inputs) (readers.TryGetValue(r, out var l) ? l : readers[r] = []).Add(i);
        }
        var ends = new Dictionary<string, int>(StringComparer.Ordinal);
        int End(string value)
        {
            if (ends.TryGetValue(value, out int known)) return known;
            ends[value] = int.MaxValue; // a cycle cannot occur in an ONNX graph; this only guards the recursion
            int end = value == _outputName ? int.MaxValue : producer.GetValueOrDefault(value);
            foreach (int r in readers.GetValueOrDefault(value) ?? [])
            {
                end = Math.Max(end, r);
                if (_steps[r] is not FusedConvStep)
                    foreach (var o in _steps[r].Outputs) end = Math.Max(end, End(o));
            }
            return ends[value] = end;
        }

        var items = shapes
            .Select(kv => (Value: kv.Key, Shape: kv.Value, Floats: (kv.Value.Aggregate(1L, (a, d) => a * d) + 15) / 16 * 16,
                Start: producer[kv.Key], End: End(kv.Key)))
            .Where(it => it.End != int.MaxValue && it.Floats > 0)
            .OrderByDescending(it => it.Floats).ThenBy(it => it.Start)
            .ToList();
        var placed = new List<(long Offset, long Floats, int Start, int End)>();
        foreach (var it in items)
        {
            long offset = 0;
            for (bool moved = true; moved;)
            {
                moved = false;
                foreach (var p in placed)
                    if (p.Start <= it.End && it.Start <= p.End && p.Offset < offset + it.Floats && offset < p.Offset + p.Floats)
                    {
                        offset = p.Offset + p.Floats;
                        moved = true;
                    }
            }
            placed.Add((offset, it.Floats, it.Start, it.End));
        }
        long total = placed.Count == 0 ? 0 : placed.Max(p => p.Offset + p.Floats);
        if (total == 0 || total > int.MaxValue) return;

        var arena = DisposeScope.Detach(Tensor.Empty([(int)total]));
        var slots = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            using var flat = arena.Narrow(0, (int)placed[i].Offset, (int)(items[i].Shape.Aggregate(1L, (a, d) => a * d)));
            slots[SlotKey(items[i].Value)] = DisposeScope.Detach(flat.View(items[i].Shape));
        }
        var plan = new MemoryPlan(arena, slots, items.Sum(it => it.Floats));
        lock (_memoryGate)
        {
            if (_memoryPlans.Count < MaxMemoryPlans && _memoryPlans.TryAdd(ShapeKey(input.ShapeRef), plan)) return;
        }
        plan.Dispose(); // another first run of the same shape planned it meanwhile
    }

    private void DisposeMemoryPlans()
    {
        lock (_memoryGate)
        {
            foreach (var m in _memoryPlans.Values) m.Dispose();
            _memoryPlans.Clear();
        }
    }
}
