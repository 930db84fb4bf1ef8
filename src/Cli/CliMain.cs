namespace Cuda.Nn.Cli;

public static class CliMain
{
    public static int Run(string[] args)
    {
        Console.WriteLine("cudann " + typeof(CliMain).Assembly.GetName().Version);
        return 0;
    }
}
