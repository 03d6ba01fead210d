using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Generations;
using Tora.Core.Webhooks;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class WebhookTests(ServiceFixture service)
{
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private static object Request(string url, string prompt, params string[] events) => new
    {
        model = "tora-tiny",
        prompt,
        seed = 11,
        metadata = new Dictionary<string, string> { ["order"] = "A-17" },
        webhook = events.Length == 0 ? (object)new { url } : new { url, events },
    };

    private static async Task<string> SecretAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret")).GetProperty("secret").GetString()!;

    [Fact]
    public async Task One_signed_succeeded_event_per_job_also_across_a_forced_rerun()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var alpha = service.Client(service.AlphaKey);
        var secret = await SecretAsync(alpha);
        Assert.StartsWith("whsec_", secret);

        var created = await alpha.PostAsJsonAsync("/v1/generations", Request(receiver.BaseUrl + "/hooks/a", "webhook once"));
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var g = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        var id = g.GetProperty("id").GetGuid();

        await receiver.WaitUntilAsync(() => receiver.At("/hooks/a").Any(r => Type(r) == "generation.succeeded"), TimeSpan.FromSeconds(30), "succeeded event");
        // Force the generation's own job to run again: the claim refuses a finished row, so nothing is sent twice.
        var row = await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(id, default);
        Assert.True(service.Api.Services.GetRequiredService<IBackgroundJobClient>().Requeue(row!.JobId!));
        var monitor = JobStorage.Current.GetMonitoringApi();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (monitor.JobDetails(row.JobId).History.First().StateName != "Succeeded" || monitor.JobDetails(row.JobId).History.Count(h => h.StateName == "Succeeded") < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the re-run did not finish");
            await Task.Delay(50);
        }
        await Task.Delay(1500); // room for a (wrong) second event to be dispatched and delivered

        var received = receiver.At("/hooks/a");
        Assert.Single(received, r => Type(r) == "generation.succeeded");
        Assert.Single(received, r => Type(r) == "generation.queued");
        Assert.Single(received, r => Type(r) == "generation.running");
        Assert.Equal(3, received.Select(r => r.Id).Distinct().Count());
        var succeeded = received.Single(r => Type(r) == "generation.succeeded");
        Assert.True(WebhookSigner.Verify(secret, succeeded.Id, succeeded.Timestamp, succeeded.Signature, succeeded.Body, Tolerance));
        Assert.False(WebhookSigner.Verify(secret, succeeded.Id, succeeded.Timestamp, succeeded.Signature, [.. succeeded.Body, (byte)' '], Tolerance));
        Assert.StartsWith("msg_", succeeded.Id);
        var body = JsonDocument.Parse(succeeded.Body).RootElement;
        Assert.Equal(id, body.GetProperty("data").GetProperty("id").GetGuid());
        Assert.Equal("succeeded", body.GetProperty("data").GetProperty("status").GetString());
        Assert.Equal($"/v1/generations/{id}/video", body.GetProperty("data").GetProperty("urls").GetProperty("video").GetString());
        Assert.Equal("A-17", body.GetProperty("data").GetProperty("metadata").GetProperty("order").GetString());

        var log = await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
        var events = log.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["generation.queued", "generation.running", "generation.succeeded"], events.Select(e => e.GetProperty("type").GetString()).Order());
        Assert.All(events, e => Assert.Equal("delivered", e.GetProperty("state").GetString()));
        Assert.All(events, e => Assert.Equal(204, e.GetProperty("attempts")[0].GetProperty("status_code").GetInt32()));
        // Another tenant sees nothing.
        using var beta = service.Client(service.BetaKey);
        Assert.Equal(HttpStatusCode.NotFound, (await beta.GetAsync($"/v1/generations/{id}/webhook-deliveries")).StatusCode);
    }

    [Fact]
    public async Task Deliveries_are_retried_with_backoff_while_the_receiver_answers_500_then_succeed()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = r => receiver.At(r.Path).Count <= 2 ? 500 : 200;
        using var alpha = service.Client(service.AlphaKey);
        var secret = await SecretAsync(alpha);
        var created = await alpha.PostAsJsonAsync("/v1/generations", Request(receiver.BaseUrl + "/hooks/retry", "webhook retries", "generation.succeeded"));
        var g = await service.WaitForTerminalAsync(alpha, created.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        await receiver.WaitUntilAsync(() => receiver.At("/hooks/retry").Count >= 3, TimeSpan.FromSeconds(30), "three attempts");

        var attempts = receiver.At("/hooks/retry");
        Assert.Single(attempts.Select(a => a.Id).Distinct()); // webhook-id is stable across retries
        Assert.All(attempts, a => Assert.True(WebhookSigner.Verify(secret, a.Id, a.Timestamp, a.Signature, a.Body, Tolerance)));
        Assert.All(attempts, a => Assert.Equal(attempts[0].Body, a.Body));
        // Backoff from the configured schedule (2 s, then 2 s): attempts are spaced, not immediate. Hangfire keeps
        // schedule times in whole seconds, so a retry may run up to a second before its delay is over.
        Assert.True(attempts[1].At - attempts[0].At >= TimeSpan.FromSeconds(1), $"{attempts[1].At - attempts[0].At}");
        Assert.True(attempts[2].At - attempts[1].At >= TimeSpan.FromSeconds(1), $"{attempts[2].At - attempts[1].At}");

        var id = g.GetProperty("id").GetGuid();
        JsonElement ev = default;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            var log = await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
            ev = log.GetProperty("data").EnumerateArray().Single();
            if (ev.GetProperty("state").GetString() == "delivered") break;
            await Task.Delay(50);
        } while (DateTime.UtcNow < deadline);
        Assert.Equal("delivered", ev.GetProperty("state").GetString());
        Assert.Equal([500, 500, 200], ev.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("status_code").GetInt32()));
        Assert.Equal(attempts[0].Id, ev.GetProperty("webhook_id").GetString());

        // Redelivery: the same event again, same webhook-id, a fourth attempt in the log.
        var redeliver = await alpha.PostAsync($"/v1/generations/{id}/webhook-deliveries/{ev.GetProperty("id").GetGuid()}/redeliver", null);
        Assert.Equal(HttpStatusCode.Accepted, redeliver.StatusCode);
        await receiver.WaitUntilAsync(() => receiver.At("/hooks/retry").Count >= 4, TimeSpan.FromSeconds(30), "redelivery");
        Assert.Equal(attempts[0].Id, receiver.At("/hooks/retry")[3].Id);
    }

    [Fact]
    public async Task A_receiver_that_never_succeeds_is_given_up_after_the_schedule_and_410_stops_at_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = r => r.Path == "/gone" ? 410 : 503;
        using var beta = service.Client(service.BetaKey);
        var failing = await beta.PostAsJsonAsync("/v1/generations", Request(receiver.BaseUrl + "/down", "webhook down", "generation.queued"));
        var gone = await beta.PostAsJsonAsync("/v1/generations", Request(receiver.BaseUrl + "/gone", "webhook gone", "generation.queued"));
        // 1 attempt + 3 retries (2 s, 2 s, 2 s) for the failing one; one attempt for the 410.
        await receiver.WaitUntilAsync(() => receiver.At("/down").Count >= 4, TimeSpan.FromSeconds(30), "four attempts");
        await Task.Delay(3000);
        Assert.Equal(4, receiver.At("/down").Count);
        Assert.Single(receiver.At("/gone"));

        foreach (var (response, attempts) in new[] { (failing, 4), (gone, 1) })
        {
            var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var ev = (await beta.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries")).GetProperty("data")[0];
            Assert.Equal("failed", ev.GetProperty("state").GetString());
            Assert.Equal(attempts, ev.GetProperty("attempts").GetArrayLength());
        }
    }

    [Fact]
    public async Task During_a_secret_rotation_deliveries_carry_two_signatures_that_each_verify()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // Tenant "rotor" has its own secret, so other tests' deliveries are unaffected.
        var key = (await service.Api.Services.GetRequiredService<Tora.Core.Tenancy.ApiKeyStore>().CreateAsync("rotor", false, default)).Key;
        using var client = service.Client(key);
        var old = await SecretAsync(client);
        var rotated = await (await client.PostAsync("/v1/webhooks/secret/rotate", null)).Content.ReadFromJsonAsync<JsonElement>();
        var current = rotated.GetProperty("secret").GetString()!;
        Assert.NotEqual(old, current);
        Assert.Equal(old, rotated.GetProperty("previous_secret").GetString());

        var test = await client.PostAsJsonAsync("/v1/webhooks/test", new { url = receiver.BaseUrl + "/test" });
        var result = await test.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(result.GetProperty("success").GetBoolean(), result.ToString());
        Assert.Equal(204, result.GetProperty("status_code").GetInt32());
        var r = Assert.Single(receiver.At("/test"));
        Assert.Equal(result.GetProperty("webhook_id").GetString(), r.Id);
        Assert.Equal(2, r.Signature.Split(' ').Length);
        Assert.True(WebhookSigner.Verify(current, r.Id, r.Timestamp, r.Signature, r.Body, Tolerance));
        Assert.True(WebhookSigner.Verify(old, r.Id, r.Timestamp, r.Signature, r.Body, Tolerance));
        Assert.Equal("webhook.test", JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_attempt_whose_process_died_mid_request_is_sent_again_and_a_finished_one_is_not()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new
        {
            model = "tora-text", prompt = "crash mid delivery", webhook = new { url = receiver.BaseUrl + "/crash", events = new[] { "generation.queued" } },
        });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await receiver.WaitUntilAsync(() => receiver.At("/crash").Count == 1, TimeSpan.FromSeconds(30), "first delivery");
        var log = await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
        var eventId = log.GetProperty("data")[0].GetProperty("id").GetGuid();

        // Attempt 2 claimed by a process that died before logging it (as a redelivery would claim it).
        await using (var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"UPDATE webhook_events SET state = 'pending', attempts = 2 WHERE id = '{eventId}'"))
            await cmd.ExecuteNonQueryAsync();
        var job = service.Api.Services.GetRequiredService<IWebhookDeliveryJob>();
        await job.DeliverAsync(eventId, 2, default); // Hangfire's re-run of that job
        Assert.Equal(2, receiver.At("/crash").Count);
        await job.DeliverAsync(eventId, 2, default); // and once more: already made and logged
        Assert.Equal(2, receiver.At("/crash").Count);
        Assert.Single(receiver.At("/crash").Select(r => r.Id).Distinct());
        Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync($"/v1/generations/{id}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task Private_targets_are_refused_and_bad_webhook_fields_point_at_the_field()
    {
        using var alpha = service.Client(service.AlphaKey);
        var refused = await alpha.PostAsJsonAsync("/v1/generations", Request("http://10.1.2.3/hook", "private"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("/webhook/url", problem.GetProperty("errors")[0].GetProperty("pointer").GetString());
        Assert.Equal("webhook_target_refused", problem.GetProperty("errors")[0].GetProperty("code").GetString());

        var badEvent = await alpha.PostAsJsonAsync("/v1/generations", Request("https://example.com/hook", "bad event", "generation.exploded"));
        var p2 = await badEvent.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("/webhook/events/0", p2.GetProperty("errors")[0].GetProperty("pointer").GetString());

        var notUrl = await alpha.PostAsJsonAsync("/v1/webhooks/test", new { url = "ftp://example.com/x" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, notUrl.StatusCode);
    }

    private static string Type(ReceivedWebhook r) => JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString()!;
}

public sealed class WebhookUnitTests
{
    [Fact]
    public void Signature_matches_the_standard_webhooks_reference_vector()
    {
        var body = Encoding.UTF8.GetBytes("{\"test\": 2432232314}");
        var secret = WebhookSigner.Parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookSigner.Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body));
    }

    [Fact]
    public void Verify_rejects_old_timestamps_and_wrong_secrets()
    {
        var secret = WebhookSigner.Format(new byte[32]);
        var body = "{}"u8.ToArray();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = WebhookSigner.Header([new byte[32]], "msg_1", now, body);
        Assert.True(WebhookSigner.Verify(secret, "msg_1", now.ToString(), header, body, TimeSpan.FromMinutes(5)));
        var stale = WebhookSigner.Header([new byte[32]], "msg_1", now - 3600, body);
        Assert.False(WebhookSigner.Verify(secret, "msg_1", (now - 3600).ToString(), stale, body, TimeSpan.FromMinutes(5)));
        Assert.False(WebhookSigner.Verify(WebhookSigner.Format(Enumerable.Repeat((byte)1, 32).ToArray()), "msg_1", now.ToString(), header, body, TimeSpan.FromMinutes(5)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080/x", false, false, false)]
    [InlineData("http://localhost/x", false, false, false)]
    [InlineData("http://127.0.0.1:8080/x", true, false, true)]
    [InlineData("http://10.0.0.5/x", true, false, false)]
    [InlineData("http://192.168.1.1/x", false, true, true)]
    [InlineData("http://[::1]/x", false, false, false)]
    [InlineData("http://[fd00::1]/x", false, false, false)]
    [InlineData("http://169.254.169.254/latest/meta-data", false, false, false)]
    [InlineData("https://93.184.215.14/x", false, false, true)]
    [InlineData("https://hooks.example.com/x", false, false, true)]
    [InlineData("file:///etc/passwd", true, true, false)]
    [InlineData("https://user:pw@example.com/x", true, true, false)]
    public void Target_policy_refuses_private_and_loopback_unless_allowed(string url, bool loopback, bool privateNets, bool allowed)
    {
        var policy = new WebhookTargetPolicy(new WebhookOptions { AllowLoopback = loopback, AllowPrivateNetworks = privateNets });
        Assert.Equal(allowed, policy.CheckUrl(url) is null);
    }

    [Fact]
    public async Task An_attempt_that_gets_no_answer_within_the_timeout_fails_as_a_timeout()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Delay = TimeSpan.FromSeconds(5);
        using var sender = new WebhookSender(Microsoft.Extensions.Options.Options.Create(
            new WebhookOptions { AllowLoopback = true, AttemptTimeout = TimeSpan.FromMilliseconds(500) }));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var result = await sender.SendAsync(receiver.BaseUrl + "/slow", "msg_1", "{}"u8.ToArray(), new WebhookSecrets(new byte[32], null, null), default);
        Assert.False(result.Success);
        Assert.Null(result.StatusCode);
        Assert.StartsWith("timeout", result.Error);
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.4, 3);
    }

    [Fact]
    public async Task The_sender_refuses_a_loopback_target_at_connect_time()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // "localhost.": a name (not an IP literal), so only the connect-time check after DNS can refuse it.
        var url = receiver.BaseUrl.Replace("127.0.0.1", "localhost") + "/x";
        using var sender = new WebhookSender(Microsoft.Extensions.Options.Options.Create(new WebhookOptions()));
        var result = await sender.SendAsync(url, "msg_1", "{}"u8.ToArray(), new WebhookSecrets(new byte[32], null, null), default);
        Assert.False(result.Success);
        Assert.StartsWith("target_refused", result.Error);
        Assert.Empty(receiver.Received);
    }
}
