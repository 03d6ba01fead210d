using Npgsql;
using Tora.Core.Tenancy;

namespace Tora.Cli.Tests;

/// <summary><c>tora keys create</c> against a real PostgreSQL database of its own (TORA_TEST_POSTGRES).</summary>
public sealed class KeysCommandTests : IAsyncLifetime
{
    private readonly string _database = $"tora_cli_{Guid.NewGuid():N}";
    private NpgsqlDataSource _server = null!;
    private string _connectionString = "";

    public async Task InitializeAsync()
    {
        var server = Environment.GetEnvironmentVariable("TORA_TEST_POSTGRES")
            ?? throw new InvalidOperationException("TORA_TEST_POSTGRES is not set: run the tests through ./test.sh");
        _server = NpgsqlDataSource.Create(server);
        await using (var cmd = _server.CreateCommand($"CREATE DATABASE \"{_database}\"")) await cmd.ExecuteNonQueryAsync();
        _connectionString = new NpgsqlConnectionStringBuilder(server) { Database = _database, Pooling = false }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        await using (var cmd = _server.CreateCommand($"DROP DATABASE IF EXISTS \"{_database}\" WITH (FORCE)")) await cmd.ExecuteNonQueryAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Keys_create_prints_a_key_that_authenticates_its_tenant_and_stores_only_its_hash()
    {
        var result = await CliRunner.RunAsync("keys", "create", "--tenant", "acme", "--admin", "--database", _connectionString);
        Assert.True(result.ExitCode == 0, result.Error);
        var key = result.Output.Trim();
        Assert.StartsWith("tora_", key);

        await using var db = NpgsqlDataSource.Create(_connectionString);
        var owner = await new ApiKeyStore(db).FindAsync(key, default);
        Assert.Equal("acme", owner!.Tenant);
        Assert.True(owner.IsAdmin);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM api_keys WHERE position(convert_to($1, 'UTF8') in key_hash) > 0 OR prefix = $1");
        cmd.Parameters.Add(new() { Value = key });
        Assert.Equal(0L, await cmd.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("Bad Name", "tenant name 'Bad Name' is invalid")]
    [InlineData("", "tenant name '' is invalid")]
    public async Task Keys_create_rejects_bad_tenant_names_in_one_line(string tenant, string message)
    {
        var result = await CliRunner.RunAsync("keys", "create", "--tenant", tenant, "--database", _connectionString);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("tora: " + message, result.Error);
        Assert.Single(result.Error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Keys_create_reports_an_unreachable_database_in_one_line()
    {
        var result = await CliRunner.RunAsync("keys", "create", "--tenant", "acme", "--database", "Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=2");
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("tora: could not create the key:", result.Error);
    }

    [Fact]
    public async Task Keys_list_shows_named_expiring_keys_without_secrets_and_revoke_stops_one()
    {
        var created = await CliRunner.RunAsync("keys", "create", "--tenant", "listed", "--name", "ci", "--expires-in-days", "7", "--database", _connectionString);
        Assert.True(created.ExitCode == 0, created.Error);
        var key = created.Output.Trim();

        var list = await CliRunner.RunAsync("keys", "list", "--tenant", "listed", "--database", _connectionString);
        Assert.True(list.ExitCode == 0, list.Error);
        var lines = list.Output.Trim().Split('\n');
        Assert.Equal("id\ttenant\tprefix\tname\tadmin\tcreated_at\texpires_at\tlast_used_at\trevoked_at", lines[0]);
        var row = Assert.Single(lines[1..]).Split('\t');
        Assert.Equal(["listed", key[..11], "ci", "no"], row[1..5]);
        Assert.Equal(DateTime.UtcNow.AddDays(7).ToString("yyyy-MM-dd"), row[6][..10]);
        Assert.Equal("-", row[8]);
        Assert.DoesNotContain(key[11..], list.Output, StringComparison.Ordinal);

        var revoked = await CliRunner.RunAsync("keys", "revoke", row[0], "--database", _connectionString);
        Assert.True(revoked.ExitCode == 0, revoked.Error);
        await using var db = NpgsqlDataSource.Create(_connectionString);
        Assert.Null(await new ApiKeyStore(db).FindAsync(key, default));
        list = await CliRunner.RunAsync("keys", "list", "--tenant", "listed", "--database", _connectionString);
        Assert.NotEqual("-", list.Output.Trim().Split('\n')[1].Split('\t')[8]);
    }

    [Theory]
    [InlineData(1, "revoke", "00000000-0000-0000-0000-000000000001", "tora: no API key has id 00000000-0000-0000-0000-000000000001")]
    [InlineData(2, "revoke", "nope", "tora: 'nope' is not a key id")]
    [InlineData(2, "create", "--expires-in-days=0", "tora: --expires-in-days must be between 1 and 3650")]
    public async Task Keys_commands_report_bad_input_in_one_line(int exitCode, string command, string argument, string message)
    {
        string[] args = command == "create" ? ["keys", "create", "--tenant", "x", argument] : ["keys", command, argument];
        var result = await CliRunner.RunAsync([.. args, "--database", _connectionString]);
        Assert.Equal(exitCode, result.ExitCode);
        Assert.StartsWith(message, result.Error);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
