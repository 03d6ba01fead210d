using System.CommandLine;

namespace Tora.Cli;

/// <summary>The <c>tora</c> command line: one root command, one subcommand group per area.</summary>
public static class ToraCommand
{
    /// <summary>Parses and runs a command line; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("Tora.Server: trajectory-controlled video generation (Tora on CogVideoX) through ONNX Runtime.");
        // Subcommand groups register here, one line each.
        root.Subcommands.Add(TrajectoryCommands.Create());
        root.Subcommands.Add(ModelCommands.Create());
        root.Subcommands.Add(KeysCommands.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(BenchCommands.Create());

        try
        {
            // The default handler would print a stack trace for CliException before our catch sees it.
            var invocation = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            return await root.Parse(args).InvokeAsync(invocation, cancellationToken);
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"tora: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or OperationCanceledException)
        {
            // Environment problems (unreadable files, full disks, Ctrl+C) are one line too; bugs keep their stack trace.
            Console.Error.WriteLine($"tora: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A user error: printed as one line without a stack trace, with a non-zero exit code.</summary>
public sealed class CliException(string message, int exitCode = 2) : Exception(message)
{
    /// <summary>The process exit code.</summary>
    public int ExitCode { get; } = exitCode;
}
