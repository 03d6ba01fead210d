using Npgsql;

namespace Tora.Core.Generations;

/// <summary>What a presented Idempotency-Key means for this request.</summary>
public enum IdempotencyState
{
    /// <summary>New (or expired) key, now reserved for this request: process it.</summary>
    Reserved,
    /// <summary>The same payload was accepted before: replay its generation.</summary>
    Replay,
    /// <summary>The first request with this key is still being processed.</summary>
    InFlight,
    /// <summary>The key was used with a different payload.</summary>
    Mismatch,
}

/// <summary>A key reserved for one request's payload: the generation it creates is recorded on it atomically
/// (<see cref="GenerationStore.InsertAsync(Generation, IdempotencyReservation?, CancellationToken)"/>).</summary>
/// <param name="Tenant">The tenant the key is scoped to.</param>
/// <param name="Key">The Idempotency-Key.</param>
/// <param name="Fingerprint">The request's fingerprint.</param>
public sealed record IdempotencyReservation(string Tenant, string Key, byte[] Fingerprint);

/// <summary>
/// Idempotency keys of <c>POST /v1/generations</c> (draft-ietf-httpapi-idempotency-key-header): scoped per tenant,
/// remembered with the request's fingerprint until they expire. An expired key is free again.
/// </summary>
/// <remarks>
/// A reservation whose request never finished (its process died, or the database went away before the request could
/// release it) would otherwise answer 409 in flight for the key's whole lifetime; after <see cref="AbandonedAfter"/>
/// another request may take it over. That is safe even if the first request was merely slow: the generation is
/// inserted only together with completing the key, so at most one of the two creates one.
/// </remarks>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource)
{
    /// <summary>How long a reservation without a generation blocks other requests with its key.</summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(10);

    /// <summary>Reserves the key, or says why not (with the earlier generation for a replay).</summary>
    public async Task<(IdempotencyState State, Guid? GenerationId)> ReserveAsync(
        string tenant, string key, byte[] fingerprint, TimeSpan lifetime, CancellationToken ct)
    {
        await using (var reserve = dataSource.CreateCommand("""
            INSERT INTO idempotency_keys (tenant, key, fingerprint, expires_at) VALUES ($1, $2, $3, now() + $4)
            ON CONFLICT (tenant, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, generation_id = NULL,
                created_at = now(), expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at < now()
               OR (idempotency_keys.generation_id IS NULL AND idempotency_keys.created_at < now() - $5)
            RETURNING 1
            """))
        {
            reserve.Parameters.Add(new() { Value = tenant });
            reserve.Parameters.Add(new() { Value = key });
            reserve.Parameters.Add(new() { Value = fingerprint });
            reserve.Parameters.Add(new() { Value = lifetime });
            reserve.Parameters.Add(new() { Value = AbandonedAfter });
            if (await reserve.ExecuteScalarAsync(ct) is not null) return (IdempotencyState.Reserved, null);
        }
        await using var read = dataSource.CreateCommand("SELECT fingerprint, generation_id FROM idempotency_keys WHERE tenant = $1 AND key = $2");
        read.Parameters.Add(new() { Value = tenant });
        read.Parameters.Add(new() { Value = key });
        await using var r = await read.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return (IdempotencyState.InFlight, null); // deleted between the statements: let the client retry
        if (r.IsDBNull(1)) return (IdempotencyState.InFlight, null);
        if (!r.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(fingerprint)) return (IdempotencyState.Mismatch, null);
        return (IdempotencyState.Replay, r.GetGuid(1));
    }

    /// <summary>Frees a reserved key whose request failed, so the client can retry it.</summary>
    public async Task ReleaseAsync(string tenant, string key, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM idempotency_keys WHERE tenant = $1 AND key = $2 AND generation_id IS NULL");
        cmd.Parameters.Add(new() { Value = tenant });
        cmd.Parameters.Add(new() { Value = key });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// <see cref="ReleaseAsync"/> on the way out of a failed request: false, instead of an exception that would hide the
    /// request's own error, when the database is unreachable (the reservation then lapses after <see cref="AbandonedAfter"/>).
    /// A key whose generation did get committed is never released.
    /// </summary>
    public async Task<bool> TryReleaseAsync(IdempotencyReservation reservation)
    {
        try
        {
            await ReleaseAsync(reservation.Tenant, reservation.Key, CancellationToken.None);
            return true;
        }
        catch (Exception e) when (Database.DatabaseOutage.IsOutage(e))
        {
            return false;
        }
    }

    /// <summary>Deletes expired keys; returns how many.</summary>
    public async Task<int> DeleteExpiredAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM idempotency_keys WHERE expires_at < now()");
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
