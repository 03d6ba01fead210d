using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tora.TestSupport;

/// <summary>How the <see cref="WebhookReceiver"/> treats the requests it reads.</summary>
public enum ReceiverMode
{
    /// <summary>Nothing listens on the port: connections are refused.</summary>
    Refusing,
    /// <summary>Reads the request and answers 500.</summary>
    Failing,
    /// <summary>Reads the request and never answers (until the sender gives up and closes the connection).</summary>
    Hanging,
    /// <summary>Reads the request and answers what <see cref="WebhookReceiver.Respond"/> says (204 unless told).</summary>
    Accepting,
}

/// <summary>What the receiver answers one request with: a status code and, for a redirect, where to.</summary>
public readonly record struct WebhookAnswer(int Status, string? Location = null)
{
    /// <summary>A plain status code.</summary>
    public static implicit operator WebhookAnswer(int status) => new(status);
}

/// <summary>One request the receiver read: its path, the webhook headers as sent, the raw body, the mode and answer.</summary>
public sealed record ReceivedWebhook(string Path, string Id, string Timestamp, string Signature, byte[] Body, ReceiverMode Mode, DateTimeOffset At)
{
    /// <summary>The status code answered (0 when none was: the request was held or the sender left first).</summary>
    public int Status { get; internal set; }

    /// <summary>Whether it was answered 2xx.</summary>
    public bool Answered2xx => Status is >= 200 and < 300;
}

