using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Tora.Core.Database;

namespace Tora.Core.Tenancy;

/// <summary>Who an API key belongs to.</summary>
/// <param name="KeyId">The key's id.</param>
/// <param name="Tenant">The owning tenant.</param>
/// <param name="IsAdmin">Admin keys may manage keys, read every tenant's usage and open the Hangfire dashboard.</param>
/// <param name="ExpiresAt">When the key stops authenticating (null: never).</param>
public sealed record ApiKeyOwner(Guid KeyId, string Tenant, bool IsAdmin, DateTimeOffset? ExpiresAt = null);

/// <summary>A key just created: the only moment its secret is known.</summary>
/// <param name="Key">The secret to give to the client (<c>tora_…</c>).</param>
/// <param name="Info">What is stored about it.</param>
public sealed record CreatedApiKey(string Key, ApiKeyInfo Info)
{
    /// <summary>Its owner.</summary>
    public ApiKeyOwner Owner => new(Info.Id, Info.Tenant, Info.IsAdmin, Info.ExpiresAt);
}

/// <summary>What is stored about a key (never its secret).</summary>
/// <param name="Id">The key's id.</param>
/// <param name="Tenant">The owning tenant.</param>
/// <param name="Prefix">The first characters of the key (<c>tora_</c> and 6 more), to recognise it.</param>
/// <param name="Name">A label given at creation.</param>
/// <param name="IsAdmin">Whether it is an admin key.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ExpiresAt">When it stops authenticating (null: never).</param>
/// <param name="LastUsedAt">When it last authenticated a request (to within the API's key cache lifetime).</param>
/// <param name="RevokedAt">When it was revoked.</param>
/// <param name="ReplacedBy">The key that replaced it by rotation.</param>
public sealed record ApiKeyInfo(
    Guid Id, string Tenant, string Prefix, string? Name, bool IsAdmin, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt, Guid? ReplacedBy);

/// <summary>The outcome of <see cref="ApiKeyStore.RotateAsync"/>.</summary>
/// <param name="Created">The new key, or null when the old one cannot rotate.</param>
/// <param name="Previous">The old key after the rotation (its expiry is the end of the grace period).</param>
public sealed record ApiKeyRotation(CreatedApiKey? Created, ApiKeyInfo? Previous);

