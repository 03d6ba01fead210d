using System.Diagnostics;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>
/// run.sh and test.sh start their private PostgreSQL cluster with scripts/common.sh. These run it from a clone in a
/// folder only its owner may enter (mode 0700, as a root user's home), where the postgres user that runs the server
/// cannot reach the clone's <c>.data/</c>.
/// </summary>
public sealed class FirstStartTests
{
    private const string Script = """
        set -euo pipefail
        source scripts/common.sh
        start_private_postgres "$PWD/.data/pg" "$1"
        trap stop_private_postgres EXIT
        psql -h 127.0.0.1 -p "$1" -U postgres -tAc "SELECT 'answered'"
        echo "data: $PG_DATA_DIR"
        """;

    [Fact]
    public async Task The_private_cluster_starts_from_a_clone_in_a_0700_folder()
    {
        var clone = MakePrivateClone(owner: null);
        try
        {
            var result = await RunAsync(clone, asUser: null);
            Assert.True(result.ExitCode == 0, result.Output);
            Assert.Contains("answered", result.Output);
            var link = Path.Combine(clone, ".data", "pg");
            var target = new FileInfo(link).LinkTarget;
            if (Environment.UserName == "root")
            {
                // The cluster went where the postgres user can reach it; the clone links there and the script said so.
                Assert.NotNull(target);
                Assert.StartsWith("/var/lib/postgresql/tora/pg-", target);
                Assert.Contains($"PostgreSQL data: {target}", result.Output);
                Assert.True(File.Exists(Path.Combine(target, "PG_VERSION")));
            }
            else Assert.True(File.Exists(Path.Combine(link, "PG_VERSION")));

            var removed = await RunShellAsync(clone, "source scripts/common.sh; remove_private_postgres \"$PWD/.data/pg\"", null);
            Assert.True(removed.ExitCode == 0, removed.Output);
            Assert.False(Path.Exists(link));
            if (target is not null) Assert.False(Directory.Exists(target));
        }
        finally { Directory.Delete(Path.GetDirectoryName(clone)!, recursive: true); }
    }

    [Fact]
    public async Task An_ordinary_user_keeps_the_cluster_under_the_clones_data_folder()
    {
        // As root, an ordinary user is nobody; otherwise the tests already run as one.
        var user = Environment.UserName == "root" ? "nobody" : null;
        var clone = MakePrivateClone(owner: user);
        try
        {
            var result = await RunAsync(clone, asUser: user);
            Assert.True(result.ExitCode == 0, result.Output);
            Assert.Contains("answered", result.Output);
            var data = Path.Combine(clone, ".data", "pg");
            Assert.Contains($"data: {data}", result.Output);
            Assert.Null(new DirectoryInfo(data).LinkTarget);
            Assert.True(File.Exists(Path.Combine(data, "PG_VERSION")));
        }
        finally { Directory.Delete(Path.GetDirectoryName(clone)!, recursive: true); }
    }

    private static string MakePrivateClone(string? owner)
    {
        var home = Path.Combine(Path.GetTempPath(), $"tora-0700-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        Process.Start("chmod", ["700", home])!.WaitForExit();
        var clone = Path.Combine(home, "clone");
        Directory.CreateDirectory(Path.Combine(clone, "scripts"));
        File.Copy(Path.Combine(TestData.RepositoryRoot, "scripts", "common.sh"), Path.Combine(clone, "scripts", "common.sh"));
        if (owner is not null) Process.Start("chown", ["-R", owner, home])!.WaitForExit();
        return clone;
    }

    private static Task<(int ExitCode, string Output)> RunAsync(string clone, string? asUser) =>
        RunShellAsync(clone, Script, asUser, FreePort().ToString());

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(int ExitCode, string Output)> RunShellAsync(string clone, string script, string? asUser, params string[] args)
    {
        string[] bash = ["bash", "-c", script, "bash", .. args];
        var psi = asUser is null ? new ProcessStartInfo(bash[0], bash[1..]) : new ProcessStartInfo("runuser", ["-u", asUser, "--", .. bash]);
        psi.WorkingDirectory = clone;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }
}
