using Npgsql;

namespace Tora.TestSupport;

/// <summary>
/// A PostgreSQL database of its own for one test fixture, created on the private cluster that test.sh starts
/// (<c>TORA_TEST_POSTGRES</c>) and dropped, with every open connection, on dispose.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly NpgsqlDataSource _admin;

    private TestDatabase(NpgsqlDataSource admin, string name, string connectionString)
    {
        _admin = admin;
        Name = name;
        ConnectionString = connectionString;
    }

    /// <summary>The database name.</summary>
    public string Name { get; }

    /// <summary>A pooled connection string to the database.</summary>
    public string ConnectionString { get; }

    /// <summary>Creates a database named <paramref name="prefix"/> plus a random suffix.</summary>
    public static async Task<TestDatabase> CreateAsync(string prefix)
    {
        var server = Environment.GetEnvironmentVariable("TORA_TEST_POSTGRES")
            ?? throw new InvalidOperationException("TORA_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts PostgreSQL");
        var name = $"{prefix}_{Guid.NewGuid():N}";
        var admin = NpgsqlDataSource.Create(server);
        await using (var cmd = admin.CreateCommand($"CREATE DATABASE \"{name}\"")) await cmd.ExecuteNonQueryAsync();
        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name, Pooling = true }.ConnectionString;
        return new TestDatabase(admin, name, connectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using (var cmd = _admin.CreateCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)")) await cmd.ExecuteNonQueryAsync();
        await _admin.DisposeAsync();
    }
}
