using System.Collections.Concurrent;
using Npgsql;
using Tora.Core.Database;

namespace Tora.Api.Generations;

/// <summary>
/// One PostgreSQL <c>LISTEN tora_generation</c> connection per API instance, fanning notifications out to the
/// requests waiting on a generation (SSE streams, <c>Prefer: wait</c>). The trigger on <c>generations</c> notifies
/// on every status change and step from whichever worker, so any API instance sees any worker's progress.
/// A notification only wakes a waiter; waiters read the event log themselves, so a lost notification (reconnect)
/// costs latency, never an event: after a reconnect every waiter is woken to re-read.
/// </summary>
public sealed class GenerationEventHub(NpgsqlDataSource dataSource, ILogger<GenerationEventHub> logger) : BackgroundService
{
    /// <summary>The notification channel (see migration 0002).</summary>
    public const string Channel = "tora_generation";

    /// <summary>How long the listening connection may stay silent before it is probed.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<Subscription, byte>> _subscribers = new();

    /// <summary>Starts receiving wake-ups for a generation; dispose to stop.</summary>
    public Subscription Subscribe(Guid generationId)
    {
        var s = new Subscription(this, generationId);
        _subscribers.GetOrAdd(generationId, _ => new()).TryAdd(s, 0);
        return s;
    }

    private void Unsubscribe(Subscription s)
    {
        if (_subscribers.TryGetValue(s.GenerationId, out var set))
        {
            set.TryRemove(s, out _);
            if (set.IsEmpty) _subscribers.TryRemove(new KeyValuePair<Guid, ConcurrentDictionary<Subscription, byte>>(s.GenerationId, set));
        }
    }

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // After (re)listening and after a failure, every subscriber looks again: what happened meanwhile was missed.
        PostgresListener.RunAsync(dataSource, Channel, OnNotification, WakeAll, WakeAll, ProbeInterval, logger, stoppingToken);

    private void OnNotification(string payload)
    {
        var space = payload.IndexOf(' ');
        if (space > 0 && Guid.TryParse(payload.AsSpan(0, space), out var id) && _subscribers.TryGetValue(id, out var set))
            foreach (var s in set.Keys) s.Wake();
    }

    private void WakeAll()
    {
        foreach (var set in _subscribers.Values)
        foreach (var s in set.Keys) s.Wake();
    }

    /// <summary>Wake-ups for one generation.</summary>
    public sealed class Subscription(GenerationEventHub hub, Guid generationId) : IDisposable
    {
        private readonly SemaphoreSlim _signal = new(0, 1);

        /// <summary>The generation.</summary>
        public Guid GenerationId => generationId;

        internal void Wake()
        {
            try { _signal.Release(); }
            catch (SemaphoreFullException) { /* already awake */ }
            catch (ObjectDisposedException) { /* the request ended meanwhile */ }
        }

        /// <summary>Waits for a wake-up; false when <paramref name="timeout"/> passed first.</summary>
        public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);

        /// <inheritdoc />
        public void Dispose()
        {
            hub.Unsubscribe(this);
            _signal.Dispose();
        }
    }
}
