using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Tora.Core.Jobs;

/// <summary>
/// Moves accepted generations from the outbox (<c>dispatched_at IS NULL</c>) into Hangfire, off the request path:
/// Hangfire's enqueue costs about 8 round trips and 3 commits, far too slow for the accept path
/// (docs/architecture.md §8), so the API commits one INSERT and this loop creates the jobs.
/// Rows are locked (<c>FOR UPDATE SKIP LOCKED</c>, so several API instances can run it) until the job id is
/// committed on the row; a worker that picks the job up first waits on that lock, and a job whose id never got
/// committed (crash in between) finds the row owned by no one and does nothing, while the row is dispatched again.
/// </summary>
public sealed class GenerationDispatcher(
    NpgsqlDataSource dataSource, IBackgroundJobClient jobs, ILogger<GenerationDispatcher> logger, IOptions<LimitOptions>? limits = null)
    : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>How often the outbox is read when nothing signalled (other API instances' rows).</summary>
    public static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(50);

    private const int BatchSize = 16;

    /// <summary>Wakes the loop now (called after an accept in this process).</summary>
    public void Signal()
    {
        if (_signal.CurrentCount == 0)
        {
            try { _signal.Release(); } catch (SemaphoreFullException) { /* already signalled */ }
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await DispatchBatchAsync(stoppingToken) == BatchSize) { }
                await _signal.WaitAsync(IdlePoll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "dispatching generations failed; retrying in 1 s");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    /// <summary>Creates Hangfire jobs for up to one batch of outbox rows; returns how many.</summary>
    public async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var rows = new List<(Guid Id, string Queue)>();
        var caps = limits?.Value;
        var capped = caps?.HasRunningCaps == true;
        // With per-tenant running caps, rows of tenants already at their cap stay in the outbox (the filter skips
        // them, so other tenants' rows behind them are reached); within one batch the count is tracked here.
        await using (var select = new NpgsqlCommand(!capped
            ? "SELECT id, queue, tenant, 0::bigint FROM generations WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"
            : """
              SELECT g.id, g.queue, g.tenant, a.active FROM generations g,
                     LATERAL (SELECT count(*) AS active FROM generations x
                              WHERE x.tenant = g.tenant AND x.dispatched_at IS NOT NULL AND x.status IN ('queued', 'running')) a
              WHERE g.dispatched_at IS NULL
                AND (coalesce((SELECT o.cap FROM unnest($3::text[], $4::int[]) AS o(tenant, cap) WHERE o.tenant = g.tenant), $2) <= 0
                     OR a.active < coalesce((SELECT o.cap FROM unnest($3::text[], $4::int[]) AS o(tenant, cap) WHERE o.tenant = g.tenant), $2))
              ORDER BY g.id LIMIT $1 FOR UPDATE OF g SKIP LOCKED
              """, connection, tx))
        {
            select.Parameters.Add(new() { Value = BatchSize });
            if (capped)
            {
                var overrides = caps!.Tenants.Where(t => t.Value.MaxRunning is not null).ToArray();
                select.Parameters.Add(new() { Value = caps.MaxRunningPerTenant });
                select.Parameters.Add(new() { Value = overrides.Select(o => o.Key).ToArray() });
                select.Parameters.Add(new() { Value = overrides.Select(o => o.Value.MaxRunning!.Value).ToArray() });
            }
            var active = new Dictionary<string, long>();
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var tenant = reader.GetString(2);
                var n = active.TryGetValue(tenant, out var seen) ? seen : reader.GetInt64(3);
                var cap = caps?.MaxRunningFor(tenant) ?? 0;
                if (cap > 0 && n >= cap) continue;
                active[tenant] = n + 1;
                rows.Add((reader.GetGuid(0), reader.GetString(1)));
            }
        }
        if (rows.Count == 0) return 0;

        var batch = new NpgsqlBatch(connection, tx);
        foreach (var (id, queue) in rows)
        {
            // The queue is part of the job (Hangfire 1.8), so a retry goes back to this model's queue, not "default".
            var job = Job.FromExpression<IGenerationJob>(j => j.RunAsync(id, null, CancellationToken.None), queue);
            var jobId = jobs.Create(job, new EnqueuedState(queue));
            var update = new NpgsqlBatchCommand("UPDATE generations SET dispatched_at = now(), job_id = $2 WHERE id = $1");
            update.Parameters.Add(new() { Value = id });
            update.Parameters.Add(new() { Value = jobId });
            batch.BatchCommands.Add(update);
        }
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return rows.Count;
    }
}
