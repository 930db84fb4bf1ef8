// The progress line of a training epoch.
using System.Diagnostics;

namespace Cuda.Nn.Training;

/// <summary>
/// Progress within an epoch: on a terminal, one line rewritten in place (a bar, step, images/s, ETA, running loss);
/// when the output is redirected or captured, a plain line every 15 seconds, so logs stay line-oriented. Under a
/// launcher (mpirun) always plain: Open MPI gives each rank a pseudo-terminal even when the job's own output goes
/// to a file, which filled redirected logs with carriage-return frames.
/// </summary>
internal sealed class ProgressLine(TextWriter log, int total, int plainIntervalMs = 15000)
{
    private readonly bool _interactive = ReferenceEquals(log, Console.Out) && !Console.IsOutputRedirected
        && !Distributed.DistributedEnvironment.Current().IsDistributed;
    private readonly Stopwatch _since = Stopwatch.StartNew();
    private readonly Stopwatch _start = Stopwatch.StartNew();
    private bool _drawn;

    public static string Eta(double seconds) => seconds < 3600
        ? TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"m\:ss", System.Globalization.CultureInfo.InvariantCulture)
        : TimeSpan.FromSeconds(Math.Round(seconds)).ToString(@"h\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture);

    public void Update(int step, string prefix, string stats)
    {
        if (_since.ElapsedMilliseconds < (_interactive ? 200 : plainIntervalMs)) return;
        _since.Restart();
        double elapsed = _start.Elapsed.TotalSeconds, eta = step > 0 ? elapsed / step * (total - step) : 0;
        string where = $"{prefix} [{step}/{total}] ETA {Eta(eta)}";
        if (!_interactive)
        {
            log.WriteLine($"{where} {stats}");
            return;
        }
        int width = Math.Max(40, Math.Min(160, Console.WindowWidth) - 1);
        int barWidth = Math.Clamp(width - where.Length - stats.Length - 4, 10, 40);
        int filled = total > 0 ? (int)((long)barWidth * step / total) : 0;
        string line = $"{prefix} |{new string('#', filled)}{new string('.', barWidth - filled)}| {step}/{total} ETA {Eta(eta)} {stats}";
        log.Write("\r" + (line.Length > width ? line[..width] : line.PadRight(width)));
        _drawn = true;
    }

    public void Done()
    {
        if (_drawn) log.Write("\r" + new string(' ', Math.Max(0, Math.Min(160, Console.WindowWidth) - 1)) + "\r");
    }
}
