using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Tora.Core.Webhooks;
using Xunit.Abstractions;

namespace Tora.Faults.Tests.Security;

/// <summary>
/// Webhook targets in loopback, private, link-local, metadata and other non-public ranges (IPv4 and IPv6, literal,
/// spelled otherwise, behind names, behind redirects, rebound between attempts) are refused (issue 11). Every
/// connection goes through <see cref="LoopbackOnlyNetwork"/>: names resolve only as a test says, and a connect to
/// anything but loopback throws before a socket exists, so no packet leaves loopback even if the policy were wrong.
/// Each test asserts that the hook saw no connect to a refused address, and for refused targets that it saw none
/// at all (the refusal came first).
/// </summary>
[Collection(SecurityCollection.Name)]
public sealed class SsrfTests(SecurityFixture service, ITestOutputHelper output)
{
    /// <summary>Public addresses the tests route to the loopback receiver (never really contacted).</summary>
    private static readonly IPAddress PublicV4 = IPAddress.Parse("93.184.215.14"), PublicV6 = IPAddress.Parse("2606:2800:21f:cb07:6820:80da:af6b:8b2c");

    /// <summary>Literal targets: what the URL says, and the address it stands for.</summary>
    public static readonly (string Url, string Address)[] RefusedLiterals =
    [
        // IPv4 loopback, this-network, private, CGNAT, link-local (cloud metadata), broadcast, multicast, reserved.
        ("http://127.0.0.1/", "127.0.0.1"), ("http://127.1.2.3:8080/x", "127.1.2.3"), ("http://0.0.0.0/", "0.0.0.0"),
        ("http://10.0.0.1/", "10.0.0.1"), ("http://10.255.255.254/", "10.255.255.254"),
        ("http://172.16.0.1/", "172.16.0.1"), ("http://172.31.255.254/", "172.31.255.254"),
        ("http://192.168.0.1/", "192.168.0.1"), ("http://192.168.255.254/", "192.168.255.254"),
        ("http://100.64.0.1/", "100.64.0.1"), ("http://100.127.255.254/", "100.127.255.254"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"), ("http://169.254.0.1/", "169.254.0.1"),
        ("http://255.255.255.255/", "255.255.255.255"), ("http://224.0.0.1/", "224.0.0.1"), ("http://239.255.255.250/", "239.255.255.250"),
        ("http://240.0.0.1/", "240.0.0.1"), ("http://192.0.0.170/", "192.0.0.170"), ("http://198.18.0.1/", "198.18.0.1"),
        // Documentation ranges (never a real receiver).
        ("http://192.0.2.1/", "192.0.2.1"), ("http://198.51.100.1/", "198.51.100.1"), ("http://203.0.113.1/", "203.0.113.1"),
        // Other spellings of IPv4 addresses: .NET's Uri reads them as the address they stand for.
        ("http://2130706433/", "127.0.0.1"), ("http://0x7f000001/", "127.0.0.1"), ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"), ("http://0x7f.1/", "127.0.0.1"), ("http://017700000001/", "127.0.0.1"),
        ("http://127.000.000.001/", "127.0.0.1"), ("http://0/", "0.0.0.0"), ("http://127.0.0.1./", "127.0.0.1"),
        ("http://2852039166/", "169.254.169.254"), ("http://0xa9fea9fe/", "169.254.169.254"), ("http://0251.0376.0251.0376/", "169.254.169.254"),
        ("http://0xa.1/", "10.0.0.1"),
        // IPv6 loopback, unspecified, link-local (with a zone), unique local (AWS metadata), multicast, site-local.
        ("http://[::1]/", "::1"), ("http://[::]/", "::"), ("http://[fe80::1]/", "fe80::1"), ("http://[fe80::1%25eth0]/", "fe80::1"),
        ("http://[fc00::1]/", "fc00::1"), ("http://[fd00::1]/", "fd00::1"), ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
        ("http://[ff02::1]/", "ff02::1"), ("http://[ff05::1:3]/", "ff05::1:3"), ("http://[fec0::1]/", "fec0::1"),
        // IPv6 carrying a non-public IPv4: mapped, IPv4-compatible, NAT64, 6to4; and Teredo, documentation, discard.
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"), ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"),
        ("http://[::ffff:a00:1]/", "::ffff:10.0.0.1"), ("http://[::127.0.0.1]/", "::127.0.0.1"), ("http://[::a9fe:a9fe]/", "::169.254.169.254"), ("http://[::808:808]/", "::8.8.8.8"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe"), ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"),
        ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::a00:1"), ("http://[2002:a9fe:a9fe::]/", "2002:a9fe:a9fe::"),
        ("http://[2002:7f00:1::1]/", "2002:7f00:1::1"), ("http://[2002:c0a8:1::1]/", "2002:c0a8:1::1"),
        ("http://[2001::a9fe:a9fe]/", "2001::a9fe:a9fe"), ("http://[2001:db8::1]/", "2001:db8::1"), ("http://[100::1]/", "100::1"),
        ("http://[3fff::1]/", "3fff::1"),
    ];

