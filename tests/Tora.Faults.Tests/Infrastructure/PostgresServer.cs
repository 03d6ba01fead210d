using System.Diagnostics;
using Npgsql;
using Tora.TestSupport;

namespace Tora.Faults.Tests;

/// <summary>How PostgreSQL is stopped (<c>pg_ctl stop -m</c>).</summary>
public enum PostgresStopMode
{
    /// <summary>Disconnects every client, rolls back open transactions, checkpoints.</summary>
    Fast,
    /// <summary>Aborts every server process at once, as a crash would; recovery replays the WAL on the next start.</summary>
    Immediate,
}

/// <summary>
/// A PostgreSQL cluster of its own (initdb into a temporary folder, loopback only, a free port) that a test may stop,
/// crash and restart without touching the cluster the other test projects share. Runs the server binaries as the
/// <c>postgres</c> user when the tests run as root (PostgreSQL refuses to run as root).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _data;
    private readonly bool _asPostgresUser;

    private PostgresServer(string bin, string data, int port, bool asPostgresUser)
    {
        _bin = bin;
        _data = data;
        Port = port;
        _asPostgresUser = asPostgresUser;
    }

    /// <summary>The loopback port (kept across restarts).</summary>
    public int Port { get; }

    /// <summary>A pooled connection string to <paramref name="database"/>.</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true";

    /// <summary>Initialises and starts a new cluster.</summary>
    public static async Task<PostgresServer> StartNewAsync()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
            : null;
        if (bin is null) throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql: run the tests through ./test.sh, which installs them");
        var asPostgres = Environment.UserName == "root";
        // Outside any folder the postgres user could not traverse.
        var data = Path.Combine("/tmp", $"tora-fault-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(data);
        if (asPostgres) await RunAsync("chown", ["postgres:postgres", data]);
        var server = new PostgresServer(bin, data, ServiceCluster.FreePort(), asPostgres);
        await server.RunServerToolAsync("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        await server.StartAsync();
        return server;
    }

    /// <summary>Starts the (stopped) cluster and waits until it accepts connections.</summary>
    public Task StartAsync() => RunServerToolAsync("pg_ctl", ["-D", _data, "-l", Path.Combine(_data, "server.log"), "-w", "-t", "60",
        "-o", $"-p {Port} -k {_data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300", "start"]);

    /// <summary>Stops the cluster in the given mode and waits until it is down.</summary>
    public Task StopAsync(PostgresStopMode mode) =>
        RunServerToolAsync("pg_ctl", ["-D", _data, "-w", "-t", "60", "-m", mode == PostgresStopMode.Fast ? "fast" : "immediate", "stop"]);

    /// <summary>Creates a database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var admin = NpgsqlDataSource.Create(ConnectionString());
        await using (var cmd = admin.CreateCommand($"CREATE DATABASE \"{name}\"")) await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>The server's log (for failure messages).</summary>
    public string Log()
    {
        try { return File.ReadAllText(Path.Combine(_data, "server.log")); }
        catch (IOException e) { return e.Message; }
    }

    private Task RunServerToolAsync(string tool, string[] args) =>
        _asPostgresUser ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args]) : RunAsync(Path.Combine(_bin, tool), args);

    private static async Task RunAsync(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}: {await stdout}{await stderr}");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        try { await StopAsync(PostgresStopMode.Immediate); } catch (InvalidOperationException) { /* already stopped */ }
        try { Directory.Delete(_data, true); } catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
