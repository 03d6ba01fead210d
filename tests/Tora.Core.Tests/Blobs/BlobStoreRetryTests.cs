using System.Diagnostics;
using Tora.Core;
using Tora.Core.Blobs;

namespace Tora.Core.Tests.Blobs;

/// <summary>The retry window around blob store operations during an outage (docs/reliability.md).</summary>
public sealed class BlobStoreRetryTests
{
    [Fact]
    public async Task The_retry_runs_again_while_the_store_is_unavailable_and_returns_once_it_works()
    {
        var calls = 0;
        var heard = new List<int>();
        var result = await new BlobStoreRetry(TimeSpan.FromSeconds(30)).RunAsync(_ =>
        {
            calls++;
            return calls < 3 ? throw new BlobStoreUnavailableException("down") : Task.FromResult(42);
        }, (_, attempt) => heard.Add(attempt), default);
        Assert.Equal(42, result);
        Assert.Equal(3, calls);
        Assert.Equal(new[] { 1, 2 }, heard);
    }

    [Fact]
    public async Task The_retry_gives_up_with_the_last_outage_once_the_window_has_passed()
    {
        var calls = 0;
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => new BlobStoreRetry(TimeSpan.FromMilliseconds(1200)).RunAsync(
            _ => throw new BlobStoreUnavailableException($"down {++calls}"), (_, _) => { }, default));
        Assert.Equal($"down {calls}", e.Message);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1100), clock.Elapsed.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        // Tries at 0 s, 0.5 s and 1.2 s: the last pause is cut to the window's end, where the final try is made (only a
        // machine stalled for 0.7 s would skip the middle one).
        Assert.InRange(calls, 2, 3);

        calls = 0;
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => new BlobStoreRetry(TimeSpan.Zero).RunAsync(
            _ => throw new BlobStoreUnavailableException($"down {++calls}"), (_, _) => { }, default));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task The_retry_passes_other_failures_at_once_and_stops_waiting_when_cancelled()
    {
        var calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => new BlobStoreRetry(TimeSpan.FromMinutes(10)).RunAsync(
            _ => { calls++; throw new InvalidOperationException("bug"); }, (_, _) => { }, default));
        Assert.Equal(1, calls);

        using var cancel = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new BlobStoreRetry(TimeSpan.FromMinutes(10)).RunAsync(
            _ => throw new BlobStoreUnavailableException("down"), (_, _) => cancel.Cancel(), cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
    }
}