    [Fact]
    public async Task Literal_targets_in_every_refused_range_are_refused_at_accept_and_at_connect_before_any_connect()
    {
        var network = new LoopbackOnlyNetwork();
        var (policy, sender) = Direct(network, allowLoopback: false);
        using var _ = sender;
        var failures = new List<string>();
        foreach (var (url, address) in RefusedLiterals)
        {
            var before = network.Attempts.Count;
            if (policy.CheckUrl(url) is null) failures.Add($"{url}: accepted at accept time");
            var result = await SendAsync(sender, url);
            if (result.Error?.StartsWith("target_refused", StringComparison.Ordinal) != true)
                failures.Add($"{url} ({address}): at connect time {result.StatusCode} {result.Error}");
            if (network.Attempts.Count != before) failures.Add($"{url}: the hook saw a connect");
            Assert.False(WebhookTargetPolicy.IsPublic(IPAddress.Parse(address)), $"{address} counted as public");
        }
        Assert.Empty(network.Lookups); // literals are never looked up

        // Control: the same path reaches a public target (routed by the hook to the loopback receiver), so the
        // refusals above are the policy's and not an artefact of the harness.
        // NAT64 of a public address (DNS64 networks) stays allowed.
        var nat64 = IPAddress.Parse("64:ff9b::5db8:d70e");
        var controls = new[] { $"http://{PublicV4}:{service.Receiver.Port}/ok", $"http://[{PublicV6}]:{service.Receiver.Port}/ok", $"http://[{nat64}]:{service.Receiver.Port}/ok" };
        foreach (var routed in new[] { PublicV4, PublicV6, nat64 }) network.Route(routed, new IPEndPoint(IPAddress.Loopback, service.Receiver.Port));
        foreach (var url in controls)
        {
            Assert.Null(policy.CheckUrl(url));
            var ok = await SendAsync(sender, url);
            Assert.True(ok.Success, $"{url}: {ok.StatusCode} {ok.Error}");
        }
        Assert.Equal(controls.Length, network.Attempts.Count);
        AssertNoForbiddenConnect(network);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        new FaultFigures("SSRF: literal webhook targets in refused ranges (IPv4, other IPv4 spellings, IPv6, embedded IPv4)",
            RefusedLiterals.Length, 0, RefusedLiterals.Length, 0, 0, 0,
            $"{RefusedLiterals.Length} refused at accept and at connect, 0 connects; 3 public controls (IPv4, IPv6, NAT64 of IPv4) delivered").Report(output);
    }

