using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Tora.Core.Webhooks;

namespace Tora.Faults.Tests.Security;

/// <summary>One connect the webhook code asked for.</summary>
/// <param name="Requested">The address and port the policy let through.</param>
/// <param name="Opened">Where a socket was really opened (always loopback), or null when the hook refused.</param>
public sealed record ConnectAttempt(IPEndPoint Requested, IPEndPoint? Opened);

/// <summary>
/// The SSRF tests' <see cref="IWebhookNetwork"/>: no real DNS (names resolve only to what a test set with
/// <see cref="Resolve"/>, anything else is "host not found") and a connect hook that records every connect and
/// refuses any non-loopback address by throwing before a socket exists. So even if <see cref="WebhookTargetPolicy"/>
/// were wrong, nothing but loopback is ever contacted. A test may "route" a public address it chose to a loopback
/// receiver (<see cref="Route"/>): the policy then sees a public target, and the socket still goes to 127.0.0.1.
/// </summary>
public sealed class LoopbackOnlyNetwork : IWebhookNetwork
{
    private readonly ConcurrentDictionary<string, Func<int, IPAddress[]>> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _lookups = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<IPAddress, IPEndPoint> _routes = new();

    /// <summary>Every connect asked for, in order.</summary>
    public ConcurrentQueue<ConnectAttempt> Attempts { get; } = new();

    /// <summary>Every name looked up, in order.</summary>
    public ConcurrentQueue<string> Lookups { get; } = new();

    /// <summary>Makes <paramref name="host"/> resolve to <paramref name="addresses"/>.</summary>
    public void Resolve(string host, params IPAddress[] addresses) => _names[host] = _ => addresses;

    /// <summary>Makes <paramref name="host"/> resolve to what <paramref name="byLookup"/> returns for the n-th lookup (0-based): DNS rebinding.</summary>
    public void Resolve(string host, Func<int, IPAddress[]> byLookup) => _names[host] = byLookup;

    /// <summary>Connects to <paramref name="publicAddress"/> go to <paramref name="loopback"/> instead.</summary>
    public void Route(IPAddress publicAddress, IPEndPoint loopback)
    {
        if (!IPAddress.IsLoopback(loopback.Address)) throw new ArgumentException("routes lead to loopback only", nameof(loopback));
        _routes[publicAddress] = loopback;
    }

    /// <summary>Connects to an address that is neither loopback nor a public address routed by the test.</summary>
    public IReadOnlyList<ConnectAttempt> Forbidden =>
        Attempts.Where(a => !IsLoopback(a.Requested.Address) && !_routes.ContainsKey(a.Requested.Address)).ToList();

    /// <summary>Sockets opened to a non-loopback address: none by construction, asserted anyway.</summary>
    public IReadOnlyList<ConnectAttempt> NonLoopbackSockets =>
        Attempts.Where(a => a.Opened is { } o && !IsLoopback(o.Address)).ToList();

    /// <summary>Connects asked for towards <paramref name="address"/>.</summary>
    public int AttemptsTo(IPAddress address) => Attempts.Count(a => a.Requested.Address.Equals(address));

    /// <inheritdoc />
    public ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        Lookups.Enqueue(host);
        var n = _lookups.AddOrUpdate(host, 0, (_, c) => c + 1);
        return _names.TryGetValue(host.TrimEnd('.'), out var answer)
            ? ValueTask.FromResult(answer(n))
            : ValueTask.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
    }

    /// <inheritdoc />
    public async ValueTask<Stream> ConnectAsync(IPEndPoint endpoint, CancellationToken ct)
    {
        var target = _routes.TryGetValue(endpoint.Address, out var routed) ? routed
            : IsLoopback(endpoint.Address) ? endpoint
            : null;
        Attempts.Enqueue(new ConnectAttempt(endpoint, target));
        if (target is null) throw new SocketException((int)SocketError.NetworkUnreachable); // the hook: never leave loopback
        var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(target, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool IsLoopback(IPAddress a) => IPAddress.IsLoopback(a) || (a.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(a.MapToIPv4()));
}
