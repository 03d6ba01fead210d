using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Generations;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class CancellationTests(ServiceFixture service)
{
    [Fact]
    public async Task A_queued_generation_is_cancelled_at_once_and_never_starts()
    {
        using var alpha = service.Client(service.AlphaKey);
        // tora-text has no worker: it stays queued. Without a worker its queue takes one released generation at a
        // time (fair scheduling): earlier tests' leftovers are cancelled so that this one gets the Hangfire job.
        var canceller = service.Api.Services.GetRequiredService<Tora.Core.Jobs.GenerationCanceller>();
        await using (var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand("SELECT id FROM generations WHERE queue = 'gen-tora-text' AND status = 'queued'"))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                await canceller.CancelAsync(reader.GetGuid(0), null, "cancelled", "test clean-up", default);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "never to run" });
        var location = created.Headers.Location!.ToString();
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var store = service.Api.Services.GetRequiredService<GenerationStore>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await store.GetAnyAsync(id, default))!.JobId is null && DateTime.UtcNow < deadline) await Task.Delay(20);
        var jobId = (await store.GetAnyAsync(id, default))!.JobId!;

        var cancel = await alpha.PostAsync(location + "/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var body = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("cancelled", body.GetProperty("status").GetString());
        Assert.Equal("cancelled", body.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(0, body.GetProperty("attempts").GetInt32());
        Assert.Equal("Deleted", JobStorage.Current.GetMonitoringApi().JobDetails(jobId).History.First().StateName);

        var again = await alpha.PostAsync(location + "/cancel", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("not_cancellable", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        using var beta = service.Client(service.BetaKey);
        Assert.Equal(HttpStatusCode.NotFound, (await beta.PostAsync(location + "/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alpha.PostAsync("/v1/generations/not-an-id/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task A_running_generation_cancelled_mid_way_stops_within_one_step()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "cancel me slowly", steps = 10 });
        var location = created.Headers.Location!.ToString();
        JsonElement g;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            await Task.Delay(20);
            g = await alpha.GetFromJsonAsync<JsonElement>(location);
        } while (!(g.GetProperty("status").GetString() == "running" && g.GetProperty("progress").GetProperty("step").GetInt32() >= 2) && DateTime.UtcNow < deadline);

        var cancel = await alpha.PostAsync(location + "/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var stepAtCancel = (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("progress").GetProperty("step").GetInt32();
        Assert.True(stepAtCancel >= 2);

        var done = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(30));
        Assert.Equal("cancelled", done.GetProperty("status").GetString());
        // The step in progress when the cancel arrived finishes (it is reported), and no further step starts.
        Assert.InRange(done.GetProperty("progress").GetProperty("step").GetInt32(), stepAtCancel, stepAtCancel + 1);
        Assert.Null(done.GetProperty("urls").GetProperty("video").GetString());
        // The worker is free again: the next job runs.
        var next = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "after a cancel" });
        Assert.Equal("succeeded", (await service.WaitForTerminalAsync(alpha, next.Headers.Location!.ToString(), TimeSpan.FromSeconds(60))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancel_after_cancels_a_generation_that_does_not_finish_in_time()
    {
        using var alpha = service.Client(service.AlphaKey);
        var queued = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "deadline while queued", cancel_after = 1 });
        Assert.Equal(HttpStatusCode.Accepted, queued.StatusCode);
        Assert.Equal(1, (await queued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("input").GetProperty("cancel_after").GetInt32());
        var running = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "deadline while running slowly", steps = 10, cancel_after = 2 });

        var q = await service.WaitForTerminalAsync(alpha, queued.Headers.Location!.ToString(), TimeSpan.FromSeconds(15));
        Assert.Equal("cancelled", q.GetProperty("status").GetString());
        Assert.Equal("deadline_exceeded", q.GetProperty("error").GetProperty("code").GetString());
        var r = await service.WaitForTerminalAsync(alpha, running.Headers.Location!.ToString(), TimeSpan.FromSeconds(60));
        Assert.Equal("cancelled", r.GetProperty("status").GetString());
        Assert.Equal("deadline_exceeded", r.GetProperty("error").GetProperty("code").GetString());
        Assert.True(r.GetProperty("progress").GetProperty("step").GetInt32() < 10);

        var bad = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "x", cancel_after = 0 });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        Assert.Equal("/cancel_after", (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors")[0].GetProperty("pointer").GetString());
    }

    [Fact]
    public async Task Delete_removes_the_record_and_its_files()
    {
        using var alpha = service.Client(service.AlphaKey);
        var created = await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-tiny", prompt = "to be deleted" });
        var location = created.Headers.Location!.ToString();
        var g = await service.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(60));
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        var row = await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(g.GetProperty("id").GetGuid(), default);
        var files = new[] { row!.VideoKey!, row.ThumbnailKey! }.Select(k => Path.Combine(service.BlobRoot, k)).ToArray();
        Assert.All(files, f => Assert.True(File.Exists(f), f));

        Assert.Equal(HttpStatusCode.NoContent, (await alpha.DeleteAsync(location)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alpha.GetAsync(location)).StatusCode);
        Assert.All(files, f => Assert.False(File.Exists(f), f));
    }
}