    [Fact]
    public async Task Names_resolving_into_refused_ranges_are_refused_at_connect_time_without_a_connect()
    {
        var network = new LoopbackOnlyNetwork();
        var (policy, sender) = Direct(network, allowLoopback: false);
        using var _ = sender;
        var addresses = RefusedLiterals.Select(l => IPAddress.Parse(l.Address)).Distinct().ToList();
        var failures = new List<string>();
        for (var i = 0; i < addresses.Count; i++)
        {
            var host = $"t{i}.ssrf.test";
            network.Resolve(host, addresses[i]);
            var url = $"https://{host}/hook";
            if (policy.CheckUrl(url) is { } why) failures.Add($"{url}: a name must pass the accept check ({why})");
            var result = await SendAsync(sender, url);
            if (result.Error?.StartsWith("target_refused", StringComparison.Ordinal) != true)
                failures.Add($"{host} -> {addresses[i]}: {result.StatusCode} {result.Error}");
        }
        // Full-width digits: with invariant globalization (as built) .NET reads "①②⑦.0.0.1" as the name
        // xn--orhcp.0.0.1, not as 127.0.0.1; a resolver that answered 127.0.0.1 for it is caught at connect time.
        network.Resolve("xn--orhcp.0.0.1", IPAddress.Loopback);
        var fullWidth = await SendAsync(sender, "http://①②⑦.0.0.1/");
        Assert.StartsWith("target_refused", fullWidth.Error);
        // Several refused addresses behind one name: still refused, still no connect.
        network.Resolve("many.ssrf.test", [.. addresses]);
        var many = await SendAsync(sender, "http://many.ssrf.test/");
        Assert.StartsWith("target_refused", many.Error);
        // localhost is refused by name already when accepted, whatever the spelling.
        foreach (var url in new[] { "http://localhost/", "http://LOCALHOST:8080/", "http://localhost./", "http://api.localhost/", "http://x.localhost./" })
            Assert.NotNull(policy.CheckUrl(url));

        Assert.Empty(network.Attempts);
        Assert.Equal(addresses.Count + 2, network.Lookups.Count);
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        new FaultFigures("SSRF: names resolving into refused ranges", addresses.Count + 2, 0, addresses.Count + 2, 0, 0, 0,
            $"{addresses.Count} names (one per refused address), 1 name with all of them, 1 full-width-digit name: refused after resolution, 0 connects").Report(output);
    }

    [Fact]
    public async Task A_name_resolving_to_allowed_and_refused_addresses_connects_only_to_the_allowed_one()
    {
        var port = service.Receiver.Port;
        // Production settings: the refused addresses come first, so taking the first address would be caught.
        var network = new LoopbackOnlyNetwork();
        network.Route(PublicV4, new IPEndPoint(IPAddress.Loopback, port));
        network.Resolve("mixed.ssrf.test", IPAddress.Parse("10.0.0.1"), IPAddress.Parse("169.254.169.254"), IPAddress.Parse("fd00:ec2::254"),
            IPAddress.Loopback, PublicV4, IPAddress.Parse("192.168.1.1"));
        var (_, sender) = Direct(network, allowLoopback: false);
        using (sender)
        {
            var result = await SendAsync(sender, $"http://mixed.ssrf.test:{port}/ok");
            Assert.True(result.Success, $"{result.StatusCode} {result.Error}");
        }
        Assert.Equal([PublicV4], network.Attempts.Select(a => a.Requested.Address));

        // With loopback allowed (as in the tests of the contract): [private, loopback] connects to loopback only.
        var loopback = new LoopbackOnlyNetwork();
        loopback.Resolve("mixed-loopback.ssrf.test", IPAddress.Parse("10.0.0.1"), IPAddress.Parse("fe80::1"), IPAddress.Loopback);
        var (_, loopbackSender) = Direct(loopback, allowLoopback: true);
        using (loopbackSender)
        {
            var result = await SendAsync(loopbackSender, $"http://mixed-loopback.ssrf.test:{port}/ok");
            Assert.True(result.Success, $"{result.StatusCode} {result.Error}");
        }
        Assert.Equal([IPAddress.Loopback], loopback.Attempts.Select(a => a.Requested.Address));
        Assert.DoesNotContain(loopback.Attempts, a => !IPAddress.IsLoopback(a.Requested.Address));
        AssertNoForbiddenConnect(network);
        AssertNoForbiddenConnect(loopback);
        new FaultFigures("SSRF: a name resolving to allowed and refused addresses", 2, 2, 2, 0, 0, 0,
            "delivered over the one allowed address (public, or loopback where allowed); 0 connects to the refused ones").Report(output);
    }

