using System.Security.Cryptography;
using Npgsql;

namespace Tora.Core.Webhooks;

/// <summary>A tenant's signing secrets: the current one and, during a rotation, the previous one.</summary>
/// <param name="Current">Signs every delivery.</param>
/// <param name="Previous">Also signs until <paramref name="PreviousExpiresAt"/>.</param>
/// <param name="PreviousExpiresAt">End of the rotation window.</param>
public sealed record WebhookSecrets(byte[] Current, byte[]? Previous, DateTimeOffset? PreviousExpiresAt)
{
    /// <summary>The secrets that sign now (current first).</summary>
    public IEnumerable<byte[]> Signing(DateTimeOffset now)
    {
        yield return Current;
        if (Previous is not null && PreviousExpiresAt > now) yield return Previous;
    }
}

/// <summary>One webhook event with its delivery state; its body is rendered from it and the generation (<see cref="Generations.GenerationPayloads.Webhook"/>).</summary>
public sealed record WebhookEvent(
    Guid Id, Guid GenerationId, string Tenant, string Type, string Url, DateTimeOffset CreatedAt,
    string State, int Attempts, DateTimeOffset? NextAttemptAt)
{
    /// <summary>The Standard Webhooks message id (<c>webhook-id</c>), the same for every attempt.</summary>
    public string MessageId => "msg_" + Id.ToString("N");
}

/// <summary>One HTTP attempt of a delivery; neither status nor error while it is in flight.</summary>
public sealed record WebhookAttempt(int Attempt, DateTimeOffset AttemptedAt, int? StatusCode, string? Error, double DurationMs);

/// <summary>The outcome of <see cref="WebhookStore.ClaimAttemptAsync"/>.</summary>
/// <param name="Attempt">The attempt number to send now, or null when there is nothing to send.</param>
/// <param name="InFlight">Nothing to send yet: the event's latest attempt is in flight and may be live; look again once it would be stale.</param>
/// <param name="Made">
/// Nothing to send: this attempt was made and logged and the event is still pending, so the job runs again after its
/// process died between logging the attempt and scheduling the next one: schedule it (a duplicate job sends nothing).
/// </param>
public readonly record struct WebhookClaim(int? Attempt, bool InFlight, bool Made = false);

/// <summary>Webhook secrets, events (written by the database trigger) and the delivery log in PostgreSQL.</summary>
public sealed class WebhookStore(NpgsqlDataSource dataSource)
{
    private const string EventColumns = "id, generation_id, tenant, type, url, created_at, state, attempts, next_attempt_at";

