using System.Net.Sockets;
using System.Text;

namespace Tora.Faults.Tests.Security;

/// <summary>An HTTP/1.1 answer read off a raw socket.</summary>
/// <param name="Status">The status code.</param>
/// <param name="Headers">Header names (lowercase) and values.</param>
/// <param name="Body">The body (de-chunked).</param>
/// <param name="BodyBytesSent">How much of the request body went out before the server answered or closed.</param>
/// <param name="Elapsed">From the first byte sent to the full answer.</param>
public sealed record RawAnswer(int Status, IReadOnlyDictionary<string, string> Headers, string Body, long BodyBytesSent, TimeSpan Elapsed);

/// <summary>
/// Sends a request on a raw socket, the body written concurrently with reading the answer, so a server that
/// answers before reading a huge body (and closes) is seen answering instead of as a broken upload.
/// </summary>
public static class RawHttp
{
    /// <summary>Sends <paramref name="head"/> (request line and headers, without the blank line) and up to <paramref name="bodyBytes"/> bytes of body.</summary>
    /// <param name="port">The server's port on 127.0.0.1.</param>
    /// <param name="head">Request line and headers; <c>Connection: close</c> is added.</param>
    /// <param name="bodyBytes">Body length to send.</param>
    /// <param name="chunked">Send the body with <c>Transfer-Encoding: chunked</c> (no length declared).</param>
    /// <param name="fill">The body's bytes, produced 64 KiB at a time (never the whole body in memory).</param>
    public static async Task<RawAnswer> SendAsync(int port, string head, long bodyBytes, bool chunked, Action<Memory<byte>, long> fill)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port, cts.Token);
        var stream = client.GetStream();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {bodyBytes}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{head}\r\n{framing}\r\nConnection: close\r\n\r\n"), cts.Token);
        long sent = 0;
        var writer = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (sent < bodyBytes && !cts.IsCancellationRequested)
                {
                    var n = (int)Math.Min(buffer.Length, bodyBytes - sent);
                    fill(buffer.AsMemory(0, n), sent);
                    if (chunked) await stream.WriteAsync(Encoding.ASCII.GetBytes($"{n:x}\r\n"), cts.Token);
                    await stream.WriteAsync(buffer.AsMemory(0, n), cts.Token);
                    if (chunked) await stream.WriteAsync("\r\n"u8.ToArray(), cts.Token);
                    sent += n;
                }
                if (chunked) await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), cts.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // The server answered and closed before the body was all sent: what a size limit should do.
            }
        });

        var received = new MemoryStream();
        var read = new byte[16 * 1024];
        RawAnswer? answer = null;
        try
        {
            int n;
            while (answer is null && (n = await stream.ReadAsync(read, cts.Token)) > 0)
            {
                received.Write(read, 0, n);
                answer = TryParse(received.ToArray(), Interlocked.Read(ref sent), clock.Elapsed);
            }
        }
        catch (IOException) { }
        answer ??= TryParse(received.ToArray(), Interlocked.Read(ref sent), clock.Elapsed, complete: true)
            ?? throw new IOException($"no HTTP answer (got {received.Length} bytes)");
        client.Close();
        await writer;
        return answer;
    }

    private static RawAnswer? TryParse(byte[] data, long sent, TimeSpan elapsed, bool complete = false)
    {
        var text = Encoding.UTF8.GetString(data);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return null;
        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var rest = text[(end + 4)..];
        if (headers.TryGetValue("content-length", out var length))
        {
            var bodyLength = int.Parse(length, System.Globalization.CultureInfo.InvariantCulture);
            return Encoding.UTF8.GetByteCount(rest) >= bodyLength || complete ? new RawAnswer(status, headers, rest, sent, elapsed) : null;
        }
        if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var body = new StringBuilder();
            var pos = 0;
            while (true)
            {
                var lineEnd = rest.IndexOf("\r\n", pos, StringComparison.Ordinal);
                if (lineEnd < 0) return complete ? new RawAnswer(status, headers, body.ToString(), sent, elapsed) : null;
                var size = Convert.ToInt32(rest[pos..lineEnd].Split(';')[0], 16);
                if (size == 0) return new RawAnswer(status, headers, body.ToString(), sent, elapsed);
                if (lineEnd + 2 + size + 2 > rest.Length) return complete ? new RawAnswer(status, headers, body.ToString(), sent, elapsed) : null;
                body.Append(rest, lineEnd + 2, size);
                pos = lineEnd + 2 + size + 2;
            }
        }
        return complete ? new RawAnswer(status, headers, rest, sent, elapsed) : null;
    }
}
