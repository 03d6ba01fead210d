// The commands write to the process-wide Console: run the CLI tests one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Tora.Cli.Tests;

/// <summary>The result of one in-process <c>tora</c> run.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error);

/// <summary>Runs <see cref="ToraCommand.RunAsync"/> in-process with stdout and stderr captured.</summary>
public static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        try
        {
            var code = await ToraCommand.RunAsync(args);
            return new CliResult(code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}
