using Npgsql;
using Tora.Core.Database;
using Tora.TestSupport;

namespace Tora.Core.Tests.Database;

/// <summary>The migrations against a fresh PostgreSQL database of their own.</summary>
public sealed class DatabaseMigratorTests() : DatabaseTest("tora_migrate", migrate: false)
{
    [Fact]
    public async Task Migrations_apply_once_even_when_started_concurrently()
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => DatabaseMigrator.MigrateAsync(Db)));
        Assert.Equal(DatabaseMigrator.Migrations.Count, runs.Sum(r => r.Count));
        Assert.Empty(await DatabaseMigrator.MigrateAsync(Db));
    }
}