    [Fact]
    public async Task Dns_rebinding_between_attempts_is_refused_at_connect_and_logged_as_target_refused()
    {
        var network = service.Network;
        var port = service.Receiver.Port;
        network.Route(PublicV4, new IPEndPoint(IPAddress.Loopback, port));
        // Public for the first lookup (the receiver answers 503, so the delivery is retried), the metadata address after.
        network.Resolve("rebind.ssrf.test", n => n == 0 ? [PublicV4] : [IPAddress.Parse("169.254.169.254")]);
        using var client = service.InProcessClient(service.AlphaKey);
        var publicBefore = network.AttemptsTo(PublicV4);
        var id = await CreateWithWebhookAsync(client, $"http://rebind.ssrf.test:{port}/status/503");

        var delivery = await WaitForFinalDeliveryAsync(client, id);
        var attempts = delivery.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal("failed", delivery.GetProperty("state").GetString());
        Assert.Equal(2, attempts.Count);
        Assert.Equal(503, attempts[0].GetProperty("status_code").GetInt32());
        Assert.Equal(JsonValueKind.Null, attempts[1].GetProperty("status_code").ValueKind);
        Assert.StartsWith("target_refused", attempts[1].GetProperty("error").GetString());
        Assert.Equal(0, network.AttemptsTo(IPAddress.Parse("169.254.169.254")));
        Assert.Equal(1, network.AttemptsTo(PublicV4) - publicBefore);
        Assert.Equal(2, network.Lookups.Count(h => h == "rebind.ssrf.test"));
        AssertNoForbiddenConnect(network);
        await CancelAsync(client, id);
        new FaultFigures("SSRF: DNS rebinding (public, then 169.254.169.254) between delivery attempts", 1, 1, 1, 0, 0, 0,
            "attempt 1: 503 from the public address; attempt 2: target_refused before connecting; 0 connects to the metadata address").Report(output);
    }