    /// <summary>The tenant's secrets, creating a 32-byte secret on first use.</summary>
    public async Task<WebhookSecrets> GetSecretsAsync(string tenant, CancellationToken ct)
    {
        await using (var insert = dataSource.CreateCommand("INSERT INTO webhook_secrets (tenant, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING"))
        {
            insert.Parameters.Add(new() { Value = tenant });
            insert.Parameters.Add(new() { Value = RandomNumberGenerator.GetBytes(32) });
            await insert.ExecuteNonQueryAsync(ct);
        }
        await using var cmd = dataSource.CreateCommand("SELECT secret, previous_secret, previous_expires_at FROM webhook_secrets WHERE tenant = $1");
        cmd.Parameters.Add(new() { Value = tenant });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new WebhookSecrets(r.GetFieldValue<byte[]>(0), r.IsDBNull(1) ? null : r.GetFieldValue<byte[]>(1),
            r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2));
    }

    /// <summary>Replaces the current secret; the old one keeps signing for <paramref name="overlap"/>.</summary>
    public async Task<WebhookSecrets> RotateAsync(string tenant, TimeSpan overlap, CancellationToken ct)
    {
        await GetSecretsAsync(tenant, ct);
        await using var cmd = dataSource.CreateCommand("""
            UPDATE webhook_secrets SET previous_secret = secret, previous_expires_at = now() + $3, secret = $2, rotated_at = now()
            WHERE tenant = $1 RETURNING secret, previous_secret, previous_expires_at
            """);
        cmd.Parameters.Add(new() { Value = tenant });
        cmd.Parameters.Add(new() { Value = RandomNumberGenerator.GetBytes(32) });
        cmd.Parameters.Add(new() { Value = overlap });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new WebhookSecrets(r.GetFieldValue<byte[]>(0), r.GetFieldValue<byte[]>(1), r.GetFieldValue<DateTimeOffset>(2));
    }

    /// <summary>One event.</summary>
    public async Task<WebhookEvent?> GetEventAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {EventColumns} FROM webhook_events WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? ReadEvent(r) : null;
    }

    /// <summary>The events of a generation with their attempts, oldest first.</summary>
    public async Task<IReadOnlyList<(WebhookEvent Event, IReadOnlyList<WebhookAttempt> Attempts)>> ListForGenerationAsync(
        Guid generationId, CancellationToken ct)
    {
        var events = new List<WebhookEvent>();
        await using (var cmd = dataSource.CreateCommand($"SELECT {EventColumns} FROM webhook_events WHERE generation_id = $1 ORDER BY created_at, id"))
        {
            cmd.Parameters.Add(new() { Value = generationId });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) events.Add(ReadEvent(r));
        }
        var attempts = events.ToDictionary(e => e.Id, _ => new List<WebhookAttempt>());
        await using (var cmd = dataSource.CreateCommand("""
            SELECT a.event_id, a.attempt, a.attempted_at, a.status_code, a.error, a.duration_ms
            FROM webhook_attempts a JOIN webhook_events e ON e.id = a.event_id WHERE e.generation_id = $1 ORDER BY a.attempt
            """))
        {
            cmd.Parameters.Add(new() { Value = generationId });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                attempts[r.GetGuid(0)].Add(new WebhookAttempt(r.GetInt32(1), r.GetFieldValue<DateTimeOffset>(2),
                    r.IsDBNull(3) ? null : r.GetInt32(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetDouble(5)));
        }
        return events.Select(e => (e, (IReadOnlyList<WebhookAttempt>)attempts[e.Id])).ToList();
    }

    /// <summary>What the log says of an attempt cut off by a crash (the rerun of its job found it still in flight).</summary>
    public const string InterruptedError = "interrupted: the process making this attempt stopped before its answer was recorded";

    /// <summary>
    /// Claims attempt <paramref name="attempt"/> of a pending event and logs it as in flight (no status, no error yet),
    /// so the delivery log shows every request that may have reached the receiver. A delivery job that Hangfire runs
    /// again after it finished sends nothing. When the job runs again because its process died mid-attempt (the
    /// event's latest attempt is still in flight in the log and older than <paramref name="staleAfter"/>), that
    /// attempt is logged as interrupted and the next one is claimed: a crash costs a duplicate delivery (receivers
    /// dedupe on webhook-id), never a lost one, and never a gap in the log.
    /// </summary>
    /// <param name="eventId">The event.</param>
    /// <param name="attempt">The attempt number the job was created for.</param>
    /// <param name="staleAfter">
    /// Longer than any live attempt stays in flight (the sender's per-attempt timeout and a margin): an attempt in
    /// flight for longer was made by a process that died, whichever job claimed it; a younger one may be live.
    /// </param>
    /// <param name="ct">Cancels the claim.</param>
    public async Task<WebhookClaim> ClaimAttemptAsync(Guid eventId, int attempt, TimeSpan staleAfter, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        int latest;
        await using (var select = new NpgsqlCommand("SELECT attempts FROM webhook_events WHERE id = $1 AND state = 'pending' FOR UPDATE", connection, tx))
        {
            select.Parameters.Add(new() { Value = eventId });
            if (await select.ExecuteScalarAsync(ct) is not int a) return default;
            latest = a;
        }
        int claimed;
        if (latest < attempt) claimed = attempt;
        else
        {
            // Claimed before: by a run that finished (logged with a status or an error: nothing to do), by a run that
            // may still be making it (in flight, recently: look again later), or by a run whose process died.
            await using var state = new NpgsqlCommand("""
                SELECT status_code IS NULL AND error IS NULL, attempted_at < now() - $3 FROM webhook_attempts WHERE event_id = $1 AND attempt = $2
                """, connection, tx);
            state.Parameters.Add(new() { Value = eventId });
            state.Parameters.Add(new() { Value = latest });
            state.Parameters.Add(new() { Value = staleAfter });
            bool? running = null, stale = null;
            await using (var r = await state.ExecuteReaderAsync(ct))
                if (await r.ReadAsync(ct)) (running, stale) = (r.GetBoolean(0), r.GetBoolean(1));
            if (running is null && latest == attempt) claimed = attempt; // claimed and never logged (before attempts were logged in flight)
            else if (running == true && stale == true)
            {
                await using var cut = new NpgsqlCommand("UPDATE webhook_attempts SET error = $3 WHERE event_id = $1 AND attempt = $2", connection, tx);
                cut.Parameters.Add(new() { Value = eventId });
                cut.Parameters.Add(new() { Value = latest });
                cut.Parameters.Add(new() { Value = InterruptedError });
                await cut.ExecuteNonQueryAsync(ct);
                claimed = latest + 1;
            }
            else if (running == true) return new WebhookClaim(null, InFlight: true);
            else return new WebhookClaim(null, false, Made: running == false && latest == attempt);
        }
        await using var batch = new NpgsqlBatch(connection, tx);
        var update = new NpgsqlBatchCommand("UPDATE webhook_events SET attempts = $2, next_attempt_at = NULL WHERE id = $1");
        update.Parameters.Add(new() { Value = eventId });
        update.Parameters.Add(new() { Value = claimed });
        var inFlight = new NpgsqlBatchCommand("""
            INSERT INTO webhook_attempts (event_id, attempt, attempted_at, status_code, error, duration_ms) VALUES ($1, $2, now(), NULL, NULL, 0)
            ON CONFLICT DO NOTHING
            """);
        inFlight.Parameters.Add(new() { Value = eventId });
        inFlight.Parameters.Add(new() { Value = claimed });
        batch.BatchCommands.Add(update);
        batch.BatchCommands.Add(inFlight);
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return new WebhookClaim(claimed, false);
    }

    /// <summary>Logs an attempt and sets the event's state (<c>pending</c> with the next attempt time, <c>delivered</c> or <c>failed</c>).</summary>
    public async Task RecordAttemptAsync(Guid eventId, WebhookAttempt a, string state, DateTimeOffset? nextAttemptAt, CancellationToken ct)
    {
        await using var batch = dataSource.CreateBatch();
        var log = new NpgsqlBatchCommand("""
            INSERT INTO webhook_attempts (event_id, attempt, attempted_at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (event_id, attempt) DO UPDATE SET attempted_at = excluded.attempted_at, status_code = excluded.status_code,
                error = excluded.error, duration_ms = excluded.duration_ms
            """);
        log.Parameters.Add(new() { Value = eventId });
        log.Parameters.Add(new() { Value = a.Attempt });
        log.Parameters.Add(new() { Value = a.AttemptedAt });
        log.Parameters.Add(new() { Value = (object?)a.StatusCode ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        log.Parameters.Add(new() { Value = (object?)a.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        log.Parameters.Add(new() { Value = a.DurationMs });
        var update = new NpgsqlBatchCommand("UPDATE webhook_events SET state = $2, next_attempt_at = $3 WHERE id = $1");
        update.Parameters.Add(new() { Value = eventId });
        update.Parameters.Add(new() { Value = state });
        update.Parameters.Add(new() { Value = (object?)nextAttemptAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        batch.BatchCommands.Add(log);
        batch.BatchCommands.Add(update);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Makes a delivered or failed event pending again for a manual redelivery; returns the next attempt number, or null.</summary>
    public async Task<int?> ReopenAsync(Guid eventId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "UPDATE webhook_events SET state = 'pending' WHERE id = $1 AND state <> 'pending' RETURNING attempts + 1");
        cmd.Parameters.Add(new() { Value = eventId });
        return await cmd.ExecuteScalarAsync(ct) is int next ? next : null;
    }

    private static WebhookEvent ReadEvent(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetString(4),
        r.GetFieldValue<DateTimeOffset>(5), r.GetString(6), r.GetInt32(7), r.IsDBNull(8) ? null : r.GetFieldValue<DateTimeOffset>(8));
}
