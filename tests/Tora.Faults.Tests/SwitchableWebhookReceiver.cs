using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tora.Faults.Tests;

/// <summary>How the <see cref="SwitchableWebhookReceiver"/> treats the next request.</summary>
public enum ReceiverMode
{
    /// <summary>Nothing listens on the port: connections are refused.</summary>
    Refusing,
    /// <summary>Reads the request and answers 500.</summary>
    Failing,
    /// <summary>Reads the request and never answers (until the sender gives up and closes the connection).</summary>
    Hanging,
    /// <summary>Reads the request and answers 204.</summary>
    Accepting,
}

/// <summary>One request the receiver read: headers as sent, the raw body, the mode it was handled in.</summary>
public sealed record ReceivedRequest(string Id, string Timestamp, string Signature, byte[] Body, ReceiverMode Mode, DateTimeOffset At)
{
    /// <summary>Whether it was answered 2xx.</summary>
    public bool Answered2xx => Mode == ReceiverMode.Accepting;
}

/// <summary>
/// A webhook receiver on a fixed loopback port whose behaviour the test switches while deliveries run: down
/// (nothing listening), 500, hanging, up. A plain HTTP/1.1 server on a socket (not Kestrel) so that "refusing"
/// really closes the port and "hanging" holds a connection with the request read and no answer, as a stuck
/// receiver would. The mode is read when a request has been read, so every request is handled in exactly one mode.
/// </summary>
public sealed class SwitchableWebhookReceiver : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private volatile ReceiverMode _mode = ReceiverMode.Refusing;

    /// <summary>Creates a receiver on a free loopback port, down (<see cref="ReceiverMode.Refusing"/>) until switched.</summary>
    public SwitchableWebhookReceiver() => Port = ServiceCluster.FreePort();

    /// <summary>The fixed port.</summary>
    public int Port { get; }

    /// <summary>The URL to give as <c>webhook.url</c>.</summary>
    public string Url => $"http://127.0.0.1:{Port}/hooks";

    /// <summary>Every request read, in arrival order.</summary>
    public ConcurrentQueue<ReceivedRequest> Received { get; } = new();

    /// <summary>The webhook-ids of the requests held without an answer right now.</summary>
    public IReadOnlyList<string> HangingIds => HangingSince(TimeSpan.MaxValue);

    /// <summary>The webhook-ids of the requests held without an answer right now for less than <paramref name="age"/>.</summary>
    public IReadOnlyList<string> HangingSince(TimeSpan age)
    {
        var now = DateTimeOffset.UtcNow;
        lock (_hanging) return [.. _hanging.Where(h => now - h.Since < age).Select(h => h.Id)];
    }

    private readonly List<(string Id, DateTimeOffset Since)> _hanging = [];

    /// <summary>The current mode.</summary>
    public ReceiverMode Mode => _mode;

    /// <summary>Switches the behaviour; opening the port when leaving <see cref="ReceiverMode.Refusing"/>, closing it when entering it.</summary>
    public void Switch(ReceiverMode mode)
    {
        _mode = mode;
        if (mode == ReceiverMode.Refusing)
        {
            _listener?.Stop();
            _listener = null;
        }
        else if (_listener is null)
        {
            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            _listener = listener;
            _acceptLoop = AcceptAsync(listener);
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return; // stopped (switched to refusing, or disposed)
            }
            lock (_connections) _connections.Add(ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        var reader = new RequestReader(stream);
        try
        {
            while (await reader.ReadAsync(_stop.Token) is { } request)
            {
                var mode = _mode;
                Received.Enqueue(request with { Mode = mode, At = DateTimeOffset.UtcNow });
                if (mode == ReceiverMode.Hanging)
                {
                    // Hold the request unanswered until the sender times out and closes the connection.
                    var held = (request.Id, DateTimeOffset.UtcNow);
                    lock (_hanging) _hanging.Add(held);
                    try
                    {
                        var sink = new byte[256];
                        while (await stream.ReadAsync(sink, _stop.Token) > 0) { }
                    }
                    finally
                    {
                        lock (_hanging) _hanging.Remove(held);
                    }
                    return;
                }
                var answer = mode == ReceiverMode.Accepting
                    ? "HTTP/1.1 204 No Content\r\n\r\n"
                    : "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The sender closed the connection, or the receiver is stopping.
        }
    }

    /// <summary>Waits until <paramref name="done"/> holds, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> what, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout}: {what()}");
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(150));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener?.Stop();
        if (_acceptLoop is not null) await _acceptLoop;
        Task[] open;
        lock (_connections) open = [.. _connections];
        await Task.WhenAll(open);
        _stop.Dispose();
    }

    /// <summary>Reads HTTP/1.1 requests (head, then a Content-Length body) from one connection.</summary>
    private sealed class RequestReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<ReceivedRequest?> ReadAsync(CancellationToken ct)
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
                if (!await FillAsync(ct)) return null;
            var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in head.Split("\r\n").Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            var length = headers.TryGetValue("content-length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
            while (_end - _start < length)
                if (!await FillAsync(ct)) return null;
            var body = _buffer.AsSpan(_start, length).ToArray();
            _start += length;
            return new ReceivedRequest(headers.GetValueOrDefault("webhook-id", ""), headers.GetValueOrDefault("webhook-timestamp", ""),
                headers.GetValueOrDefault("webhook-signature", ""), body, ReceiverMode.Refusing, default);
        }

        private async Task<bool> FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length) throw new IOException("request larger than the receiver's buffer");
            var n = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
            _end += n;
            return n > 0;
        }
    }
}
