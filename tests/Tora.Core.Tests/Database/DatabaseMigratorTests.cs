using Npgsql;
using Tora.Core.Database;
using Tora.TestSupport;

namespace Tora.Core.Tests.Database;

/// <summary>The migrations against a fresh PostgreSQL database of their own.</summary>
public sealed class DatabaseMigratorTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private NpgsqlDataSource _db = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_migrate");
        _db = ServiceCollectionExtensions.CreateDataSource(_database.ConnectionString, "test");
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task Migrations_apply_once_even_when_started_concurrently()
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => DatabaseMigrator.MigrateAsync(_db)));
        Assert.Equal(DatabaseMigrator.Migrations.Count, runs.Sum(r => r.Count));
        Assert.Empty(await DatabaseMigrator.MigrateAsync(_db));
    }
}
