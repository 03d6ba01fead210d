using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Tora.Api.Tests;

/// <summary>One parsed Server-Sent Event (comments are kept as type ":").</summary>
public sealed record SseEvent(string? Id, string Type, string Data);

[Collection(ServiceCollection.Name)]
public sealed class IdempotencyTests(ServiceFixture service)
{
    private static HttpRequestMessage Post(string key, string json)
    {
        var m = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        m.Headers.Add("Idempotency-Key", key);
        return m;
    }

    [Fact]
    public async Task Same_key_and_payload_replays_the_same_generation_and_a_changed_payload_is_422()
    {
        using var alpha = service.Client(service.AlphaKey);
        var key = Guid.NewGuid().ToString();
        var first = await alpha.SendAsync(Post($"\"{key}\"", """{"model":"tora-text","prompt":"idempotent","seed":3,"metadata":{"a":"1","b":"2"}}"""));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        // Same payload, other whitespace and key order, bare key: the same generation, marked as a replay.
        var again = await alpha.SendAsync(Post(key, """{ "metadata": {"b":"2","a":"1"}, "seed": 3, "prompt": "idempotent", "model": "tora-text" }"""));
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(id, (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.Equal($"/v1/generations/{id}", again.Headers.Location!.ToString());

        var changed = await alpha.SendAsync(Post(key, """{"model":"tora-text","prompt":"idempotent","seed":4}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, changed.StatusCode);
        Assert.Equal("idempotency_key_reused", (await changed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());

        // Keys are per tenant.
        using var beta = service.Client(service.BetaKey);
        var other = await beta.SendAsync(Post(key, """{"model":"tora-text","prompt":"idempotent","seed":3,"metadata":{"a":"1","b":"2"}}"""));
        Assert.Equal(HttpStatusCode.Accepted, other.StatusCode);
        var otherId = (await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        Assert.NotEqual(id, otherId);

        // After expiry the key is free again: a new generation.
        await using (var db = NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE tenant = 'alpha' AND key = '{key}'"))
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        var afterExpiry = await alpha.SendAsync(Post(key, """{"model":"tora-text","prompt":"idempotent","seed":4}"""));
        Assert.Equal(HttpStatusCode.Accepted, afterExpiry.StatusCode);
        Assert.False(afterExpiry.Headers.Contains("Idempotent-Replayed"));
        var newId = (await afterExpiry.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        Assert.NotEqual(id, newId);

        // Leave no queued work behind (queue positions in other tests).
        foreach (var (client, g) in new[] { (alpha, id), (alpha, newId), (beta, otherId) })
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/generations/{g}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task A_key_in_flight_answers_409_and_bad_keys_400()
    {
        using var alpha = service.Client(service.AlphaKey);
        var key = "in-flight-" + Guid.NewGuid();
        await using (var db = NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"INSERT INTO idempotency_keys (tenant, key, fingerprint, expires_at) VALUES ('alpha', '{key}', '\\x00', now() + interval '1 hour')"))
            await cmd.ExecuteNonQueryAsync();
        var busy = await alpha.SendAsync(Post(key, """{"model":"tora-text","prompt":"busy"}"""));
        Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);
        Assert.Equal("idempotency_key_in_flight", (await busy.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), busy.Headers.RetryAfter!.Delta);

        var tooLong = await alpha.SendAsync(Post(new string('k', 256), """{"model":"tora-text","prompt":"x"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("invalid_idempotency_key", (await tooLong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
    }
}

[Collection(ServiceCollection.Name)]
public sealed class PreferWaitTests(ServiceFixture service)
{
    [Fact]
    public async Task Prefer_wait_answers_201_with_the_finished_resource_when_it_finishes_in_time_else_202()
    {
        using var alpha = service.Client(service.AlphaKey);
        var m = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { model = "tora-tiny", prompt = "wait for me" }) };
        m.Headers.Add("Prefer", "wait=30");
        var done = await alpha.SendAsync(m);
        Assert.Equal(HttpStatusCode.Created, done.StatusCode);
        Assert.Equal("wait=30", done.Headers.GetValues("Preference-Applied").Single());
        var body = await done.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("succeeded", body.GetProperty("status").GetString());
        Assert.NotNull(body.GetProperty("urls").GetProperty("video").GetString());

        var slow = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { model = "tora-text", prompt = "no worker" }) };
        slow.Headers.Add("Prefer", "respond-async, wait=1");
        var sw = Stopwatch.StartNew();
        var pending = await alpha.SendAsync(slow);
        Assert.Equal(HttpStatusCode.Accepted, pending.StatusCode);
        Assert.InRange(sw.Elapsed.TotalSeconds, 0.9, 10);
        Assert.Equal("queued", (await pending.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync(pending.Headers.Location + "/cancel", null)).StatusCode);
    }
}

[Collection(ServiceCollection.Name)]
public sealed class EventStreamTests(ServiceFixture service)
{
    [Fact]
    public async Task Events_resume_after_a_disconnect_without_gaps_or_repeats()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "stream me slowly", steps = 6 });
        var location = created.Headers.Location!.ToString();

        // First connection: read until step 2 has been reported, then drop the connection.
        var firstPart = new List<SseEvent>();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await foreach (var e in ReadAsync(alpha, location + "/events", null, cts.Token))
            {
                firstPart.Add(e);
                if (e.Type == "progress" && JsonDocument.Parse(e.Data).RootElement.GetProperty("step").GetInt32() >= 2) break;
            }
        }
        await Task.Delay(900); // more steps happen while disconnected

