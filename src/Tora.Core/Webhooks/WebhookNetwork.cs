using System.Net;
using System.Net.Sockets;

namespace Tora.Core.Webhooks;

/// <summary>
/// The only way webhook delivery reaches the network: resolving a host name and opening a TCP connection to one
/// address. <see cref="WebhookTargetPolicy"/> checks every address between the two calls, so an implementation
/// never sees a refused address unless the policy is wrong.
/// </summary>
/// <remarks>
/// The seam exists for the SSRF tests (docs/reliability.md): they register an implementation that makes names resolve to
/// chosen addresses without real DNS and that records every connect and refuses any non-loopback one, so no
/// packet can leave loopback even if the policy under test were wrong. Production uses
/// <see cref="SystemWebhookNetwork"/> (<c>AddToraCore</c> registers it with TryAdd; a test's own registration wins).
/// </remarks>
public interface IWebhookNetwork
{
    /// <summary>The addresses of <paramref name="host"/> (a DNS name, never an IP literal).</summary>
    ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken ct);

    /// <summary>Opens a TCP connection to <paramref name="endpoint"/>; the caller owns the stream.</summary>
    ValueTask<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct);
}

/// <summary>The system resolver and plain sockets.</summary>
public sealed class SystemWebhookNetwork : IWebhookNetwork
{
    /// <inheritdoc />
    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => await Dns.GetHostAddressesAsync(host, ct);

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        // Dual-mode where the system has IPv6: one socket type reaches IPv4, IPv6 and IPv4-mapped endpoints.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
