// The cudann command.
return Cuda.Nn.Cli.CliMain.Run(args);
