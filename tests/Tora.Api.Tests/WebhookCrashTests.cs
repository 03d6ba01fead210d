using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Webhooks;

namespace Tora.Api.Tests;

/// <summary>
/// The delivery log across crashes: an attempt is logged in flight before it is sent, so when the process making it
/// dies, the rerun of its job logs it as interrupted and makes the next attempt (the fault suite kills a real API
/// process; these cases pin the claim rules, including a second crash and a live attempt of another job).
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class WebhookCrashTests(ServiceFixture service)
{
    [Fact]
    public async Task An_attempt_cut_off_by_a_crash_is_logged_interrupted_and_made_again_but_a_live_one_is_left_alone()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new
        {
            model = "tora-text", prompt = "crash twice mid delivery", webhook = new { url = receiver.BaseUrl + "/cut", events = new[] { "generation.queued" } },
        });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await receiver.WaitUntilAsync(() => receiver.At("/cut").Count == 1, TimeSpan.FromSeconds(30), "first delivery");
        var eventId = await WaitDeliveredAsync(alpha, id);
        var job = service.Api.Services.GetRequiredService<IWebhookDeliveryJob>();
        try
        {
            // Attempt 2 in flight in the log, its process dead (Hangfire runs job 2 again): logged interrupted, 3 is sent.
            await CrashedAttemptAsync(eventId, 2, TimeSpan.FromMinutes(1));
            await job.DeliverAsync(eventId, 2, default);
            Assert.Equal(2, receiver.At("/cut").Count);
            // That rerun dies in turn during attempt 4 (it claimed past its own number): job 2 runs again and takes it over.
            await CrashedAttemptAsync(eventId, 4, TimeSpan.FromMinutes(1));
            await job.DeliverAsync(eventId, 2, default);
            Assert.Equal(3, receiver.At("/cut").Count);
            // A later attempt in flight for less than the attempt timeout is alive (another job makes it): a stale job sends nothing.
            await CrashedAttemptAsync(eventId, 6, TimeSpan.Zero);
            await job.DeliverAsync(eventId, 2, default);
            Assert.Equal(3, receiver.At("/cut").Count);

            var attempts = (await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries")).GetProperty("data")[0]
                .GetProperty("attempts").EnumerateArray().ToList();
            Assert.Equal([1, 2, 3, 4, 5, 6], attempts.Select(a => a.GetProperty("attempt").GetInt32()));
            string Outcome(JsonElement a) => a.GetProperty("status_code").ValueKind == JsonValueKind.Number
                ? a.GetProperty("status_code").GetInt32().ToString()
                : a.GetProperty("error").GetString() is { } e ? e.Split(':')[0] : "in flight";
            Assert.Equal(["204", "interrupted", "204", "interrupted", "204", "in flight"], attempts.Select(Outcome));
            Assert.Single(receiver.At("/cut").Select(r => r.Id).Distinct());
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync($"/v1/generations/{id}/cancel", null)).StatusCode);
        }
    }

    [Fact]
    public async Task A_process_that_died_after_logging_a_failed_attempt_but_before_scheduling_the_next_one_loses_nothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new
        {
            model = "tora-text", prompt = "crash before the retry", webhook = new { url = receiver.BaseUrl + "/retry", events = new[] { "generation.queued" } },
        });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await receiver.WaitUntilAsync(() => receiver.At("/retry").Count == 1, TimeSpan.FromSeconds(30), "first delivery");
        var eventId = await WaitDeliveredAsync(alpha, id);
        try
        {
            // Attempt 2 answered 500 and was logged with its retry time, then the process died: no job for attempt 3.
            await using (var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString))
            await using (var batch = db.CreateBatch())
            {
                var reopen = new Npgsql.NpgsqlBatchCommand("UPDATE webhook_events SET state = 'pending', attempts = 2, next_attempt_at = now() WHERE id = $1");
                reopen.Parameters.Add(new() { Value = eventId });
                var failed = new Npgsql.NpgsqlBatchCommand("INSERT INTO webhook_attempts (event_id, attempt, attempted_at, status_code, duration_ms) VALUES ($1, 2, now(), 500, 3)");
                failed.Parameters.Add(new() { Value = eventId });
                batch.BatchCommands.Add(reopen);
                batch.BatchCommands.Add(failed);
                await batch.ExecuteNonQueryAsync();
            }
            // Hangfire runs job 2 again: it sends nothing itself but schedules attempt 3, which delivers.
            await service.Api.Services.GetRequiredService<IWebhookDeliveryJob>().DeliverAsync(eventId, 2, default);
            await receiver.WaitUntilAsync(() => receiver.At("/retry").Count == 2, TimeSpan.FromSeconds(30), "attempt 3");
            await WaitDeliveredAsync(alpha, id);
            var attempts = (await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries")).GetProperty("data")[0]
                .GetProperty("attempts").EnumerateArray().ToList();
            Assert.Equal([204, 500, 204], attempts.Select(a => a.GetProperty("status_code").GetInt32()));
        }
        finally
        {
            Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync($"/v1/generations/{id}/cancel", null)).StatusCode);
        }
    }

    /// <summary>The id of the generation's first webhook event once it has been delivered.</summary>
    private static async Task<Guid> WaitDeliveredAsync(HttpClient client, Guid generation)
    {
        var ev = default(JsonElement);
        await Wait.UntilAsync(async () =>
        {
            ev = (await client.GetFromJsonAsync<JsonElement>($"/v1/generations/{generation}/webhook-deliveries")).GetProperty("data")[0];
            return ev.GetProperty("state").GetString() == "delivered";
        }, TimeSpan.FromSeconds(10), () => $"webhook delivered: {ev}", TimeSpan.FromMilliseconds(50));
        return ev.GetProperty("id").GetGuid();
    }

    /// <summary>The state a process leaves when it dies <paramref name="age"/> into attempt <paramref name="attempt"/>.</summary>
    private async Task CrashedAttemptAsync(Guid eventId, int attempt, TimeSpan age)
    {
        await using var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString);
        await using var batch = db.CreateBatch();
        var reopen = new Npgsql.NpgsqlBatchCommand("UPDATE webhook_events SET state = 'pending', attempts = $2 WHERE id = $1");
        reopen.Parameters.Add(new() { Value = eventId });
        reopen.Parameters.Add(new() { Value = attempt });
        var inFlight = new Npgsql.NpgsqlBatchCommand("INSERT INTO webhook_attempts (event_id, attempt, attempted_at, duration_ms) VALUES ($1, $2, now() - $3, 0)");
        inFlight.Parameters.Add(new() { Value = eventId });
        inFlight.Parameters.Add(new() { Value = attempt });
        inFlight.Parameters.Add(new() { Value = age });
        batch.BatchCommands.Add(reopen);
        batch.BatchCommands.Add(inFlight);
        await batch.ExecuteNonQueryAsync();
    }
}

public sealed class WebhookEndpointSlotsTests
{
    [Fact]
    public void An_endpoint_gets_its_share_of_attempts_in_flight_and_other_endpoints_are_not_held_up()
    {
        var slots = new WebhookEndpointSlots(Microsoft.Extensions.Options.Options.Create(new WebhookOptions { MaxInFlightPerEndpoint = 2 }));
        var first = slots.TryEnter("http://hangs.example/hook");
        using var second = slots.TryEnter("http://hangs.example/hook");
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(slots.TryEnter("http://hangs.example/hook"));
        using (var other = slots.TryEnter("http://healthy.example/hook")) Assert.NotNull(other);
        first!.Dispose();
        first.Dispose(); // giving a slot back twice frees one, not two
        using var third = slots.TryEnter("http://hangs.example/hook");
        Assert.NotNull(third);
        Assert.Null(slots.TryEnter("http://hangs.example/hook"));
    }
}
