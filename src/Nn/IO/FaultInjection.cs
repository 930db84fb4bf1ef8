// Failure points for crash-consistency tests: the environment variable EnvironmentVariables.Fault (or Configure, in-process)
// names what happens at the Nth time a named point is reached, e.g.
//   kill@step#7                                    SIGKILL at the 7th training step
//   kill@write-partial:checkpoint.safetensors#2    SIGKILL half-way through the 2nd checkpoint write
//   enospc@write:metrics.jsonl#1                   the 1st metrics write fails as on a full disk
// Points: step, eval (each evaluation batch), write:FILE (the temp file is complete, not yet renamed) and
// write-partial:FILE (half of the first buffer written). Unset, every hook is one static bool test.
namespace Cuda.Nn.IO;

public static class FaultInjection
{
    private sealed record Rule(string Action, string Site, int At);

    private static Rule[] _rules = Parse(Kernels.EnvironmentVariables.Read(Kernels.EnvironmentVariables.Fault));
    private static readonly Dictionary<string, int> Counts = new();

    public static bool Active => _rules.Length > 0;

    /// <summary>Replaces the rules (tests); null or empty clears them and the counters.</summary>
    public static void Configure(string? spec)
    {
        lock (Counts)
        {
            _rules = Parse(spec);
            Counts.Clear();
        }
    }

    private static Rule[] Parse(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec)) return [];
        return [.. spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(r =>
        {
            int at = r.IndexOf('@'), hash = r.LastIndexOf('#');
            if (at <= 0 || hash < at || !int.TryParse(r[(hash + 1)..], out int n) || n < 1 || r[..at] is not ("kill" or "enospc" or "eacces"))
                throw new ArgumentException($"{Kernels.EnvironmentVariables.Fault}: '{r}' is not ACTION@SITE#N (ACTION kill, enospc or eacces; N >= 1)");
            return new Rule(r[..at], r[(at + 1)..hash], n);
        })];
    }

    /// <summary>Marks that a point was reached; acts when a rule names this occurrence.</summary>
    public static void Hit(string site)
    {
        if (_rules.Length == 0) return;
        Rule? fire = null;
        lock (Counts)
        {
            int n = Counts[site] = Counts.GetValueOrDefault(site) + 1;
            fire = _rules.FirstOrDefault(r => r.Site == site && r.At == n);
        }
        switch (fire?.Action)
        {
            case "kill":
                Console.Out.Flush();
                System.Diagnostics.Process.GetCurrentProcess().Kill(); // SIGKILL: no finally blocks, no flush
                Thread.Sleep(Timeout.Infinite);
                break;
            case "enospc": throw new IOException("No space left on device (injected at " + site + ")");
            case "eacces": throw new UnauthorizedAccessException("Permission denied (injected at " + site + ")");
        }
    }

    /// <summary>Passes writes through; after half of the first buffer it reaches the point write-partial:NAME.</summary>
    internal sealed class WriteStream(Stream inner, string name) : Stream
    {
        private bool _hit;

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (!_hit && buffer.Length > 1)
            {
                _hit = true;
                inner.Write(buffer[..(buffer.Length / 2)]);
                inner.Flush();
                Hit("write-partial:" + name);
                inner.Write(buffer[(buffer.Length / 2)..]);
                return;
            }
            inner.Write(buffer);
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
