using System.Reflection;
using Npgsql;

namespace Tora.Core.Database;

/// <summary>
/// Applies the versioned SQL scripts embedded under <c>Database/Migrations</c> (named <c>NNNN_name.sql</c>) in
/// order, each once, each in its own transaction, recorded in <c>schema_migrations</c>. A session-level
/// advisory lock makes concurrent start-ups (API and workers together) apply them exactly once.
/// </summary>
public static class DatabaseMigrator
{
    private const long LockKey = 0x746F7261_6D696772; // "toramigr"

    /// <summary>The embedded migrations, in the order they apply: (version, name, sql).</summary>
    public static IReadOnlyList<(int Version, string Name, string Sql)> Migrations { get; } = Load();

    /// <summary>Applies every migration not yet applied; returns the names applied by this call.</summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await Execute(connection, null, $"SELECT pg_advisory_lock({LockKey})", cancellationToken);
        try
        {
            await Execute(connection, null, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken);
            var applied = new HashSet<int>();
            await using (var cmd = new NpgsqlCommand("SELECT version FROM schema_migrations", connection))
            await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken))
                while (await reader.ReadAsync(cancellationToken)) applied.Add(reader.GetInt32(0));

            var done = new List<string>();
            foreach (var (version, name, sql) in Migrations)
            {
                if (applied.Contains(version)) continue;
                await using var tx = await connection.BeginTransactionAsync(cancellationToken);
                await Execute(connection, tx, sql, cancellationToken);
                await using (var record = new NpgsqlCommand("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", connection, tx))
                {
                    record.Parameters.Add(new() { Value = version });
                    record.Parameters.Add(new() { Value = name });
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await tx.CommitAsync(cancellationToken);
                done.Add(name);
            }
            return done;
        }
        finally
        {
            await Execute(connection, null, $"SELECT pg_advisory_unlock({LockKey})", CancellationToken.None);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static List<(int, string, string)> Load()
    {
        var assembly = typeof(DatabaseMigrator).Assembly;
        const string prefix = "Tora.Core.Database.Migrations.";
        var list = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var name = resource[prefix.Length..^".sql".Length];
            var underscore = name.IndexOf('_');
            if (underscore <= 0 || !int.TryParse(name[..underscore], out var version))
                throw new InvalidOperationException($"migration '{name}' is not named NNNN_name.sql");
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add((version, name, reader.ReadToEnd()));
        }
        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        for (var i = 1; i < list.Count; i++)
            if (list[i].Item1 == list[i - 1].Item1) throw new InvalidOperationException($"two migrations have version {list[i].Item1}");
        return list;
    }
}
