using System.Text.Json;
using Npgsql;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.TestSupport;

namespace Tora.Core.Tests.Generations;

/// <summary>
/// The resource, the SSE data and the webhook body come from one mapper (GenerationPayloads), and the trigger only
/// records the row's state: events written before migration 0006 (rendered by the old trigger) read the same after it.
/// </summary>
public sealed class GenerationPayloadsTests() : DatabaseTest("tora_payloads", migrate: false)
{
    private static Generation Running(DateTimeOffset started) => new()
    {
        Id = Guid.CreateVersion7(), Tenant = "t", Status = GenerationStatus.Running, Queue = "gen-x", CreatedAt = started.AddSeconds(-2),
        StartedAt = started, Phase = "denoise", Step = 2, TotalSteps = 8, Attempts = 1,
        Input = new GenerationInput { Model = "x", Prompt = "p", NumFrames = 9, Width = 16, Height = 16, Steps = 8, GuidanceScale = 6, DynamicCfg = true, Seed = 1, Fps = 8 },
    };

    [Fact]
    public void The_progress_event_and_the_resource_show_the_same_progress_at_the_same_moment()
    {
        var started = new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);
        var g = Running(started);
        var at = started.AddSeconds(5); // 2.5 s a step, 6 steps left
        var progress = Assert.IsType<GenerationProgressEvent>(GenerationPayloads.EventData(GenerationPayloads.ProgressEvent, g, at));
        var resource = g.ToResource(now: at);
        Assert.Equal(15.0, progress.EtaSeconds);
        Assert.Equal(25.0, progress.Percent);
        Assert.Equal((resource.Progress.Phase, resource.Progress.Step, resource.Progress.TotalSteps, resource.Progress.Percent, resource.Progress.EtaSeconds),
            (progress.Phase, progress.Step, progress.TotalSteps, progress.Percent, progress.EtaSeconds));
        // Not running: no ETA anywhere.
        Assert.Null(Assert.IsType<GenerationProgressEvent>(GenerationPayloads.EventData(GenerationPayloads.ProgressEvent, g with { Status = GenerationStatus.Queued }, at)).EtaSeconds);
    }

    [Fact]
    public void A_webhook_body_has_the_event_time_in_milliseconds_the_links_and_the_error_only_with_its_status()
    {
        var started = new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);
        var failed = Running(started) with { Status = GenerationStatus.Failed, ErrorCode = "model_unavailable", ErrorMessage = "no package",
            Input = Running(started).Input with { Metadata = new Dictionary<string, string> { ["order"] = "A-17" } } };
        var at = new DateTimeOffset(2026, 12, 7, 10, 0, 1, 234, TimeSpan.FromHours(1)).AddTicks(5678);
        var body = JsonSerializer.SerializeToElement(GenerationPayloads.Webhook("generation.failed", failed, at), GenerationPayloads.Json);
        Assert.Equal("generation.failed", body.GetProperty("type").GetString());
        Assert.Equal("2026-12-07T09:00:01.234Z", body.GetProperty("timestamp").GetString());
        var data = body.GetProperty("data");
        Assert.Equal("generation", data.GetProperty("object").GetString());
        Assert.Equal("failed", data.GetProperty("status").GetString());
        Assert.Equal("model_unavailable", data.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("A-17", data.GetProperty("metadata").GetProperty("order").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("urls").GetProperty("video").ValueKind);

        // The running event of the same generation, rendered later: its own status, no error.
        var running = JsonSerializer.SerializeToElement(GenerationPayloads.Webhook("generation.running", failed, at), GenerationPayloads.Json).GetProperty("data");
        Assert.Equal("running", running.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, running.GetProperty("error").ValueKind);
        var succeeded = GenerationPayloads.Webhook("generation.succeeded", failed with { Status = GenerationStatus.Succeeded, ErrorCode = null }, at).Data;
        Assert.Equal($"/v1/generations/{failed.Id}/video", succeeded.Urls.Video);
    }

    [Fact]
    public async Task Events_and_webhook_bodies_written_before_migration_0006_read_the_same_after_it()
    {
        // The schema as it was before: migrations 1-5, with the trigger that rendered the payloads in SQL.
        var before = DatabaseMigrator.Migrations.Where(m => m.Version < 6).ToList();
        await Sql("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        foreach (var (version, name, sql) in before)
        {
            await Sql(sql);
            await Sql($"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')");
        }
        var store = new GenerationStore(Db);
        var g = Running(DateTimeOffset.UtcNow) with
        {
            Status = GenerationStatus.Queued, StartedAt = null, Phase = null, Step = 0,
            Input = Running(DateTimeOffset.UtcNow).Input with
            {
                Metadata = new Dictionary<string, string> { ["order"] = "A-17" },
                Webhook = new WebhookSpec("https://example.com/hook", ["generation.running", "generation.failed"]),
            },
        };
        await store.InsertAsync(g, default);
        await Sql($"UPDATE generations SET status = 'running', started_at = now() - interval '4 seconds', phase = 'starting', attempts = 1 WHERE id = '{g.Id}'");
        await Sql($"UPDATE generations SET phase = 'denoise', step = 2 WHERE id = '{g.Id}'");
        await Sql($"UPDATE generations SET status = 'failed', finished_at = now(), error_code = 'inference_failed', error_message = 'boom' WHERE id = '{g.Id}'");
        var oldEvents = await Rows($"SELECT seq, type, data::text FROM generation_events WHERE generation_id = '{g.Id}' ORDER BY seq");
        var oldHooks = await Rows($"SELECT id::text, type, payload::text FROM webhook_events WHERE generation_id = '{g.Id}' ORDER BY type");
        Assert.Equal(["status", "status", "progress", "status"], oldEvents.Select(e => e[1]));
        Assert.Equal(["generation.failed", "generation.running"], oldHooks.Select(h => h[1]));

        Assert.Equal(["0006_event_facts"], await DatabaseMigrator.MigrateAsync(Db));

        var stored = (await store.GetAnyAsync(g.Id, default))!;
        var events = await store.ReadEventsAsync(stored, 0, 100, default);
        Assert.Equal(oldEvents.Select(e => long.Parse(e[0])), events.Select(e => e.Seq));
        foreach (var (old, now) in oldEvents.Zip(events))
        {
            var rendered = JsonSerializer.SerializeToElement(GenerationPayloads.EventData(now.Type, now.Generation, now.At), GenerationPayloads.Json);
            // The ETA of an old progress event is recomputed from its time and the start (within a tenth of a second).
            AssertSameJson(JsonDocument.Parse(old[2]).RootElement, rendered, tolerance: old[1] == "progress" ? 0.15 : 0);
        }

        var webhooks = new Tora.Core.Webhooks.WebhookStore(Db);
        foreach (var old in oldHooks)
        {
            var ev = (await webhooks.GetEventAsync(Guid.Parse(old[0]), default))!;
            var rendered = JsonSerializer.SerializeToElement(GenerationPayloads.Webhook(ev.Type, stored, ev.CreatedAt), GenerationPayloads.Json);
            AssertSameJson(JsonDocument.Parse(old[2]).RootElement, rendered, tolerance: 0);
        }

        // New changes are recorded by the slim trigger and render the same way.
        await Sql($"UPDATE generations SET status = 'expired' WHERE id = '{g.Id}'");
        var last = (await store.ReadEventsAsync(stored, events[^1].Seq, 100, default)).Single();
        var expired = Assert.IsType<GenerationStatusEvent>(GenerationPayloads.EventData(last.Type, last.Generation, last.At));
        Assert.Equal((GenerationStatus.Expired, "denoise", 2, 1, null), (expired.Status, expired.Phase, expired.Step, expired.Attempts, expired.Error));
    }

    /// <summary>Equal as JSON (key order and number spelling aside); numbers within <paramref name="tolerance"/>.</summary>
    private static void AssertSameJson(JsonElement expected, JsonElement actual, double tolerance)
    {
        Assert.Equal(expected.ValueKind, actual.ValueKind);
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                Assert.Equal(expected.EnumerateObject().Select(p => p.Name).Order(), actual.EnumerateObject().Select(p => p.Name).Order());
                foreach (var p in expected.EnumerateObject()) AssertSameJson(p.Value, actual.GetProperty(p.Name), tolerance);
                break;
            case JsonValueKind.Number:
                Assert.InRange(actual.GetDouble(), expected.GetDouble() - tolerance, expected.GetDouble() + tolerance);
                break;
            default:
                Assert.Equal(expected.ToString(), actual.ToString());
                break;
        }
    }

    private async Task Sql(string sql)
    {
        await using var cmd = Db.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<List<string[]>> Rows(string sql)
    {
        await using var cmd = Db.CreateCommand(sql);
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<string[]>();
        while (await r.ReadAsync()) rows.Add(Enumerable.Range(0, r.FieldCount).Select(i => r.GetValue(i).ToString()!).ToArray());
        return rows;
    }
}
