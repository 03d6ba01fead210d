using Microsoft.Extensions.Caching.Memory;
using Npgsql;
using Tora.Core.Database;
using Tora.Core.Tenancy;

namespace Tora.Api.Auth;

/// <summary>
/// This instance's cached key lookups (so a busy client costs no database round trip per request). An answer is
/// kept for at most <see cref="CacheFor"/> and never past the key's expiry; a revocation, rotation or expiry change
/// made anywhere is announced by the database on <see cref="ApiKeyStore.ChangeChannel"/>, and
/// <see cref="ApiKeyChangeListener"/> drops the cached answer at once, so every instance refuses the key within
/// moments, not after the cache lifetime.
/// </summary>
public sealed class ApiKeyCache(IMemoryCache cache, TimeProvider time)
{
    /// <summary>How long a lookup of a valid key is reused (also how stale <c>last_used_at</c> may be).</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    /// <summary>How long an unknown key's answer is reused (a key just created elsewhere works after this).</summary>
    public static readonly TimeSpan UnknownFor = TimeSpan.FromSeconds(2);

    // Bumped by Clear: entries of older generations are never read again and age out of the memory cache.
    private long _generation;

    /// <summary>Whether an answer for the key hash (upper-case hex) is cached; <paramref name="owner"/> null means "not valid".</summary>
    public bool TryGet(string hashHex, out ApiKeyOwner? owner) => cache.TryGetValue(EntryKey(hashHex), out owner);

    /// <summary>Caches the lookup answer for a key hash.</summary>
    public void Set(string hashHex, ApiKeyOwner? owner)
    {
        var now = time.GetUtcNow();
        var until = now + (owner is null ? UnknownFor : CacheFor);
        if (owner?.ExpiresAt is { } expires && expires < until) until = expires;
        if (until <= now) return;
        cache.Set(EntryKey(hashHex), owner, until);
    }

    /// <summary>Forgets the answer for one key hash.</summary>
    public void Evict(string hashHex) => cache.Remove(EntryKey(hashHex));

    /// <summary>Forgets every answer (after notifications may have been missed).</summary>
    public void Clear() => Interlocked.Increment(ref _generation);

    private string EntryKey(string hashHex) => $"apikey:{Interlocked.Read(ref _generation)}:{hashHex}";
}

/// <summary>
/// One <c>LISTEN tora_api_keys</c> connection per API instance: evicts a changed key from <see cref="ApiKeyCache"/>.
/// While not listening (start, reconnect) the whole cache is cleared, so a missed notification cannot keep a
/// revoked key alive.
/// </summary>
public sealed class ApiKeyChangeListener(NpgsqlDataSource dataSource, ApiKeyCache cache, ILogger<ApiKeyChangeListener> logger) : BackgroundService
{
    /// <summary>How long the listening connection may stay silent before it is probed.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Probed often: a dropped connection must be noticed (and the cache cleared) well within the few seconds a
        // revocation may take to apply. While not listening, nothing cached can be trusted.
        PostgresListener.RunAsync(dataSource, ApiKeyStore.ChangeChannel, cache.Evict, cache.Clear, cache.Clear,
            ProbeInterval, logger, stoppingToken);
}
