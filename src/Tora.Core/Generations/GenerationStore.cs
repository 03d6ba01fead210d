using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tora.Contracts;
using Tora.Core.Database;

namespace Tora.Core.Generations;

/// <summary>
/// Generation records in PostgreSQL (plain Npgsql, parameterised statements that Npgsql auto-prepares).
/// Every read and write from the API is scoped by tenant: a row of another tenant is simply not found.
/// Worker writes are scoped by the Hangfire job id that owns the row, so a duplicate job cannot touch it.
/// </summary>
public sealed class GenerationStore(NpgsqlDataSource dataSource, Microsoft.Extensions.Options.IOptions<LimitOptions>? limits = null)
{
    private const string Columns = """
        id, tenant, status, queue, input, first_frame_key, created_at, dispatched_at, job_id, started_at, finished_at,
        phase, step, total_steps, attempts, worker, error_code, error_message, video_key, video_etag, video_bytes,
        thumbnail_key, timings, reproducibility, expires_at, traceparent
        """;

    /// <summary>Stores a new generation (one autocommitted statement: when it returns, the row is committed).</summary>
    public Task InsertAsync(Generation g, CancellationToken ct) => InsertAsync(g, null, ct);

    /// <summary>
    /// Stores a new generation and, with <paramref name="reservation"/>, records it on its Idempotency-Key in the same
    /// statement: both are committed or neither is. The insert happens only while the key is still reserved by this
    /// payload and has no generation yet; false when it is not (another request with the key got there first), and
    /// nothing was stored.
    /// </summary>
    /// <remarks>
    /// One statement, so there is no moment where the generation exists without its key (a client retrying after an
    /// outage would create a second one) or the key points at a generation that does not exist. If the commit happens
    /// but its answer is lost, the retry with the same key finds the key completed and replays the generation.
    /// </remarks>
    public async Task<bool> InsertAsync(Generation g, IdempotencyReservation? reservation, CancellationToken ct)
    {
        const string Values = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $8 + make_interval(secs => $10), $13";
        const string InsertColumns = "id, tenant, model, queue, status, input, first_frame_key, created_at, total_steps, deadline_at, traceparent";
        await using var cmd = dataSource.CreateCommand(reservation is null
            ? $"INSERT INTO generations ({InsertColumns}) VALUES ({Values})"
            : $"""
               WITH claimed AS (
                   UPDATE idempotency_keys SET generation_id = $1
                   WHERE tenant = $2 AND key = $11 AND fingerprint = $12 AND generation_id IS NULL
                   RETURNING 1)
               INSERT INTO generations ({InsertColumns}) SELECT {Values} WHERE EXISTS (SELECT 1 FROM claimed)
               """);
        cmd.Parameters.Add(new() { Value = g.Id });
        cmd.Parameters.Add(new() { Value = g.Tenant });
        cmd.Parameters.Add(new() { Value = g.Input.Model });
        cmd.Parameters.Add(new() { Value = g.Queue });
        cmd.Parameters.Add(new() { Value = g.Status });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(g.Input, StoredJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = (object?)g.FirstFrameKey ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = g.CreatedAt });
        cmd.Parameters.Add(new() { Value = g.TotalSteps });
        cmd.Parameters.Add(new() { Value = (object?)(double?)g.Input.CancelAfter ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        if (reservation is null)
        {
            // $11 and $12 belong to the reservation: typed placeholders keep the numbering of $13.
            cmd.Parameters.Add(new() { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bytea });
        }
        if (reservation is not null)
        {
            if (reservation.Tenant != g.Tenant) throw new ArgumentException("the reservation belongs to another tenant", nameof(reservation));
            cmd.Parameters.Add(new() { Value = reservation.Key });
            cmd.Parameters.Add(new() { Value = reservation.Fingerprint });
        }
        // The accepting request's trace context, so the worker and the webhook deliveries continue its trace.
        cmd.Parameters.Add(new() { Value = (object?)(g.TraceParent ?? Observability.ToraTracing.CurrentTraceParent()) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>One generation of a tenant, or null (also when it belongs to another tenant).</summary>
    public async Task<Generation?> GetAsync(string tenant, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM generations WHERE id = $1 AND tenant = $2");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = tenant });
        return await ReadOne(cmd, ct);
    }

    /// <summary>One generation whatever its tenant (workers only).</summary>
    public async Task<Generation?> GetAnyAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM generations WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        return await ReadOne(cmd, ct);
    }

    /// <summary>A page of a tenant's generations, newest first, strictly older than <paramref name="before"/> when given.</summary>
    public async Task<IReadOnlyList<Generation>> ListAsync(string tenant, string? status, Guid? before, int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM generations
            WHERE tenant = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4
            """);
        cmd.Parameters.Add(new() { Value = tenant });
        cmd.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        cmd.Parameters.Add(new() { Value = limit });
        return await cmd.ReadAllAsync(Read, ct);
    }

    /// <summary>How many generations of a tenant are queued (for the per-tenant cap).</summary>
    public async Task<long> CountQueuedAsync(string tenant, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT count(*) FROM generations WHERE tenant = $1 AND status = 'queued'");
        cmd.Parameters.Add(new() { Value = tenant });
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// <see cref="QueuePositionAsync"/> when the queue holds fewer than <paramref name="limit"/> queued generations,
    /// else null (not counted). The position costs a pass over the whole queue; the accept path answers with it only
    /// while that is cheap, so a long backlog does not slow every accept down (a GET always counts).
    /// </summary>
    public async Task<int?> QueuePositionIfShorterThanAsync(string queue, Guid id, int limit, CancellationToken ct)
    {
        await using (var probe = dataSource.CreateCommand(
            "SELECT count(*) FROM (SELECT 1 FROM generations WHERE queue = $1 AND status = 'queued' LIMIT $2) q"))
        {
            probe.Parameters.Add(new() { Value = queue });
            probe.Parameters.Add(new() { Value = (long)limit });
            if ((long)(await probe.ExecuteScalarAsync(ct))! >= limit) return null;
        }
        return await QueuePositionAsync(queue, id, ct);
    }

    /// <summary>
    /// How many queued generations of the same queue start before this one, in the order the dispatcher releases
    /// them (<see cref="Jobs.FairScheduler"/>): those already released to the workers, then the outbox in pass order,
    /// each tenant's generations projected from its current pass (FIFO within the tenant, 1/weight apart). A
    /// tenant held back by its running cap may start later than this says.
    /// </summary>
    public async Task<int> QueuePositionAsync(string queue, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            WITH me AS (SELECT id, dispatched_at FROM generations WHERE id = $2 AND queue = $1 AND status = 'queued'),
            released AS (
                SELECT count(*) AS n FROM generations g, me
                WHERE g.queue = $1 AND g.dispatched_at IS NOT NULL AND g.status = 'queued' AND g.attempts = 0
                  AND (me.dispatched_at IS NULL OR (g.dispatched_at, g.id) < (me.dispatched_at, me.id))),
            clock AS (SELECT coalesce((SELECT clock FROM fair_queues WHERE queue = $1), 0) AS c),
            outbox AS (
                SELECT g.id, g.tenant, row_number() OVER (PARTITION BY g.tenant ORDER BY g.id) - 1 AS k
                FROM generations g WHERE g.queue = $1 AND g.dispatched_at IS NULL AND g.status = 'queued'),
            projected AS (
                SELECT o.id, greatest(coalesce(s.pass, clock.c), clock.c) + o.k / coalesce(w.weight, 1) AS pass
                FROM outbox o CROSS JOIN clock
                LEFT JOIN fair_shares s ON s.queue = $1 AND s.tenant = o.tenant
                LEFT JOIN unnest($3::text[], $4::float8[]) AS w(tenant, weight) ON w.tenant = o.tenant)
            SELECT (SELECT n FROM released)
                 + CASE WHEN (SELECT dispatched_at FROM me) IS NOT NULL THEN 0
                        ELSE (SELECT count(*) FROM projected a, projected m WHERE m.id = $2 AND (a.pass, a.id) < (m.pass, m.id)) END
            """);
        var weights = limits?.Value.Tenants.Where(t => t.Value.Weight is > 0).ToArray() ?? [];
        cmd.Parameters.Add(new() { Value = queue });
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = weights.Select(w => w.Key).ToArray() });
        cmd.Parameters.Add(new() { Value = weights.Select(w => w.Value.Weight!.Value).ToArray() });
        return (int)(long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Deletes a tenant's generation; returns the deleted row (so its blobs can be removed), or null.</summary>
    public async Task<Generation?> DeleteAsync(string tenant, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"DELETE FROM generations WHERE id = $1 AND tenant = $2 RETURNING {Columns}");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = tenant });
        return await ReadOne(cmd, ct);
    }

    /// <summary>
    /// Claims a generation for a run of Hangfire job <paramref name="jobId"/>: succeeds when the row is queued or
    /// already running under the same job (a retry, or a re-run after the worker died). Returns null when the row
    /// is gone, terminal, or owned by another job; the caller then does nothing.
    /// </summary>
    /// <remarks>
    /// A worker can fetch the job before the dispatcher has committed the job id on the row (it holds the row
    /// locked meanwhile). A single UPDATE filtering on job_id would test the old row version and skip the row
    /// without waiting, so the row is first locked by id (which waits for the dispatcher's commit and then reads
    /// the committed version), and only then compared.
    /// </remarks>
    public async Task<Generation?> TryClaimAsync(Guid id, string jobId, string worker, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var lockRow = new NpgsqlCommand("SELECT job_id, status FROM generations WHERE id = $1 FOR UPDATE", connection, tx))
        {
            lockRow.Parameters.Add(new() { Value = id });
            await using var reader = await lockRow.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return null;
            var owner = reader.IsDBNull(0) ? null : reader.GetString(0);
            var status = reader.GetString(1);
            if (owner != jobId || status is not (GenerationStatus.Queued or GenerationStatus.Running)) return null;
        }
        await using var cmd = new NpgsqlCommand($"""
            UPDATE generations SET status = 'running', started_at = now(), attempts = attempts + 1, worker = $2,
                   phase = '{GenerationPhases.Starting}', step = 0, progress_at = now()
            WHERE id = $1
            RETURNING {Columns}
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = worker });
        var claimed = await ReadOne(cmd, ct);
        await tx.CommitAsync(ct);
        return claimed;
    }

    /// <summary>Records progress of a running generation (per step); true when a client has asked to cancel it.</summary>
    /// <remarks>The answer lets the worker stop at the next step boundary without waiting for Hangfire's deleted-job check.</remarks>
    public bool ReportProgress(Guid id, string jobId, string phase, int step)
    {
        using var cmd = dataSource.CreateCommand("""
            UPDATE generations SET phase = $3, step = $4, progress_at = now() WHERE id = $1 AND job_id = $2 AND status = 'running'
            RETURNING cancel_requested_at IS NOT NULL
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        cmd.Parameters.Add(new() { Value = phase });
        cmd.Parameters.Add(new() { Value = step });
        return cmd.ExecuteScalar() is true;
    }

    /// <summary>
    /// Marks a running generation succeeded with its stored files; false when it was not running under this job.
    /// Idempotent: true again when this job already recorded this video (a retry after the database went away during
    /// the commit, when the worker cannot know whether the first attempt committed).
    /// </summary>
    public async Task<bool> CompleteAsync(Guid id, string jobId, StoredVideo video, IReadOnlyDictionary<string, double> timings,
        ReproducibilityInfo reproducibility, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            WITH done AS (
                UPDATE generations SET status = 'succeeded', finished_at = now(), phase = '{GenerationPhases.Done}', step = total_steps,
                       video_key = $3, video_etag = $4, video_bytes = $5, thumbnail_key = $6, timings = $7, reproducibility = $8,
                       error_code = NULL, error_message = NULL
                WHERE id = $1 AND job_id = $2 AND status = 'running'
                RETURNING 1)
            SELECT EXISTS (SELECT 1 FROM done)
                OR EXISTS (SELECT 1 FROM generations WHERE id = $1 AND job_id = $2 AND status = 'succeeded' AND video_key = $3 AND video_etag = $4)
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        cmd.Parameters.Add(new() { Value = video.VideoKey });
        cmd.Parameters.Add(new() { Value = video.Etag });
        cmd.Parameters.Add(new() { Value = video.Bytes });
        cmd.Parameters.Add(new() { Value = video.ThumbnailKey });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(timings, StoredJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(reproducibility, StoredJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
        return await cmd.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>Marks a queued or running generation failed; false when it was not owned by this job.</summary>
    public async Task<bool> FailAsync(Guid id, string jobId, string code, string message, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            UPDATE generations SET status = 'failed', finished_at = now(), error_code = $3, error_message = $4
            WHERE id = $1 AND job_id = $2 AND status IN ('queued', 'running')
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        cmd.Parameters.Add(new() { Value = code });
        cmd.Parameters.Add(new() { Value = message });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Puts a running generation back to queued while its job waits for a retry (phase <c>retry_wait</c>).</summary>
    public async Task RequeueForRetryAsync(Guid id, string jobId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"UPDATE generations SET status = 'queued', phase = '{GenerationPhases.RetryWait}', step = 0 WHERE id = $1 AND job_id = $2 AND status = 'running'");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Puts a running generation back to queued (phase <c>handed_back</c>) when its worker stops gracefully mid-job;
    /// its Hangfire job goes back to the queue at once and the same job id claims the row again on a live worker.
    /// False when the row was not running under this job, or a cancel was requested: that row stays running until
    /// the cancel completes (its job was deleted, so it never runs again; the sweeper marks it cancelled).
    /// </summary>
    public async Task<bool> HandBackAsync(Guid id, string jobId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            UPDATE generations SET status = 'queued', phase = '{GenerationPhases.HandedBack}', step = 0
            WHERE id = $1 AND job_id = $2 AND status = 'running' AND cancel_requested_at IS NULL
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Marks a queued or running generation cancelled (its job was deleted); false when not owned by this job.</summary>
    public async Task<bool> CancelAsync(Guid id, string jobId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            UPDATE generations SET status = 'cancelled', finished_at = now(),
                   error_code = CASE WHEN deadline_at <= now() THEN '{GenerationErrorCodes.DeadlineExceeded}' ELSE '{GenerationErrorCodes.Cancelled}' END,
                   error_message = CASE WHEN deadline_at <= now() THEN 'cancel_after passed; the run stopped between denoising steps'
                                        ELSE 'the job was cancelled between denoising steps' END
            WHERE id = $1 AND job_id = $2 AND status IN ('queued', 'running')
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>
    /// Cancels a queued generation at once (its job, if any, then finds it terminal and never starts), or records a
    /// cancel request on a running one (the caller deletes its job; the worker stops between steps and marks it).
    /// Returns the status before and the owning job id, or null when the row is not found or already terminal.
    /// </summary>
    public async Task<(string PreviousStatus, string? JobId)?> RequestCancelAsync(Guid id, string? tenant, string code, string message, CancellationToken ct)
    {
        await using (var queued = dataSource.CreateCommand("""
            UPDATE generations SET status = 'cancelled', finished_at = now(), error_code = $3, error_message = $4,
                   cancel_requested_at = now(), dispatched_at = coalesce(dispatched_at, now())
            WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND status = 'queued' RETURNING job_id
            """))
        {
            AddCancelParameters(queued, id, tenant, code, message);
            await using var r = await queued.ExecuteReaderAsync(ct);
            if (await r.ReadAsync(ct)) return (GenerationStatus.Queued, r.IsDBNull(0) ? null : r.GetString(0));
        }
        await using var running = dataSource.CreateCommand("""
            UPDATE generations SET cancel_requested_at = coalesce(cancel_requested_at, now())
            WHERE id = $1 AND ($2::text IS NULL OR tenant = $2) AND status = 'running' RETURNING job_id
            """);
        running.Parameters.Add(new() { Value = id });
        running.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await using var rr = await running.ExecuteReaderAsync(ct);
        if (await rr.ReadAsync(ct)) return (GenerationStatus.Running, rr.IsDBNull(0) ? null : rr.GetString(0));
        return null;
    }

    private static void AddCancelParameters(NpgsqlCommand cmd, Guid id, string? tenant, string code, string message)
    {
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = code });
        cmd.Parameters.Add(new() { Value = message });
    }

    /// <summary>Queued or running generations whose <c>cancel_after</c> deadline has passed (not yet asked to cancel).</summary>
    public async Task<IReadOnlyList<Guid>> PastDeadlineAsync(int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT id FROM generations WHERE deadline_at <= now() AND status IN ('queued', 'running') AND cancel_requested_at IS NULL
            ORDER BY deadline_at LIMIT $1
            """);
        cmd.Parameters.Add(new() { Value = limit });
        var ids = new List<Guid>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) ids.Add(r.GetGuid(0));
        return ids;
    }

    /// <summary>
    /// Marks cancelled the running generations whose cancel was requested more than <paramref name="grace"/> ago and
    /// whose worker never confirmed (it died with the job deleted, so nothing would ever finish them).
    /// </summary>
    public async Task<int> ForceCancelStaleAsync(TimeSpan grace, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            UPDATE generations SET status = 'cancelled', finished_at = now(), error_code = '{GenerationErrorCodes.Cancelled}',
                   error_message = 'cancelled; the worker did not confirm the stop'
            WHERE status = 'running' AND cancel_requested_at < now() - $1
            """);
        cmd.Parameters.Add(new() { Value = grace });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// The event log of <paramref name="g"/> after <paramref name="afterSeq"/> (status changes and progress steps), oldest
    /// first, each with the generation as it was then (the trigger records the state that changes; the rest is <paramref name="g"/>'s).
    /// </summary>
    public async Task<IReadOnlyList<GenerationEvent>> ReadEventsAsync(Generation g, long afterSeq, int limit, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT seq, type, data::text, created_at FROM generation_events WHERE generation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
            """);
        cmd.Parameters.Add(new() { Value = g.Id });
        cmd.Parameters.Add(new() { Value = afterSeq });
        cmd.Parameters.Add(new() { Value = limit });
        var list = new List<GenerationEvent>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var then = JsonSerializer.Deserialize<EventState>(r.GetString(2), StoredJson.Options)!;
            list.Add(new GenerationEvent(r.GetInt64(0), r.GetString(1), g with
            {
                Status = then.Status, Phase = then.Phase, Step = then.Step, TotalSteps = then.TotalSteps, Attempts = then.Attempts,
                ErrorCode = then.ErrorCode, ErrorMessage = then.ErrorMessage, StartedAt = then.StartedAt,
            }, r.GetFieldValue<DateTimeOffset>(3)));
        }
        return list;
    }

    /// <summary>What the trigger records of the row with each event (migration 0006).</summary>
    private sealed record EventState(string Status, string? Phase, int Step, int TotalSteps, int Attempts, string? ErrorCode,
        string? ErrorMessage, DateTimeOffset? StartedAt);

    /// <summary>Counts generations per status (for metrics).</summary>
    public async Task<IReadOnlyDictionary<(string Queue, string Status), long>> CountByQueueAndStatusAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("SELECT queue, status, count(*) FROM generations GROUP BY queue, status");
        var result = new Dictionary<(string, string), long>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) result[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
        return result;
    }

    private static async Task<Generation?> ReadOne(NpgsqlCommand cmd, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    private static Generation Read(NpgsqlDataReader r)
    {
        static string? S(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
        static DateTimeOffset? T(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
        return new Generation
        {
            Id = r.GetGuid(0),
            Tenant = r.GetString(1),
            Status = r.GetString(2),
            Queue = r.GetString(3),
            Input = JsonSerializer.Deserialize<GenerationInput>(r.GetString(4), StoredJson.Options)!,
            FirstFrameKey = S(r, 5),
            CreatedAt = r.GetFieldValue<DateTimeOffset>(6),
            DispatchedAt = T(r, 7),
            JobId = S(r, 8),
            StartedAt = T(r, 9),
            FinishedAt = T(r, 10),
            Phase = S(r, 11),
            Step = r.GetInt32(12),
            TotalSteps = r.GetInt32(13),
            Attempts = r.GetInt32(14),
            Worker = S(r, 15),
            ErrorCode = S(r, 16),
            ErrorMessage = S(r, 17),
            VideoKey = S(r, 18),
            VideoEtag = S(r, 19),
            VideoBytes = r.IsDBNull(20) ? null : r.GetInt64(20),
            ThumbnailKey = S(r, 21),
            Timings = r.IsDBNull(22) ? null : JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(22), StoredJson.Options),
            Reproducibility = r.IsDBNull(23) ? null : JsonSerializer.Deserialize<ReproducibilityInfo>(r.GetString(23), StoredJson.Options),
            ExpiresAt = T(r, 24),
            TraceParent = S(r, 25),
        };
    }
}

/// <summary>One entry of a generation's event log.</summary>
/// <param name="Seq">Its id (global, increasing): the SSE event id.</param>
/// <param name="Type"><see cref="GenerationPayloads.StatusEvent"/> or <see cref="GenerationPayloads.ProgressEvent"/>.</param>
/// <param name="Generation">The generation as it was when the event happened.</param>
/// <param name="At">When it happened.</param>
public sealed record GenerationEvent(long Seq, string Type, Generation Generation, DateTimeOffset At);

/// <summary>Where a finished video was stored.</summary>
/// <param name="VideoKey">Blob key of the MP4.</param>
/// <param name="Etag">Strong ETag (quoted SHA-256 prefix).</param>
/// <param name="Bytes">MP4 size.</param>
/// <param name="ThumbnailKey">Blob key of the thumbnail.</param>
public sealed record StoredVideo(string VideoKey, string Etag, long Bytes, string ThumbnailKey);