        var lastId = firstPart.Last(e => e.Id is not null).Id!;
        var rest = new List<SseEvent>();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            await foreach (var e in ReadAsync(alpha, location + "/events", lastId, cts.Token)) rest.Add(e);

        var resumed = firstPart.Concat(rest).Where(e => e.Id is not null).ToList();
        var ids = resumed.Select(e => long.Parse(e.Id!)).ToList();
        Assert.Equal(ids.Distinct().Count(), ids.Count);
        Assert.True(ids.Zip(ids.Skip(1)).All(p => p.First < p.Second));

        // A fresh stream of the finished generation replays the whole log: the resumed streams saw exactly it.
        var full = new List<SseEvent>();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await foreach (var e in ReadAsync(alpha, location + "/events", null, cts.Token)) if (e.Id is not null) full.Add(e);
        Assert.Equal(full, resumed);

        var statuses = full.Where(e => e.Type == "status").Select(e => JsonDocument.Parse(e.Data).RootElement.GetProperty("status").GetString()).ToList();
        Assert.Equal(["queued", "running", "succeeded"], statuses);
        var steps = full.Where(e => e.Type == "progress").Select(e => JsonDocument.Parse(e.Data).RootElement)
            .Where(d => d.GetProperty("phase").GetString() == "denoise").Select(d => d.GetProperty("step").GetInt32()).Distinct().ToList();
        Assert.Equal(Enumerable.Range(0, 7), steps);
        var step3 = full.Select(e => JsonDocument.Parse(e.Data).RootElement).First(d => d.TryGetProperty("eta_seconds", out _) && d.GetProperty("step").GetInt32() == 3);
        Assert.True(step3.GetProperty("eta_seconds").GetDouble() > 0);
        Assert.Equal(50.0, step3.GetProperty("percent").GetDouble());
    }

    [Fact]
    public async Task Another_api_instance_streams_the_progress_of_any_worker()
    {
        // The generation runs on the tora-tiny worker; the stream is served by the second API instance (S3 one),
        // which learns of each step only through PostgreSQL NOTIFY.
        var other = await service.S3Async();
        using var alpha = service.Client(service.AlphaKey);
        using var viaOther = other.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "watched from elsewhere", steps = 5 });
        var events = new List<SseEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var e in ReadAsync(viaOther, created.Headers.Location + "/events", null, cts.Token)) events.Add(e);
        Assert.Equal("succeeded", JsonDocument.Parse(events.Last().Data).RootElement.GetProperty("status").GetString());
        Assert.Equal(Enumerable.Range(0, 6), events.Where(e => e.Type == "progress").Select(e => JsonDocument.Parse(e.Data).RootElement)
            .Where(d => d.GetProperty("phase").GetString() == "denoise").Select(d => d.GetProperty("step").GetInt32()).Distinct());

        // Prefer: wait on that instance never polls: only a NOTIFY from the worker's connection can end the wait early.
        var m = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { model = "tora-tiny", prompt = "notify me" }) };
        m.Headers.Add("Prefer", "wait=30");
        var sw = Stopwatch.StartNew();
        var done = await viaOther.SendAsync(m);
        Assert.Equal(HttpStatusCode.Created, done.StatusCode);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task A_queued_stream_sends_its_queue_position_and_heartbeats_then_ends_on_cancel()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "queued stream" });
        var location = created.Headers.Location!.ToString();
        var seen = new List<SseEvent>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var cancelled = false;
        await foreach (var e in ReadAsync(alpha, location + "/events", null, cts.Token))
        {
            seen.Add(e);
            if (e.Type == ":" && !cancelled)
            {
                cancelled = true;
                Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync(location + "/cancel", null)).StatusCode);
            }
        }
        Assert.True(JsonDocument.Parse(seen.First(e => e.Type == "queue").Data).RootElement.GetProperty("queue_position").GetInt32() >= 0);
        Assert.Contains(seen, e => e.Type == ":" && e.Data == "heartbeat");
        Assert.Equal("cancelled", JsonDocument.Parse(seen.Last().Data).RootElement.GetProperty("status").GetString());

        using var beta = service.Client(service.BetaKey);
        Assert.Equal(HttpStatusCode.NotFound, (await beta.GetAsync(location + "/events")).StatusCode);
        var bad = new HttpRequestMessage(HttpMethod.Get, location + "/events");
        bad.Headers.Add("Last-Event-ID", "abc");
        Assert.Equal(HttpStatusCode.BadRequest, (await alpha.SendAsync(bad)).StatusCode);
    }

    /// <summary>Reads an SSE stream until the server closes it (or the caller stops enumerating).</summary>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(HttpClient client, string url, string? lastEventId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        string? id = null, type = null, data = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith(':')) { yield return new SseEvent(null, ":", line[1..].Trim()); continue; }
            if (line.Length == 0)
            {
                if (data is not null) yield return new SseEvent(id, type ?? "message", data);
                id = type = data = null;
                continue;
            }
            var colon = line.IndexOf(':');
            var (field, value) = colon < 0 ? (line, "") : (line[..colon], line[(colon + 1)..].TrimStart());
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data = data is null ? value : data + "\n" + value; break;
            }
        }
    }
}
