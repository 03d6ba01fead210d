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
}
