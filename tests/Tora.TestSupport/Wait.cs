using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tora.TestSupport;

/// <summary>Polling until a condition holds, failing with a message that says what did not happen.</summary>
public static class Wait
{
    /// <summary>The pause between two reads when the caller names none.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Reads <paramref name="read"/> every <paramref name="poll"/> until <paramref name="done"/> holds for what it read or
    /// <paramref name="timeout"/> has passed, and returns the last value read either way: the caller asserts on it with
    /// its own diagnostics (a readiness answer, a count, statuses).
    /// </summary>
    public static async Task<T> ForAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await read();
            if (done(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(poll ?? DefaultPoll);
        }
    }

    /// <summary>Waits until <paramref name="done"/> holds, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> what, TimeSpan? poll = null)
    {
        if (!await ForAsync(done, held => held, timeout, poll)) throw new TimeoutException($"not within {timeout}: {what()}");
    }

    /// <inheritdoc cref="UntilAsync(Func{Task{bool}}, TimeSpan, Func{string}, TimeSpan?)"/>
    public static Task UntilAsync(Func<bool> done, TimeSpan timeout, Func<string> what, TimeSpan? poll = null) =>
        UntilAsync(() => Task.FromResult(done()), timeout, what, poll);

    /// <summary>
    /// Waits until <paramref name="process"/> accepts TCP connections on loopback <paramref name="port"/>, failing at once
    /// when it exits and after <paramref name="timeout"/> otherwise, with <paramref name="what"/> (its log, say).
    /// </summary>
    public static Task UntilListeningAsync(Process process, int port, TimeSpan timeout, Func<string> what, TimeSpan? poll = null) =>
        UntilAsync(async () =>
        {
            if (process.HasExited) throw new InvalidOperationException($"exited with {process.ExitCode} before listening on port {port}: {what()}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, timeout, () => $"listening on port {port}: {what()}", poll);
}
