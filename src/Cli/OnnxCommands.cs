// cudann export (checkpoint -> ONNX) and cudann predict (ONNX file or checkpoint, on images or an IDX folder).
// The work is library code (OnnxExporter, InferenceModel); this file parses options and prints.
using System.Globalization;
using System.Text.Json;
using Cuda.Nn.Inference;
using Cuda.Nn.Onnx;

namespace Cuda.Nn.Cli;

public static class OnnxCommands
{
    public static readonly string[] ExportOptions = ["checkpoint", "out", "model", "classes", "channels", "size"];
    public static readonly string[] PredictOptions = ["model", "top", "json", "limit", "batch-size", "threads", "classes", "channels", "size", "arch"];

    private static InferenceOptions Overrides(Options o, string? arch) => new(arch,
        o.Has("classes") ? o.Int("classes", 0, 1) : null, o.Has("channels") ? o.Int("channels", 0, 1, 4) : null, o.Has("size") ? o.Int("size", 0, 1, 4096) : null);

    public static int Export(Options o)
    {
        var path = o.String("checkpoint") ?? throw new UsageException("export needs --checkpoint FILE (a checkpoint.safetensors or best.safetensors from cudann train)");
        var outPath = o.String("out") ?? throw new UsageException("export needs --out FILE.onnx");
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) throw new UsageException("--checkpoint takes a .safetensors checkpoint, not an ONNX file");
        IO.AtomicFile.Preflight(outPath, "--out");
        using var loaded = InferenceModel.Load(path, Overrides(o, o.String("model")));
        OnnxExporter.Export(loaded.Model, loaded.InputShape, outPath, loaded.Metadata());
        Console.WriteLine($"wrote {outPath}: {loaded.Name}, input [batch, {string.Join(", ", loaded.InputShape)}], {loaded.ClassNames.Length} classes, opset {OnnxExporter.Opset}");
        return 0;
    }

    public static int Predict(string[] args)
    {
        var (options, positional) = SplitPositional(args, ["json"]);
        var o = Options.Parse(options, PredictOptions);
        if (positional.Count != 1) throw new UsageException("predict needs one INPUT: an image file, a folder of images or an IDX folder");
        var modelPath = o.String("model") ?? throw new UsageException("predict needs --model FILE (.onnx or a checkpoint .safetensors)");
        using var threadScope = Kernels.Cpu.CpuKernelOptions.UseThreads(o.Int("threads", Environment.ProcessorCount, 1, 1024));
        int top = o.Int("top", 5, 1);
        bool json = o.Bool("json", false);
        using var model = InferenceModel.Load(modelPath, Overrides(o, o.String("arch")));
        var inputs = model.ReadInputs(positional[0], o.Int("limit", 100, 1));
        var predictions = model.Predict(inputs, top, o.Int("batch-size", 64, 1));
        if (json)
        {
            var rows = inputs.Select((input, i) => new
            {
                input = input.Name,
                label = input.Label,
                predictions = predictions[i].Select(p => new { index = p.Index, @class = p.Class, probability = Math.Round(p.Probability, 6) }),
            });
            Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, Converters = { new IO.NonFiniteAsNullDouble() } }));
        }
        else
            for (int i = 0; i < inputs.Count; i++)
            {
                var label = inputs[i].Label is { } l ? $" (label {l})" : "";
                Console.WriteLine($"{inputs[i].Name}{label}: " + string.Join("  ", predictions[i].Select(p => $"{p.Class} {p.Probability.ToString("F4", CultureInfo.InvariantCulture)}")));
            }
        return 0;
    }

    /// <summary>Separates positional arguments from "--name value" pairs (flags listed in <paramref name="flags"/> may stand alone).</summary>
    private static (string[] Options, List<string> Positional) SplitPositional(string[] args, string[] flags)
    {
        var opts = new List<string>();
        var pos = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) { pos.Add(args[i]); continue; }
            opts.Add(args[i]);
            if (args[i].Contains('=')) continue;
            bool isFlag = flags.Contains(args[i][2..]);
            if (isFlag && (i + 1 >= args.Length || !IsBool(args[i + 1]))) opts.Add("true");
            else if (i + 1 < args.Length) opts.Add(args[++i]);
        }
        return (opts.ToArray(), pos);
    }

    private static bool IsBool(string s) => s.ToLowerInvariant() is "true" or "false" or "1" or "0" or "yes" or "no" or "on" or "off";
}
