using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tora.Core.Jobs;

/// <summary>
/// Moves accepted generations from the outbox (<c>dispatched_at IS NULL</c>) into Hangfire, off the request path:
/// Hangfire's enqueue costs about 8 round trips and 3 commits, far too slow for the accept path
/// (research/api-throughput.md), so the API commits one INSERT and this loop creates the jobs.
/// Rows are locked (<c>FOR UPDATE SKIP LOCKED</c>, so several API instances can run it) until the job id is
/// committed on the row; a worker that picks the job up first waits on that lock, and a job whose id never got
/// committed (crash in between) finds the row owned by no one and does nothing, while the row is dispatched again.
/// </summary>
public sealed class GenerationDispatcher(NpgsqlDataSource dataSource, IBackgroundJobClient jobs, ILogger<GenerationDispatcher> logger)
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
        await using (var select = new NpgsqlCommand(
            "SELECT id, queue FROM generations WHERE dispatched_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", connection, tx))
        {
            select.Parameters.Add(new() { Value = BatchSize });
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) rows.Add((reader.GetGuid(0), reader.GetString(1)));
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
