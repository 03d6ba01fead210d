using System.Net;
using System.Net.Sockets;

namespace Tora.Core.Webhooks;

/// <summary>
/// Which webhook targets may be called (SSRF defence, docs/architecture.md §6). URLs are checked when a request is accepted,
/// and every address is checked again at connect time, after DNS resolution, so a name that later resolves to a
/// private address (DNS rebinding) is refused too. All network access goes through <see cref="IWebhookNetwork"/>.
/// </summary>
/// <param name="options">Whether loopback and private targets are allowed.</param>
/// <param name="network">Resolver and connector (default: <see cref="SystemWebhookNetwork"/>).</param>
public sealed class WebhookTargetPolicy(WebhookOptions options, IWebhookNetwork? network = null)
{
    private readonly IWebhookNetwork _network = network ?? new SystemWebhookNetwork();

    /// <summary>Checks a URL's form and, for IP literals and <c>localhost</c>, its address; returns an error or null.</summary>
    /// <remarks>
    /// The host is read as .NET's <see cref="Uri"/> canonicalises it (<c>IdnHost</c>), so the other spellings of an
    /// IPv4 address (<c>2130706433</c>, <c>0x7f000001</c>, <c>0177.0.0.1</c>, <c>127.1</c>) are checked as the
    /// address they stand for; a trailing dot (<c>127.0.0.1.</c>, <c>localhost.</c>) is ignored. A host that is a
    /// name here (full-width digits become a punycode name under invariant globalization) is checked after
    /// resolution, at connect time.
    /// </remarks>
    public string? CheckUrl(string url)
    {
        if (url.Length > 2048) return "the webhook url is longer than 2048 characters";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return "the webhook url must be an absolute http or https URL";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "the webhook url must not contain credentials";
        var host = uri.IdnHost.Trim('[', ']').TrimEnd('.');
        if (host.Length == 0) return "the webhook url has no host";
        if (IPAddress.TryParse(host, out var ip))
            return IsAllowed(ip) ? null : $"the webhook target {ip} is in a private or loopback range";
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return options.AllowLoopback ? null : "the webhook target is a loopback host";
        return null;
    }

    /// <summary>Whether an address may be connected to.</summary>
    public bool IsAllowed(IPAddress address)
    {
        // Only what the host itself routes to loopback counts as loopback (127/8, ::1 and ::ffff:127.x.y.z); an
        // IPv6 address carrying 127.x.y.z otherwise (compatible, NAT64, 6to4) goes to the network: IsPublic refuses it.
        if (IPAddress.IsLoopback(address) || (address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(address.MapToIPv4())))
            return options.AllowLoopback;
        return IsPublic(address) || options.AllowPrivateNetworks;
    }

    /// <summary>True for globally routable unicast addresses.</summary>
    /// <remarks>
    /// IPv4: everything but this-network, private, CGNAT, loopback, link-local (cloud metadata 169.254.169.254),
    /// IETF protocol assignments, documentation, benchmarking, 6to4 relay, multicast, reserved and broadcast.
    /// IPv6: an address carrying an IPv4 one (::ffff:a.b.c.d mapped, NAT64 64:ff9b::a.b.c.d, 6to4 2002:AABB:CCDD::)
    /// is public only when the IPv4 address is; IPv4-compatible addresses (::a.b.c.d, deprecated) never are.
    /// Otherwise only global unicast (2000::/3) counts, less the IETF protocol assignments (2001::/23, with Teredo,
    /// which tunnels to IPv4) and the documentation ranges. Unique local (fc00::/7, AWS's fd00:ec2::254),
    /// link-local, deprecated site-local, multicast, local-use NAT64 (64:ff9b:1::/48), discard-only (100::/64),
    /// loopback and unspecified all fall outside 2000::/3.
    /// </remarks>
    public static bool IsPublic(IPAddress a)
    {
        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = a.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 100 && b[1] >= 64 && b[1] < 128)
                     || (b[0] == 169 && b[1] == 254) || (b[0] == 172 && b[1] >= 16 && b[1] < 32) || (b[0] == 192 && b[1] == 168)
                     || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2) || (b[0] == 192 && b[1] == 88 && b[2] == 99)
                     || (b[0] == 198 && (b[1] == 18 || b[1] == 19)) || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                     || (b[0] == 203 && b[1] == 0 && b[2] == 113) || b[0] >= 224);
        }
        if (a.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = a.GetAddressBytes();
            if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0) return false; // ::, ::1 and IPv4-compatible ::a.b.c.d
            if (EmbeddedIPv4(a) is { } v4) return IsPublic(v4);
            if ((b[0] & 0xE0) != 0x20) return false; // not 2000::/3 global unicast
            var first = (b[0] << 8) | b[1];
            var second = (b[2] << 8) | b[3];
            return !((first == 0x2001 && second < 0x0200) // 2001::/23 IETF protocol assignments (Teredo 2001::/32 embeds IPv4)
                     || (first == 0x2001 && second == 0x0db8) // documentation
                     || (first == 0x3fff && second < 0x1000)); // documentation (RFC 9637)
        }
        return false;
    }

    /// <summary>
    /// The IPv4 address an IPv6 address carries: IPv4-mapped (<c>::ffff:0:0/96</c>), IPv4-compatible
    /// (<c>::/96</c>, deprecated; not <c>::</c> or <c>::1</c>), NAT64 (<c>64:ff9b::/96</c>) or 6to4 (<c>2002::/16</c>).
    /// </summary>
    public static IPAddress? EmbeddedIPv4(IPAddress a)
    {
        if (a.AddressFamily != AddressFamily.InterNetworkV6) return null;
        if (a.IsIPv4MappedToIPv6) return a.MapToIPv4();
        var b = a.GetAddressBytes();
        if (b[0] == 0x20 && b[1] == 0x02) return new IPAddress(b.AsSpan(2, 4));
        var nat64 = b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b;
        for (var i = nat64 ? 4 : 0; i < 12; i++)
            if (b[i] != 0) return null;
        if (!nat64 && b[12] == 0 && b[13] == 0 && b[14] == 0) return null; // :: and ::1 are IPv6's own
        return new IPAddress(b.AsSpan(12, 4));
    }

    /// <summary>
    /// Connects to the first allowed address of the host that answers (the HTTP handler's connect callback):
    /// resolves through <see cref="IWebhookNetwork"/>, drops every address <see cref="IsAllowed"/> refuses, and
    /// only then opens a connection, so a refused address is never connected to.
    /// </summary>
    /// <exception cref="WebhookTargetRefusedException">No resolved address is allowed.</exception>
    public async ValueTask<Stream> ConnectAsync(System.Net.Http.SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host.TrimEnd('.'), out var literal) ? [literal] : await _network.ResolveAsync(host, ct);
        var allowed = addresses.Where(IsAllowed).ToArray();
        if (allowed.Length == 0)
            throw new WebhookTargetRefusedException($"the webhook target {host} resolves only to private or loopback addresses");
        Exception? last = null;
        foreach (var address in allowed)
        {
            try
            {
                return await _network.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
            }
            catch (Exception e) when (e is SocketException or IOException && !ct.IsCancellationRequested)
            {
                last = e;
            }
        }
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(last!);
        return null!;
    }
}

/// <summary>The target address is not allowed by <see cref="WebhookTargetPolicy"/>.</summary>
public sealed class WebhookTargetRefusedException(string message) : Exception(message);