    [Fact]
    public async Task Redirects_to_metadata_and_private_addresses_are_never_followed()
    {
        var network = service.Network;
        var port = service.Receiver.Port;
        network.Route(PublicV4, new IPEndPoint(IPAddress.Loopback, port));
        network.Resolve("redirect.ssrf.test", PublicV4);
        var cases = (from code in new[] { 301, 302, 307, 308 } from target in WebhookReceiver.RedirectTargets.Keys select (code, target)).ToList();
        using var client = service.InProcessClient(service.AlphaKey);
        var before = service.Receiver.Received.Count;
        var ids = new List<(int Code, string Where, string Id)>();
        foreach (var (code, where) in cases)
            ids.Add((code, where, await CreateWithWebhookAsync(client, $"http://redirect.ssrf.test:{port}/redirect/{code}/{where}")));

        foreach (var (code, where, id) in ids)
        {
            var delivery = await WaitForFinalDeliveryAsync(client, id);
            Assert.Equal("failed", delivery.GetProperty("state").GetString());
            var attempts = delivery.GetProperty("attempts").EnumerateArray().ToList();
            Assert.Equal(2, attempts.Count);
            Assert.All(attempts, a => Assert.Equal(code, a.GetProperty("status_code").GetInt32()));
            Assert.Equal(2, service.Receiver.Received.Count(p => p.Path == $"/redirect/{code}/{where}"));
            await CancelAsync(client, id);
        }
        Assert.Equal(0, network.AttemptsTo(IPAddress.Parse("169.254.169.254")) + network.AttemptsTo(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(2 * cases.Count, service.Receiver.Received.Count - before);

        // The same with loopback allowed (as the contract tests run) and the receiver at 127.0.0.1 itself.
        var loopback = new LoopbackOnlyNetwork();
        var (_, sender) = Direct(loopback, allowLoopback: true);
        using (sender)
        {
            foreach (var (code, where) in cases)
            {
                var result = await SendAsync(sender, $"http://127.0.0.1:{port}/redirect/{code}/{where}");
                Assert.False(result.Success);
                Assert.Equal(code, result.StatusCode);
            }
        }
        Assert.All(loopback.Attempts, a => Assert.True(IPAddress.IsLoopback(a.Requested.Address)));
        AssertNoForbiddenConnect(network);
        AssertNoForbiddenConnect(loopback);
        new FaultFigures("SSRF: 301/302/307/308 redirects to 169.254.169.254 and 10.0.0.1", 2 * cases.Count, 2 * cases.Count, 2 * cases.Count, 0, 0, 0,
            $"{cases.Count} deliveries x 2 attempts, each a failure with the 3xx in the log, never followed; " +
            $"{cases.Count} more from 127.0.0.1 with loopback allowed; 0 connects to the redirect targets").Report(output);
    }

    [Fact]
    public async Task The_api_refuses_webhook_targets_in_refused_ranges_with_422_problem_json()
    {
        var statuses = new Dictionary<int, int>();
        var sent = 0;
        async Task ExpectRefusedAsync(HttpClient client, string path, object body, string pointer)
        {
            sent++;
            using var response = await client.PostAsJsonAsync(path, body);
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"{path} {JsonSerializer.Serialize(body)}: {(int)response.StatusCode} {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal("validation_failed", problem.GetProperty("code").GetString());
            var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
            Assert.Equal("webhook_target_refused", error.GetProperty("code").GetString());
            Assert.Equal(pointer, error.GetProperty("pointer").GetString());
        }
        object Generation(string url) => new { model = ServiceCluster.QueuedModel, prompt = "a fox", webhook = new { url } };

        // The real API process: the accept path as deployed. Only loopback spellings go to its test endpoint (it
        // sends at once, with the real network: were the policy wrong, the packet would still stay on loopback).
        // Generation requests take every refused target: their deliveries would run in process, under the hook.
        using (var child = service.Api.Client(service.AlphaKey))
        {
            foreach (var url in new[] { "http://127.0.0.1/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
                         "http://127.0.0.1./", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://localhost/", "http://localhost./" })
                await ExpectRefusedAsync(child, "/v1/webhooks/test", new { url }, "/url");
            foreach (var (url, _) in RefusedLiterals)
                await ExpectRefusedAsync(child, "/v1/generations", Generation(url), "/webhook/url");
        }
        // The in-process API (every connect under the hook): both endpoints, every refused target.
        using (var inProcess = service.InProcessClient(service.AlphaKey))
            foreach (var (url, _) in RefusedLiterals)
            {
                await ExpectRefusedAsync(inProcess, "/v1/webhooks/test", new { url }, "/url");
                await ExpectRefusedAsync(inProcess, "/v1/generations", Generation(url), "/webhook/url");
            }

        await using (var db = service.Cluster.Database())
        await using (var count = db.CreateCommand("SELECT count(*) FROM generations WHERE input -> 'webhook' ->> 'url' NOT LIKE '%.ssrf.test%'"))
            Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        AssertNoForbiddenConnect(service.Network);
        var serverErrors = statuses.Where(s => s.Key >= 500).Sum(s => s.Value);
        new FaultFigures("SSRF: POST /v1/generations and /v1/webhooks/test with refused webhook targets", sent, 0, statuses.GetValueOrDefault(422), 0, 0, serverErrors,
            $"all 422 problem+json (validation_failed / webhook_target_refused), API process and in process; nothing stored, 0 connects").Report(output);
    }

    private static (WebhookTargetPolicy Policy, WebhookSender Sender) Direct(LoopbackOnlyNetwork network, bool allowLoopback)
    {
        var options = SecurityFixture.WebhookSettings;
        options.AllowLoopback = allowLoopback;
        return (new WebhookTargetPolicy(options, network), new WebhookSender(Options.Create(options), network));
    }

    private static Task<WebhookSendResult> SendAsync(WebhookSender sender, string url) =>
        sender.SendAsync(url, "msg_ssrf", "{}"u8.ToArray(), new WebhookSecrets(new byte[32], null, null), CancellationToken.None);

    private static void AssertNoForbiddenConnect(LoopbackOnlyNetwork network)
    {
        Assert.True(network.Forbidden.Count == 0,
            "connects to refused addresses: " + string.Join(", ", network.Forbidden.Select(a => a.Requested)));
        Assert.Empty(network.NonLoopbackSockets);
    }

    private static async Task<string> CreateWithWebhookAsync(HttpClient client, string url)
    {
        using var response = await client.PostAsJsonAsync("/v1/generations", new
        {
            model = ServiceCluster.QueuedModel,
            prompt = "a fox",
            webhook = new { url, events = new[] { "generation.queued" } },
        });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>The generation's <c>generation.queued</c> delivery once it is no longer pending.</summary>
    private static async Task<JsonElement> WaitForFinalDeliveryAsync(HttpClient client, string id)
    {
        var queued = default(JsonElement);
        var list = default(JsonElement);
        await Wait.UntilAsync(async () =>
        {
            list = await client.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
            queued = list.GetProperty("data").EnumerateArray().FirstOrDefault(e => e.GetProperty("type").GetString() == "generation.queued");
            return queued.ValueKind == JsonValueKind.Object && queued.GetProperty("state").GetString() != "pending";
        }, TimeSpan.FromSeconds(45), () => $"delivery of {id} still pending: {list}", TimeSpan.FromMilliseconds(200));
        return queued;
    }

    private static async Task CancelAsync(HttpClient client, string id) => await client.PostAsync($"/v1/generations/{id}/cancel", null);
}