/// <summary>
/// API keys: 32 random bytes shown once as <c>tora_&lt;base64url&gt;</c>; only their SHA-256 is stored. A fast
/// hash is right here because the secret has 256 bits of entropy (no dictionary to defend against), and it
/// keeps authentication at one indexed lookup per request.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    /// <summary>Prefix of every key (lets secret scanners recognise leaked keys).</summary>
    public const string KeyPrefix = "tora_";

    /// <summary>The notification channel a key change is announced on (payload: the key's hash in upper-case hex).</summary>
    public const string ChangeChannel = "tora_api_keys";

    private const string Columns = "id, tenant, prefix, name, is_admin, created_at, expires_at, last_used_at, revoked_at, replaced_by";

    /// <summary>Tenant names: lowercase letters, digits, <c>-</c> and <c>_</c>, 1–64 characters.</summary>
    public static bool IsValidTenantName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_');

    /// <summary>Creates the tenant when missing and a new key for it that never expires.</summary>
    public Task<CreatedApiKey> CreateAsync(string tenant, bool isAdmin, CancellationToken ct) =>
        CreateAsync(tenant, isAdmin, null, null, ct);

    /// <summary>Creates the tenant when missing and a new key for it.</summary>
    public async Task<CreatedApiKey> CreateAsync(string tenant, bool isAdmin, string? name, DateTimeOffset? expiresAt, CancellationToken ct)
    {
        if (!IsValidTenantName(tenant))
            throw new ArgumentException($"tenant name '{tenant}' is invalid: use 1-64 lowercase letters, digits, '-' or '_'", nameof(tenant));
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var tenantCmd = new NpgsqlCommand("INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING", connection, tx))
        {
            tenantCmd.Parameters.Add(new() { Value = tenant });
            await tenantCmd.ExecuteNonQueryAsync(ct);
        }
        var (key, insert) = InsertKey(Guid.CreateVersion7(), tenant, isAdmin, name, expiresAt);
        await using var batch = new NpgsqlBatch(connection, tx) { BatchCommands = { insert } };
        ApiKeyInfo info;
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            info = Read(reader);
        }
        await tx.CommitAsync(ct);
        return new CreatedApiKey(key.Secret, info);
    }

    /// <summary>The keys of a tenant (every tenant when null), oldest first.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(string? tenant, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            $"SELECT {Columns} FROM api_keys WHERE $1::text IS NULL OR tenant = $1 ORDER BY tenant, created_at, id");
        cmd.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await cmd.ReadAllAsync(Read, ct);
    }

    /// <summary>Revokes a key (at once on every API instance); false when there is no such key. Revoking twice keeps the first time.</summary>
    public async Task<bool> RevokeAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>
    /// Replaces a live key by a new one of the same tenant, role and name; the old key keeps working for
    /// <paramref name="gracePeriod"/> (or until its own expiry, when sooner). A key with an expiry gives the new key
    /// the same lifetime from now. A key already rotated, revoked or expired gets no new key.
    /// </summary>
    public async Task<ApiKeyRotation> RotateAsync(Guid id, TimeSpan gracePeriod, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        ApiKeyInfo old;
        await using (var select = new NpgsqlCommand($"SELECT {Columns} FROM api_keys WHERE id = $1 FOR UPDATE", connection, tx))
        {
            select.Parameters.Add(new() { Value = id });
            await using var reader = await select.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return new ApiKeyRotation(null, null);
            old = Read(reader);
        }
        var now = DateTimeOffset.UtcNow;
        if (old.ReplacedBy is not null || old.RevokedAt is not null || old.ExpiresAt <= now) return new ApiKeyRotation(null, old);

        var expiresAt = old.ExpiresAt is { } e ? now + (e - old.CreatedAt) : (DateTimeOffset?)null;
        var (key, insert) = InsertKey(Guid.CreateVersion7(), old.Tenant, old.IsAdmin, old.Name, expiresAt);
        await using var batch = new NpgsqlBatch(connection, tx);
        batch.BatchCommands.Add(insert);
        var update = new NpgsqlBatchCommand($"""
            UPDATE api_keys SET replaced_by = $2, expires_at = least(coalesce(expires_at, 'infinity'), now() + $3)
            WHERE id = $1 RETURNING {Columns}
            """);
        update.Parameters.Add(new() { Value = id });
        update.Parameters.Add(new() { Value = key.Id });
        update.Parameters.Add(new() { Value = gracePeriod });
        batch.BatchCommands.Add(update);
        ApiKeyInfo created, previous;
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            created = Read(reader);
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            previous = Read(reader);
        }
        await tx.CommitAsync(ct);
        return new ApiKeyRotation(new CreatedApiKey(key.Secret, created), previous);
    }

    /// <summary>The owner of a presented key, or null when unknown, revoked or expired; records when it was used.</summary>
    /// <remarks>
    /// The key itself is never compared: it is hashed, and the hash found by the index lookup is confirmed with
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>. The lookup's own (variable-time) comparison only ever
    /// sees SHA-256 outputs, whose timing tells nothing usable about the key (finding a key from how many leading
    /// bytes of its hash match would need preimages). The API caches the answer, so <c>last_used_at</c> is written
    /// once per cache lifetime, not per request.
    /// </remarks>
    public async Task<ApiKeyOwner?> FindAsync(string presentedKey, CancellationToken ct)
    {
        if (!presentedKey.StartsWith(KeyPrefix, StringComparison.Ordinal) || presentedKey.Length > 200) return null;
        var hash = Hash(presentedKey);
        await using var cmd = dataSource.CreateCommand("""
            UPDATE api_keys SET last_used_at = now()
            WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
            RETURNING id, tenant, is_admin, key_hash, expires_at
            """);
        cmd.Parameters.Add(new() { Value = hash });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var stored = reader.GetFieldValue<byte[]>(3);
        return CryptographicOperations.FixedTimeEquals(stored, hash)
            ? new ApiKeyOwner(reader.GetGuid(0), reader.GetString(1), reader.GetBoolean(2),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4))
            : null;
    }

    /// <summary>SHA-256 of the key's UTF-8 bytes.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static ((string Secret, Guid Id), NpgsqlBatchCommand) InsertKey(Guid id, string tenant, bool isAdmin, string? name, DateTimeOffset? expiresAt)
    {
        var key = KeyPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var cmd = new NpgsqlBatchCommand($"""
            INSERT INTO api_keys (id, tenant, key_hash, prefix, is_admin, name, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
            RETURNING {Columns}
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = tenant });
        cmd.Parameters.Add(new() { Value = Hash(key) });
        cmd.Parameters.Add(new() { Value = key[..(KeyPrefix.Length + 6)] });
        cmd.Parameters.Add(new() { Value = isAdmin });
        cmd.Parameters.Add(new() { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)expiresAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        return ((key, id), cmd);
    }

    private static ApiKeyInfo Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetBoolean(4),
        r.GetFieldValue<DateTimeOffset>(5), NullableTime(r, 6), NullableTime(r, 7), NullableTime(r, 8),
        r.IsDBNull(9) ? null : r.GetGuid(9));

    private static DateTimeOffset? NullableTime(NpgsqlDataReader r, int i) => r.IsDBNull(i) ? null : r.GetFieldValue<DateTimeOffset>(i);
}
