using Hangfire;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tora.Core.Database;

namespace Tora.Core.Webhooks;

/// <summary>
/// Turns webhook events written by the database trigger (the outbox, <c>job_created = false</c>) into delivery
/// jobs, the same way <see cref="Jobs.GenerationDispatcher"/> does for generations: rows stay locked
/// (<c>FOR UPDATE SKIP LOCKED</c>, safe with several API instances) until the flag is committed.
/// </summary>
public sealed class WebhookDispatcher(NpgsqlDataSource dataSource, IBackgroundJobClient jobs, ILogger<WebhookDispatcher> logger)
    : Jobs.OutboxDispatcher(dataSource, logger)
{
    /// <summary>How often the outbox is read.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <inheritdoc />
    protected override string Activity => "dispatching webhook events";

    /// <inheritdoc />
    protected override Task WaitAsync(CancellationToken ct) => Task.Delay(Poll, ct);

    /// <summary>Creates the first delivery job of up to 32 new events; returns how many.</summary>
    protected override async Task<int> CreateJobsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        List<Guid> ids;
        await using (var cmd = new NpgsqlCommand(
            "SELECT id FROM webhook_events WHERE NOT job_created ORDER BY created_at LIMIT 32 FOR UPDATE SKIP LOCKED", connection, tx))
            ids = await cmd.ReadAllAsync(r => r.GetGuid(0), ct);
        if (ids.Count == 0) return 0;
        foreach (var id in ids)
            jobs.Enqueue<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(id, 1, CancellationToken.None));
        await using (var update = new NpgsqlCommand("UPDATE webhook_events SET job_created = true WHERE id = ANY($1)", connection, tx))
        {
            update.Parameters.Add(new() { Value = ids.ToArray() });
            await update.ExecuteNonQueryAsync(ct);
        }
        return ids.Count;
    }
}
