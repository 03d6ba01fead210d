using Microsoft.Extensions.Logging;
using Npgsql;
using Tora.Core.Blobs;
using Tora.Core.Generations;

namespace Tora.Core.Jobs;

/// <summary>The recurring retention job (Hangfire queue <see cref="Queue"/>, run by the API's job server).</summary>
public interface IRetentionJob
{
    /// <summary>The recurring job's id.</summary>
    const string RecurringId = "tora-retention";
    /// <summary>The Hangfire queue of maintenance jobs.</summary>
    const string Queue = "maintenance";

    /// <summary>Deletes the files of expired generations, marks them <c>expired</c>, and forgets expired idempotency keys.</summary>
    [Hangfire.DisableConcurrentExecution(timeoutInSeconds: 60)]
    Task RunAsync(CancellationToken cancellationToken);
}

/// <summary>
/// Expires results: for each finished generation whose <c>expires_at</c> has passed, deletes its blobs first and
/// only then marks the record <c>expired</c> (clearing its keys), so a crash in between leaves a row that the next
/// run picks up again rather than a record pointing at nothing.
/// </summary>
public sealed class RetentionJob(NpgsqlDataSource dataSource, IBlobStore blobs, IdempotencyStore idempotency, ILogger<RetentionJob> logger) : IRetentionJob
{
    private const int BatchSize = 200;

    /// <inheritdoc />
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var rows = new List<(Guid Id, string?[] Keys)>();
            await using (var cmd = dataSource.CreateCommand("""
                SELECT id, video_key, thumbnail_key, first_frame_key, tenant, (input->>'has_flow_video')::boolean FROM generations
                WHERE expires_at <= now() AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY expires_at LIMIT $1
                """))
            {
                cmd.Parameters.Add(new() { Value = BatchSize });
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
                while (await r.ReadAsync(cancellationToken))
                    rows.Add((r.GetGuid(0), [Str(r, 1), Str(r, 2), Str(r, 3),
                        !r.IsDBNull(5) && r.GetBoolean(5) ? Generation.FlowVideoKeyOf(r.GetString(4), r.GetGuid(0)) : null]));
            }
            foreach (var (id, keys) in rows)
            {
                foreach (var key in keys) if (key is not null) await blobs.DeleteAsync(key, cancellationToken);
                await using var mark = dataSource.CreateCommand("""
                    UPDATE generations SET status = 'expired', video_key = NULL, thumbnail_key = NULL, first_frame_key = NULL
                    WHERE id = $1 AND status IN ('succeeded', 'failed', 'cancelled')
                    """);
                mark.Parameters.Add(new() { Value = id });
                await mark.ExecuteNonQueryAsync(cancellationToken);
            }
            total += rows.Count;
            if (rows.Count < BatchSize) break;
        }
        var keysForgotten = await idempotency.DeleteExpiredAsync(cancellationToken);
        if (total > 0 || keysForgotten > 0)
            logger.LogInformation("retention: expired {Count} generations, forgot {Keys} idempotency keys", total, keysForgotten);
    }

    private static string? Str(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
