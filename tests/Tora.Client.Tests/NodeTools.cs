using System.Diagnostics;
using Tora.TestSupport;

namespace Tora.Client.Tests;

/// <summary>The pinned npm tools of the contract checks (installed by test.sh under .data/node; TORA_TEST_NODE_BIN).</summary>
public static class NodeTools
{
    /// <summary>The folder of the tools' executables.</summary>
    public static string Bin => Environment.GetEnvironmentVariable("TORA_TEST_NODE_BIN") is { Length: > 0 } b ? b
        : Path.Combine(TestData.RepositoryRoot, ".data/node/node_modules/.bin");

    /// <summary>The path of one tool; fails (never skips) when it is missing.</summary>
    public static string Tool(string name)
    {
        var path = Path.Combine(Bin, name);
        if (!File.Exists(path)) throw new InvalidOperationException($"{name} is not installed at {path}: run the tests through ./test.sh, which installs it");
        return path;
    }

    /// <summary>Runs a tool to its end; returns its exit code and its output (stdout and stderr).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(Tool(tool), args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} {string.Join(' ', args)} ran over {timeout}: {await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