/// <summary>
/// A webhook receiver on a fixed loopback port (127.0.0.1, a free port) whose behaviour a test scripts and switches
/// while deliveries run: down (nothing listening), 500, hanging, or answering as <see cref="Respond"/> says (a status
/// per request, or a redirect). A plain HTTP/1.1 server on a socket rather than Kestrel, so that "refusing" really
/// closes the port and "hanging" holds a connection with the request read and no answer, as a stuck receiver would.
/// The mode is read once a request has been read, so every request is handled in exactly one mode.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    /// <summary>Where <see cref="ByPath"/>'s redirects point (<c>/redirect/302/metadata</c>, <c>/redirect/307/private</c>).</summary>
    public static readonly IReadOnlyDictionary<string, string> RedirectTargets = new Dictionary<string, string>
    {
        ["metadata"] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        ["private"] = "http://10.0.0.1/",
    };

    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _connections = [];
    private readonly List<(string Id, DateTimeOffset Since)> _hanging = [];
    private readonly object _gate = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private volatile ReceiverMode _mode = ReceiverMode.Refusing;

    /// <summary>Creates a receiver on a free loopback port, down (<see cref="ReceiverMode.Refusing"/>) until switched.</summary>
    public WebhookReceiver() => Port = FreePort();

    /// <summary>Starts a receiver that accepts at once (answering 204 unless <see cref="Respond"/> says otherwise).</summary>
    public static Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        receiver.Switch(ReceiverMode.Accepting);
        return Task.FromResult(receiver);
    }

    /// <summary>The fixed port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The base URL (<c>http://127.0.0.1:PORT</c>).</summary>
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>A URL to give as <c>webhook.url</c> (<see cref="BaseUrl"/> + <c>/hooks</c>).</summary>
    public string Url => BaseUrl + "/hooks";

    /// <summary>Every request read, in arrival order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The answer to a request read in <see cref="ReceiverMode.Accepting"/> (default 204).</summary>
    public Func<ReceivedWebhook, WebhookAnswer> Respond { get; set; } = _ => 204;

    /// <summary>How long to wait before answering (to exercise the sender's per-attempt timeout).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Whether every answer closes the connection, so that each attempt connects afresh.</summary>
    public bool CloseAfterAnswer { get; set; }

    /// <summary>The current mode.</summary>
    public ReceiverMode Mode => _mode;

    /// <summary>
    /// Answers by path: <c>/status/503</c> answers 503, <c>/redirect/302/metadata</c> answers 302 to
    /// <see cref="RedirectTargets"/>' <c>metadata</c>, anything else 204.
    /// </summary>
    public static WebhookAnswer ByPath(ReceivedWebhook request)
    {
        var parts = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts switch
        {
            ["status", var code, ..] => int.Parse(code, CultureInfo.InvariantCulture),
            ["redirect", var status, var where, ..] => new WebhookAnswer(int.Parse(status, CultureInfo.InvariantCulture), RedirectTargets[where]),
            _ => 204,
        };
    }

    /// <summary>The requests to one path.</summary>
    public IReadOnlyList<ReceivedWebhook> At(string path) => Received.Where(r => r.Path == path).ToList();

    /// <summary>The webhook-ids of the requests held without an answer right now.</summary>
    public IReadOnlyList<string> HangingIds => HangingSince(TimeSpan.MaxValue);

    /// <summary>The webhook-ids of the requests held without an answer right now for less than <paramref name="age"/>.</summary>
    public IReadOnlyList<string> HangingSince(TimeSpan age)
    {
        var now = DateTimeOffset.UtcNow;
        lock (_hanging) return [.. _hanging.Where(h => now - h.Since < age).Select(h => h.Id)];
    }

    /// <summary>Waits until <paramref name="done"/> holds or the timeout passes.</summary>
    public Task WaitUntilAsync(Func<bool> done, TimeSpan timeout, string what) =>
        Wait.UntilAsync(done, timeout, () => $"webhook receiver: {what} (got {Received.Count} requests)", TimeSpan.FromMilliseconds(50));

    /// <summary>Switches the behaviour; opening the port when leaving <see cref="ReceiverMode.Refusing"/>, closing it when entering it.</summary>
    public void Switch(ReceiverMode mode)
    {
        lock (_gate)
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
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
            while (await reader.ReadAsync(_stop.Token) is { } read)
            {
                var mode = _mode;
                var request = read with { Mode = mode, At = DateTimeOffset.UtcNow };
                Received.Enqueue(request);
                if (mode == ReceiverMode.Hanging)
                {
                    await HoldAsync(stream, request.Id);
                    return;
                }
                if (Delay > TimeSpan.Zero) await Task.Delay(Delay, _stop.Token);
                var answer = mode == ReceiverMode.Accepting ? Respond(request) : new WebhookAnswer(500);
                var head = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"HTTP/1.1 {answer.Status} {ReasonPhrase(answer.Status)}\r\nContent-Length: 0\r\n"));
                if (answer.Location is not null) head.Append(CultureInfo.InvariantCulture, $"Location: {answer.Location}\r\n");
                if (CloseAfterAnswer) head.Append("Connection: close\r\n");
                request.Status = answer.Status; // before the write: the sender may act on the answer at once
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()), _stop.Token);
                if (CloseAfterAnswer) return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The sender closed the connection, or the receiver is stopping.
        }
    }

    /// <summary>Holds a request unanswered until the sender times out and closes the connection.</summary>
    private async Task HoldAsync(NetworkStream stream, string id)
    {
        var held = (id, DateTimeOffset.UtcNow);
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
    }

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK",
        204 => "No Content",
        _ => ((HttpStatusCode)status).ToString(),
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        lock (_gate) _listener?.Stop();
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

        public async Task<ReceivedWebhook?> ReadAsync(CancellationToken ct)
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
                if (!await FillAsync(ct)) return null;
            var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var lines = head.Split("\r\n");
            var target = lines[0].Split(' ') is [_, var t, ..] ? t : "/";
            var path = target.Split('?')[0];
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            var length = headers.TryGetValue("content-length", out var cl) ? int.Parse(cl, CultureInfo.InvariantCulture) : 0;
            while (_end - _start < length)
                if (!await FillAsync(ct)) return null;
            var body = _buffer.AsSpan(_start, length).ToArray();
            _start += length;
            return new ReceivedWebhook(path, headers.GetValueOrDefault("webhook-id", ""), headers.GetValueOrDefault("webhook-timestamp", ""),
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
