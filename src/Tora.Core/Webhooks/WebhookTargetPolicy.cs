using System.Net;
using System.Net.Sockets;

namespace Tora.Core.Webhooks;

/// <summary>
/// Which webhook targets may be called (SSRF defence, anchors.md §2). URLs are checked when a request is accepted,
/// and every address is checked again at connect time, after DNS resolution, so a name that later resolves to a
/// private address (DNS rebinding) is refused too.
/// </summary>
public sealed class WebhookTargetPolicy(WebhookOptions options)
{
    /// <summary>Checks a URL's form and, for IP literals and <c>localhost</c>, its address; returns an error or null.</summary>
    public string? CheckUrl(string url)
    {
        if (url.Length > 2048) return "the webhook url is longer than 2048 characters";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return "the webhook url must be an absolute http or https URL";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "the webhook url must not contain credentials";
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 && IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var ip))
            return IsAllowed(ip) ? null : $"the webhook target {ip} is in a private or loopback range";
        if (uri.IdnHost.Equals("localhost", StringComparison.OrdinalIgnoreCase) || uri.IdnHost.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return options.AllowLoopback ? null : "the webhook target is a loopback host";
        return null;
    }

    /// <summary>Whether an address may be connected to.</summary>
    public bool IsAllowed(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return options.AllowLoopback;
        return IsPublic(address) || options.AllowPrivateNetworks;
    }

    /// <summary>True for globally routable unicast addresses.</summary>
    public static bool IsPublic(IPAddress a)
    {
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = a.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 100 && b[1] >= 64 && b[1] < 128)
                     || (b[0] == 169 && b[1] == 254) || (b[0] == 172 && b[1] >= 16 && b[1] < 32) || (b[0] == 192 && b[1] == 168)
                     || (b[0] == 192 && b[1] == 0 && b[2] == 0) || (b[0] == 198 && (b[1] == 18 || b[1] == 19)) || b[0] >= 224);
        }
        if (a.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = a.GetAddressBytes();
            return !(a.IsIPv6LinkLocal || a.IsIPv6SiteLocal || a.IsIPv6Multicast || IPAddress.IsLoopback(a)
                     || a.Equals(IPAddress.IPv6None) || (b[0] & 0xFE) == 0xFC);
        }
        return false;
    }

    /// <summary>Connects to the first allowed address of the host (the HTTP handler's connect callback).</summary>
    public async ValueTask<Stream> ConnectAsync(System.Net.Http.SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = addresses.Where(IsAllowed).ToArray();
        if (allowed.Length == 0)
            throw new WebhookTargetRefusedException($"the webhook target {host} resolves only to private or loopback addresses");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>The target address is not allowed by <see cref="WebhookTargetPolicy"/>.</summary>
public sealed class WebhookTargetRefusedException(string message) : Exception(message);
