using Npgsql;
using Tora.Core.Database;
using Tora.TestSupport;

namespace Tora.Core.Tests;

/// <summary>
/// A test class with a PostgreSQL database of its own (created before its tests, dropped after them) and a data
/// source on it, migrated to the latest schema when <paramref name="migrate"/> is true.
/// </summary>
public abstract class DatabaseTest(string name, bool migrate) : IAsyncLifetime
{
    private TestDatabase _database = null!;

    /// <summary>The data source on the test's database.</summary>
    protected NpgsqlDataSource Db { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync(name);
        Db = ServiceCollectionExtensions.CreateDataSource(_database.ConnectionString, "test");
        if (migrate) await DatabaseMigrator.MigrateAsync(Db);
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await Db.DisposeAsync();
        await _database.DisposeAsync();
    }
}
