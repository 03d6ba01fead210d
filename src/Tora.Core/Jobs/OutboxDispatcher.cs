using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tora.Core.Jobs;

/// <summary>
/// The loop under both outbox dispatchers (generations, webhook events): a pass drains the outbox batch by batch,
/// each batch in one transaction that holds its rows locked while it creates their Hangfire jobs and marks them
/// dispatched, so a crash before the commit leaves the rows unmarked, to be dispatched again
/// (docs/architecture.md §3, step 5).
/// </summary>
/// <param name="dataSource">The database holding the outbox.</param>
/// <param name="logger">Where failed passes are reported.</param>
public abstract class OutboxDispatcher(NpgsqlDataSource dataSource, ILogger logger) : PollingService(logger)
{
    /// <summary>
    /// Creates the jobs of one batch of outbox rows and marks the rows, inside <paramref name="tx"/> (committed by the
    /// caller once this returns); returns how many rows it dispatched, 0 when the outbox has nothing ready.
    /// </summary>
    protected abstract Task<int> CreateJobsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct);

    /// <summary>Dispatches one batch in its own transaction; returns how many rows it dispatched.</summary>
    public async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var dispatched = await CreateJobsAsync(connection, tx, ct);
        await tx.CommitAsync(ct);
        return dispatched;
    }

    /// <inheritdoc />
    protected sealed override async Task RunPassAsync(CancellationToken ct)
    {
        while (await DispatchBatchAsync(ct) > 0) { }
    }
}
