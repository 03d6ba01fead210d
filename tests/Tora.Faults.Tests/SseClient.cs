using System.Collections.Concurrent;
using System.Text.Json;

namespace Tora.Faults.Tests;

/// <summary>One Server-Sent Event as a client receives it (only complete events: those ended by their blank line).</summary>
/// <param name="Id">The event's id (null for events sent without one, such as queue positions).</param>
/// <param name="Type">The event type.</param>
/// <param name="Data">The data line.</param>
public sealed record SseEvent(long? Id, string Type, string Data)
{
    /// <summary>The data as JSON.</summary>
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;

    /// <summary>True for a status event with a terminal status.</summary>
    public bool IsTerminal => Type == "status" && Json.GetProperty("status").GetString() is "succeeded" or "failed" or "cancelled" or "expired";
}

/// <summary>
/// Reads a generation's event stream in the background, the way a browser's EventSource does, collecting complete
/// events until the server closes the stream or the connection breaks (an API instance killed under it).
/// </summary>
public sealed class SseReader : IAsyncDisposable
{
    private readonly ConcurrentQueue<SseEvent> _events = new();
    private readonly CancellationTokenSource _cts;
    private readonly Task _reading;

    private SseReader(HttpClient client, string path, long? lastEventId, TimeSpan limit)
    {
        _cts = new CancellationTokenSource(limit);
        _reading = Task.Run(() => ReadAsync(client, path, lastEventId, _cts.Token));
    }

    /// <summary>Starts reading <paramref name="path"/> (resuming after <paramref name="lastEventId"/> when given) for at most <paramref name="limit"/>.</summary>
    public static SseReader Start(HttpClient client, string path, long? lastEventId, TimeSpan limit) => new(client, path, lastEventId, limit);

    /// <summary>The events received so far.</summary>
    public IReadOnlyList<SseEvent> Events => [.. _events];

    /// <summary>The status code of the response (0 until it came).</summary>
    public int StatusCode { get; private set; }

    /// <summary>How the stream ended: null while open, "closed" when the server ended it, else the error.</summary>
    public string? End { get; private set; }

    /// <summary>Waits until <paramref name="condition"/> holds for the events so far; false when the stream ended first or time ran out.</summary>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<SseEvent>, bool> condition, TimeSpan timeout)
    {
        await Wait.ForAsync(() => Task.FromResult(condition(Events) || _reading.IsCompleted), stop => stop, timeout, TimeSpan.FromMilliseconds(20));
        return condition(Events);
    }

    /// <summary>Waits until the stream ends (server closed it or the connection broke); false when <paramref name="timeout"/> passed first.</summary>
    public async Task<bool> WaitForEndAsync(TimeSpan timeout) => await Task.WhenAny(_reading, Task.Delay(timeout)) == _reading;

    private async Task ReadAsync(HttpClient client, string path, long? lastEventId, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.ParseAdd("text/event-stream");
            if (lastEventId is { } last) request.Headers.Add("Last-Event-ID", last.ToString());
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            StatusCode = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                End = $"status {StatusCode}";
                return;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var reader = new StreamReader(stream);
            long? id = null;
            string? type = null;
            string? data = null;
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                if (line.Length == 0)
                {
                    // A blank line completes the event; one cut off before it never counts (the SSE rule).
                    if (data is not null) _events.Enqueue(new SseEvent(id, type ?? "message", data));
                    (id, type, data) = (null, null, null);
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal)) id = long.Parse(line[4..]);
                else if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line[7..];
                else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
            }
            End = "closed";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            End = e.GetType().Name + ": " + e.Message;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        await _reading;
        _cts.Dispose();
    }
}
