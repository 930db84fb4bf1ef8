// `cudann COMMAND --help` prints the command's part of the usage text, and that part names every option the
// command accepts: an option added to a command's list without a word in the help fails here.
namespace Cuda.Nn.Tests;

public class CliHelpTests
{
    public static TheoryData<string> Commands() => new(CommandOptions.Keys);

    /// <summary>Each command and the option list its parser accepts (the lists the commands themselves pass to Options.Parse).</summary>
    private static readonly Dictionary<string, string[]> CommandOptions = new()
    {
        ["train"] = Cli.TrainCommand.OptionNames,
        ["distill"] = Cli.TrainCommand.OptionNames.Where(o => o is "teacher" or "temperature" or "distill-alpha").ToArray(),
        ["kfold"] = ["folds"],
        ["eval"] = Cli.EvalCommand.OptionNames,
        ["gpu-check"] = Cli.GpuCheckCommand.OptionNames,
        ["dist-check"] = Cli.DistCheckCommand.OptionNames,
        ["quantize"] = Cli.QuantizeCommand.OptionNames,
        ["prune"] = Cli.PruneCommand.OptionNames,
        ["export"] = Cli.OnnxCommands.ExportOptions,
        ["predict"] = Cli.OnnxCommands.PredictOptions,
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void HelpOfEachCommandNamesEveryOptionItTakes(string command)
    {
        var (code, output, error) = CudannProcess.Run(command, "--help");
        Assert.True(code == 0, error);
        Assert.StartsWith($"usage: cudann {command}", output);
        var missing = CommandOptions[command].Where(o => !output.Contains("--" + o, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, $"cudann {command} --help does not mention {string.Join(", ", missing.Select(o => "--" + o))}");
    }

    [Fact]
    public void HelpOfAnUnknownCommandIsAUsageError()
    {
        var (code, _, error) = CudannProcess.Run("trian", "--help");
        Assert.Equal(2, code);
        Assert.Equal("cudann trian: unknown command 'trian' (cudann --help lists commands and options)", error.Trim());
    }
}
