using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Tora.Core.Jobs;

/// <summary>
/// Moves accepted generations from the outbox (<c>dispatched_at IS NULL</c>) into Hangfire, off the request path,
/// in the fair order of <see cref="FairScheduler"/> and only as fast as the workers take them:
/// Hangfire's enqueue costs about 8 round trips and 3 commits, far too slow for the accept path
/// (docs/architecture.md §8), so the API commits one INSERT and this loop creates the jobs.
/// Rows are locked (<c>FOR UPDATE</c>; one instance plans at a time, so several API instances can run it) until the job id is
/// committed on the row; a worker that picks the job up first waits on that lock, and a job whose id never got
/// committed (crash in between) finds the row owned by no one and does nothing, while the row is dispatched again.
/// </summary>
public sealed class GenerationDispatcher(
    NpgsqlDataSource dataSource, IBackgroundJobClient jobs, ILogger<GenerationDispatcher> logger, IOptions<LimitOptions>? limits = null)
    : OutboxDispatcher(dataSource, logger)
{
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly FairScheduler _scheduler = new(limits?.Value);
    // Queues the last pass found full (work waiting, no room). Replaced whole by each pass; read without a lock.
    private volatile IReadOnlySet<string> _fullQueues = new HashSet<string>();

    private const long PlanLockKey = 0x746F7261_66616972; // "torafair"

    /// <summary>How often the outbox is read when nothing signalled (other API instances' rows).</summary>
    public static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Wakes the loop now, after a generation of <paramref name="queue"/> was accepted in this process, unless the last
    /// pass found that queue full: then the new generation waits its turn behind others anyway, and the room it needs
    /// opens only when a worker takes a job, which the <see cref="IdlePoll"/> pass notices. So a burst of accepts into
    /// a busy queue costs no planning pass each.
    /// </summary>
    public void Signal(string queue)
    {
        if (_fullQueues.Contains(queue)) return;
        if (_signal.CurrentCount == 0)
        {
            try { _signal.Release(); } catch (SemaphoreFullException) { /* already signalled */ }
        }
    }

    /// <inheritdoc />
    protected override string Activity => "dispatching generations";

    /// <inheritdoc />
    protected override Task WaitAsync(CancellationToken ct) => _signal.WaitAsync(IdlePoll, ct);

    /// <summary>
    /// Releases the generations <see cref="FairScheduler"/> picks (as many as the model queues have room for) as
    /// Hangfire jobs; returns how many. One API instance plans at a time (a transaction-scoped advisory lock), since
    /// a plan reads and advances the tenants' passes.
    /// </summary>
    protected override async Task<int> CreateJobsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using (var lockCmd = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock({PlanLockKey})", connection, tx))
            if (!(bool)(await lockCmd.ExecuteScalarAsync(ct))!) return 0;
        var plan = await _scheduler.PlanAsync(connection, tx, ct);
        _fullQueues = plan.FullQueues;
        var rows = plan.Releases;
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
        return rows.Count;
    }
}
