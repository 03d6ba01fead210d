using System.Collections.Concurrent;
using Tora.Core.Generations;

namespace Tora.Api.Generations;

/// <summary>
/// The queue position a 202 answer shows. Counting it is a pass over the queue, so the accept path counts only while
/// the queue is short (fewer than <see cref="Limit"/> queued), and once it has seen a queue that long it stops even
/// probing that queue's length for <see cref="LongQueueMemory"/>: a long queue does not shorten in a second, and a
/// burst of accepts into it then costs its one INSERT each (bench/README.md, accept path). Null means not counted;
/// a GET always counts.
/// </summary>
public sealed class AcceptedQueuePosition(GenerationStore store, TimeProvider clock)
{
    /// <summary>Queues up to this long get their position in the 202 answer.</summary>
    public const int Limit = 1000;

    /// <summary>How long a queue seen at <see cref="Limit"/> or longer is answered without probing again.</summary>
    public static readonly TimeSpan LongQueueMemory = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, long> _seenLongAt = new();

    /// <summary>The position of the just-committed generation <paramref name="g"/>, or null when its queue is long.</summary>
    public async Task<int?> OfAsync(Generation g, CancellationToken ct)
    {
        var now = clock.GetTimestamp();
        if (_seenLongAt.TryGetValue(g.Queue, out var seen) && clock.GetElapsedTime(seen, now) < LongQueueMemory) return null;
        var position = await store.QueuePositionIfShorterThanAsync(g.Queue, g.Id, Limit, ct);
        if (position is null) _seenLongAt[g.Queue] = now;
        else _seenLongAt.TryRemove(g.Queue, out _);
        return position;
    }
}
