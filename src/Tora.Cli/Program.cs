return await Tora.Cli.ToraCommand.RunAsync(args);
