// The cudann command: argument dispatch. Each command lives in its own file.
namespace Cuda.Nn.Cli;

public static class CliMain
{
    public static string Version => typeof(CliMain).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private const string Usage = """
        usage: cudann <command> [options]

        commands:
          info                 devices, SIMD width, GEMM kernel and thread count in use
          demo [--steps N] [--threads N] [--seed N]
                               fits a small MLP on generated data and prints the loss falling
          --version            prints the version
          --help               prints this help
        """;

    public static int Run(string[] args)
    {
        try
        {
            if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 1 : 0;
            }
            var rest = args[1..];
            switch (args[0])
            {
                case "--version":
                    Console.WriteLine($"cudann {Version}");
                    return 0;
                case "info":
                    return InfoCommand.Run(Options.Parse(rest, []));
                case "demo":
                    return DemoCommand.Run(Options.Parse(rest, ["steps", "threads", "seed"]));
                default:
                    Console.Error.WriteLine($"cudann: unknown command '{args[0]}'\n");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"cudann: {e.Message}");
            return 2;
        }
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>--name value options, checked against the names a command accepts.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values = new();

    public static Options Parse(string[] args, string[] allowed)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{a}'");
            var name = a[2..];
            string value;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else
            {
                if (i + 1 >= args.Length) throw new UsageException($"option --{name} needs a value");
                value = args[++i];
            }
            if (Array.IndexOf(allowed, name) < 0) throw new UsageException($"unknown option --{name} (accepted: {string.Join(", ", allowed.Select(x => "--" + x))})");
            o._values[name] = value;
        }
        return o;
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!_values.TryGetValue(name, out var v)) return fallback;
        if (!int.TryParse(v, out int r) || r < min || r > max) throw new UsageException($"--{name} expects an integer in [{min}, {max}], got '{v}'");
        return r;
    }
}
