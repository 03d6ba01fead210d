namespace Tora.Core.Blobs;

/// <summary>
/// Runs a blob store operation again while the store is unavailable, with growing pauses, for at most a bounded
/// window: a worker that has a finished video waits for the store rather than failing (or re-running the whole
/// pipeline through a job retry) when storage has a short outage (docs/reliability.md, blob store outage). Other exceptions pass at once.
/// </summary>
/// <param name="window">How long to keep trying after the first failure; zero gives up at the first failure.</param>
public sealed class BlobStoreRetry(TimeSpan window)
{
    /// <summary>The pause after the first failure; each next pause doubles, up to <see cref="MaxDelay"/>.</summary>
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest pause between attempts: also the longest a waiting job lags behind the store's recovery.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    /// <summary>The window in effect.</summary>
    public TimeSpan Window { get; } = window < TimeSpan.Zero ? TimeSpan.Zero : window;

    /// <summary>
    /// Runs <paramref name="operation"/> until it succeeds, throws something other than
    /// <see cref="BlobStoreUnavailableException"/>, or the window after its first failure has passed (then the last
    /// <see cref="BlobStoreUnavailableException"/> is thrown). <paramref name="onUnavailable"/> hears each failure that
    /// will be retried, with its 1-based attempt number (to show the wait and log it).
    /// </summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, Action<BlobStoreUnavailableException, int> onUnavailable,
        CancellationToken cancellationToken)
    {
        System.Diagnostics.Stopwatch? outage = null;
        var delay = FirstDelay;
        var final = false;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await operation(cancellationToken);
            }
            catch (BlobStoreUnavailableException e)
            {
                outage ??= System.Diagnostics.Stopwatch.StartNew();
                var left = Window - outage.Elapsed;
                if (final || left <= TimeSpan.Zero) throw;
                onUnavailable(e, attempt);
                // The last pause ends at the window's end, and the attempt after it is the final one (whatever the timer's precision).
                final = left <= delay;
                await Task.Delay(final ? left : delay, cancellationToken);
                delay = delay * 2 < MaxDelay ? delay * 2 : MaxDelay;
            }
        }
    }

    /// <inheritdoc cref="RunAsync{T}(Func{CancellationToken, Task{T}}, Action{BlobStoreUnavailableException, int}, CancellationToken)"/>
    public Task RunAsync(Func<CancellationToken, Task> operation, Action<BlobStoreUnavailableException, int> onUnavailable,
        CancellationToken cancellationToken) =>
        RunAsync(async ct => { await operation(ct); return true; }, onUnavailable, cancellationToken);
}
