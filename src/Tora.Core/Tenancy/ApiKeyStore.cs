using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Tora.Core.Tenancy;

/// <summary>Who an API key belongs to.</summary>
/// <param name="KeyId">The key's id.</param>
/// <param name="Tenant">The owning tenant.</param>
/// <param name="IsAdmin">Admin keys may open the Hangfire dashboard.</param>
public sealed record ApiKeyOwner(Guid KeyId, string Tenant, bool IsAdmin);

/// <summary>A key just created: the only moment its secret is known.</summary>
/// <param name="Key">The secret to give to the client (<c>tora_…</c>).</param>
/// <param name="Owner">Its owner.</param>
public sealed record CreatedApiKey(string Key, ApiKeyOwner Owner);

/// <summary>
/// API keys: 32 random bytes shown once as <c>tora_&lt;base64url&gt;</c>; only their SHA-256 is stored. A fast
/// hash is right here because the secret has 256 bits of entropy (no dictionary to defend against), and it
/// keeps authentication at one indexed lookup per request.
/// </summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    /// <summary>Prefix of every key (lets secret scanners recognise leaked keys).</summary>
    public const string KeyPrefix = "tora_";

    /// <summary>Tenant names: lowercase letters, digits, <c>-</c> and <c>_</c>, 1–64 characters.</summary>
    public static bool IsValidTenantName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_');

    /// <summary>Creates the tenant when missing and a new key for it.</summary>
    public async Task<CreatedApiKey> CreateAsync(string tenant, bool isAdmin, CancellationToken ct)
    {
        if (!IsValidTenantName(tenant))
            throw new ArgumentException($"tenant name '{tenant}' is invalid: use 1-64 lowercase letters, digits, '-' or '_'", nameof(tenant));
        var key = KeyPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var owner = new ApiKeyOwner(Guid.CreateVersion7(), tenant, isAdmin);
        await using var batch = dataSource.CreateBatch();
        var tenantCmd = new NpgsqlBatchCommand("INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING");
        tenantCmd.Parameters.Add(new() { Value = tenant });
        var keyCmd = new NpgsqlBatchCommand("INSERT INTO api_keys (id, tenant, key_hash, prefix, is_admin) VALUES ($1, $2, $3, $4, $5)");
        keyCmd.Parameters.Add(new() { Value = owner.KeyId });
        keyCmd.Parameters.Add(new() { Value = tenant });
        keyCmd.Parameters.Add(new() { Value = Hash(key) });
        keyCmd.Parameters.Add(new() { Value = key[..(KeyPrefix.Length + 6)] });
        keyCmd.Parameters.Add(new() { Value = isAdmin });
        batch.BatchCommands.Add(tenantCmd);
        batch.BatchCommands.Add(keyCmd);
        await batch.ExecuteNonQueryAsync(ct);
        return new CreatedApiKey(key, owner);
    }

    /// <summary>The owner of a presented key, or null when unknown or revoked.</summary>
    /// <remarks>
    /// The key itself is never compared: it is hashed, and the hash found by the index lookup is confirmed with
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>. The lookup's own (variable-time) comparison only ever
    /// sees SHA-256 outputs, whose timing tells nothing usable about the key (finding a key from how many leading
    /// bytes of its hash match would need preimages).
    /// </remarks>
    public async Task<ApiKeyOwner?> FindAsync(string presentedKey, CancellationToken ct)
    {
        if (!presentedKey.StartsWith(KeyPrefix, StringComparison.Ordinal) || presentedKey.Length > 200) return null;
        var hash = Hash(presentedKey);
        await using var cmd = dataSource.CreateCommand("SELECT id, tenant, is_admin, key_hash FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
        cmd.Parameters.Add(new() { Value = hash });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var stored = reader.GetFieldValue<byte[]>(3);
        return CryptographicOperations.FixedTimeEquals(stored, hash)
            ? new ApiKeyOwner(reader.GetGuid(0), reader.GetString(1), reader.GetBoolean(2))
            : null;
    }

    /// <summary>SHA-256 of the key's UTF-8 bytes.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
