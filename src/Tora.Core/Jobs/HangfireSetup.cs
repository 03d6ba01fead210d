using Hangfire;
using Hangfire.PostgreSql;

namespace Tora.Core.Jobs;

/// <summary>Hangfire settings shared by the API (client, dashboard) and the workers (server).</summary>
public static class HangfireSetup
{
    /// <summary>Queue polling interval: an idle worker notices a new job within this time (target ≤ 200 ms, docs/architecture.md §4).</summary>
    public static readonly TimeSpan QueuePollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Default time after which a killed worker's job is fetched again by a live worker.</summary>
    public static readonly TimeSpan DefaultInvisibilityTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Configures Hangfire on PostgreSQL. The sliding invisibility timeout keeps a long GPU job invisible to
    /// other workers for as long as its worker heartbeats (docs/architecture.md §4: a fixed timeout re-runs long jobs),
    /// while a job of a dead worker becomes visible again within <see cref="PostgreSqlStorageOptions.InvisibilityTimeout"/>.
    /// </summary>
    /// <param name="configuration">Hangfire's configuration.</param>
    /// <param name="connectionString">The PostgreSQL connection string.</param>
    /// <param name="invisibilityTimeout">How long a fetched job of a silent (dead) worker stays invisible; default <see cref="DefaultInvisibilityTimeout"/>.</param>
    public static IGlobalConfiguration UseToraStorage(this IGlobalConfiguration configuration, string connectionString, TimeSpan? invisibilityTimeout = null) =>
        configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(connectionString), new PostgreSqlStorageOptions
            {
                SchemaName = "hangfire",
                PrepareSchemaIfNecessary = true,
                QueuePollInterval = QueuePollInterval,
                InvisibilityTimeout = invisibilityTimeout ?? DefaultInvisibilityTimeout,
                UseSlidingInvisibilityTimeout = true,
                DistributedLockTimeout = TimeSpan.FromMinutes(1),
            });
}
