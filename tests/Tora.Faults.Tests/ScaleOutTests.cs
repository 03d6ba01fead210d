using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// Faults 5 and 6 of issue 11 on a real two-API, two-worker deployment: an API instance killed or stopped under an
/// SSE stream (the client resumes on the other instance with <c>Last-Event-ID</c> and misses nothing), jobs spread
/// over both workers with progress visible through either API, and a worker's graceful shutdown handing its job back.
/// </summary>
[Collection(ScaleOutCollection.Name)]
public sealed class ScaleOutTests(ScaleOutFixture fx, ITestOutputHelper output)
{
    /// <summary>A long job: on the tiny model a step takes ~25 ms, so the loop lasts seconds even on an idle machine.</summary>
    private const int LongSteps = 160;

    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(75);

    [Fact]
    public async Task Jobs_spread_over_both_workers_and_each_jobs_progress_is_visible_through_either_api()
    {
        await fx.EnsureAllUpAsync();
        using var a = fx.ApiA.Client(fx.AlphaKey);
        using var b = fx.ApiB.Client(fx.AlphaKey);
        using var sseA = fx.ApiA.Client(fx.AlphaKey, Timeout.InfiniteTimeSpan);
        using var sseB = fx.ApiB.Client(fx.AlphaKey, Timeout.InfiniteTimeSpan);
        var load = new LoadCounter();

        // Two long jobs, one through each API. A worker runs one job at a time, so each of the two takes one.
        var viaA = await load.SubmitAsync(a, LongSteps, 11);
        var viaB = await load.SubmitAsync(b, LongSteps, 12);
        Assert.NotNull(viaA);
        Assert.NotNull(viaB);
        // Each job's progress, made on either worker, advances live through either API (GET and SSE), the other
        // instance than the one that accepted it included.
        var seen = await Task.WhenAll(WatchProgressAsync(b, sseB, viaA.Value), WatchProgressAsync(a, sseA, viaB.Value),
            WatchProgressAsync(a, sseA, viaA.Value), WatchProgressAsync(b, sseB, viaB.Value));
        var runningOn = await RowWorkersAsync([viaA.Value, viaB.Value]);
        Assert.True(runningOn[viaA.Value] != runningOn[viaB.Value], $"both long jobs ran on {runningOn[viaA.Value]}");
        var crossNote = $"job via api-a on {runningOn[viaA.Value]} seen through api-b: {seen[0]}, through api-a: {seen[2]}; " +
                        $"job via api-b on {runningOn[viaB.Value]} seen through api-a: {seen[1]}, through api-b: {seen[3]}";
        output.WriteLine(crossNote);

        // The bounded load, alternately through both APIs (queued behind the long jobs, then shared by the workers).
        var n = FaultLoad.Requests(8);
        var ids = new List<Guid> { viaA.Value, viaB.Value };
        for (var i = 0; i < n; i++)
            if (await load.SubmitAsync(i % 2 == 0 ? a : b, 2, 100 + i) is { } id) ids.Add(id);
        Assert.Equal(0, load.ServerErrors);
        Assert.Equal(n + 2, load.Accepted);

        await WaitTerminalAsync(ids, JobTimeout + TimeSpan.FromSeconds(30));
        var perWorker = new Dictionary<string, int>();
        var (completed, duplicated) = (0, 0);
        for (var i = 0; i < ids.Count; i++)
        {
            var g = await (i % 2 == 0 ? b : a).GetFromJsonAsync<JsonElement>($"/v1/generations/{ids[i]}");
            Assert.True(g.GetProperty("status").GetString() == "succeeded", $"{g}\n{fx.Cluster.Logs()}");
            Assert.Equal(1, g.GetProperty("attempts").GetInt32());
            var worker = g.GetProperty("reproducibility").GetProperty("worker").GetString()!;
            perWorker[worker] = perWorker.GetValueOrDefault(worker) + 1;
            var (terminal, objects) = (await TerminalEventsAsync(ids[i]), fx.StoredObjects(ids[i]));
            Assert.Equal(1, terminal);
            Assert.Equal(["thumbnail.jpg", "video.mp4"], objects);
            completed++;
            duplicated += terminal - 1 + objects.Count(o => o == "video.mp4") - 1;
        }
        Assert.Equal(2, perWorker.Count);
        Assert.All(perWorker.Values, count => Assert.True(count >= 1));

        new FaultFigures("Scale-out: two APIs, two workers; progress watched through the other API", load.Sent, load.Accepted, completed,
            load.Accepted - completed, duplicated, load.ServerErrors,
            $"jobs per worker: {string.Join(", ", perWorker.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"))}; " +
            $"live progress through the other API: {seen[0]} / {seen[1]}").Report(output);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_sse_client_resumes_on_the_other_api_with_last_event_id_and_misses_nothing(bool kill)
    {
        await fx.EnsureAllUpAsync();
        using var a = fx.ApiA.Client(fx.AlphaKey);
        using var b = fx.ApiB.Client(fx.AlphaKey);
        using var sseA = fx.ApiA.Client(fx.AlphaKey, Timeout.InfiniteTimeSpan);
        using var sseB = fx.ApiB.Client(fx.AlphaKey, Timeout.InfiniteTimeSpan);
        var load = new LoadCounter();
        var id = await load.SubmitAsync(a, LongSteps, 21);
        Assert.NotNull(id);
        var path = $"/v1/generations/{id}/events";

        // Stream from api-a until a few denoising steps came in, then take api-a away under the open stream.
        await using var first = SseReader.Start(sseA, path, null, JobTimeout);
        Assert.True(await first.WaitForAsync(e => e.Count(x => x.Type == "progress" && x.Json.GetProperty("step").GetInt32() >= 1) >= 5, JobTimeout),
            $"no progress on api-a's stream: {first.End}\n{fx.Cluster.Logs()}");
        var stop = Stopwatch.StartNew();
        if (kill) fx.ApiA.Process.KillHard();
        else fx.ApiA.Process.Stop();
        var stopSeconds = stop.Elapsed.TotalSeconds;
        Assert.True(fx.ApiA.Process.Process.HasExited);
        Assert.True(await first.WaitForEndAsync(TimeSpan.FromSeconds(10)), "api-a's stream did not end when api-a went away");
        var before = first.Events.Where(e => e.Id is not null).ToList();
        Assert.DoesNotContain(before, e => e.IsTerminal); // the fault landed mid-stream
        output.WriteLine($"api-a {(kill ? "killed" : "stopped")} after {before.Count} events ({stopSeconds:F1} s to exit); its stream ended: {first.End}");
        if (!kill) Assert.True(stopSeconds < 10, $"api-a took {stopSeconds:F1} s to stop with an SSE stream open");

        // The client reconnects to api-b with the id of the last event it got, and reads to the end.
        await using var resumed = SseReader.Start(sseB, path, before[^1].Id, JobTimeout);
        Assert.True(await resumed.WaitForEndAsync(JobTimeout), "the resumed stream did not end");
        Assert.Equal(200, resumed.StatusCode);
        Assert.Equal("closed", resumed.End);
        var after = resumed.Events.Where(e => e.Id is not null).ToList();

        // The whole log, read afterwards through api-b without Last-Event-ID, and from the database.
        await using var whole = SseReader.Start(sseB, path, null, TimeSpan.FromSeconds(30));
        Assert.True(await whole.WaitForEndAsync(TimeSpan.FromSeconds(30)));
        var all = whole.Events.Where(e => e.Id is not null).Select(e => e.Id!.Value).ToList();
        Assert.Equal(await EventIdsAsync(id.Value), all);

        var received = before.Concat(after).Select(e => e.Id!.Value).ToList();
        var duplicated = received.Count - received.Distinct().Count();
        var missed = all.Except(received).Count();
        Assert.Equal(all, received); // in order: no gap, no repeat
        var terminal = before.Concat(after).Where(e => e.IsTerminal).ToList();
        Assert.Single(terminal);
        Assert.Equal("succeeded", terminal[0].Json.GetProperty("status").GetString());
        Assert.Same(terminal[0], after[^1]);

        // api-a comes back on its address and serves the generation and its stream again.
        var restart = Stopwatch.StartNew();
        await fx.ApiA.RestartAsync();
        var restartSeconds = restart.Elapsed.TotalSeconds;
        using var a2 = fx.ApiA.Client(fx.AlphaKey);
        var g = await a2.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        using var sseA2 = fx.ApiA.Client(fx.AlphaKey, Timeout.InfiniteTimeSpan);
        await using var again = SseReader.Start(sseA2, path, before[^1].Id, TimeSpan.FromSeconds(30));
        Assert.True(await again.WaitForEndAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(after.Select(e => e.Id), again.Events.Where(e => e.Id is not null).Select(e => e.Id));
        Assert.Equal(["thumbnail.jpg", "video.mp4"], fx.StoredObjects(id.Value));

        new FaultFigures($"API instance {(kill ? "killed (SIGKILL)" : "stopped (SIGTERM)")} during SSE; client resumed on the other with Last-Event-ID",
            load.Sent, load.Accepted, 1, missed, duplicated, load.ServerErrors,
            $"{before.Count} events before the {(kill ? "kill" : "stop")}, {after.Count} resumed on api-b, {all.Count} in the log; " +
            $"api-a exited in {stopSeconds:F1} s, back in {restartSeconds:F1} s").Report(output);
    }

    [Fact]
    public async Task A_worker_stopped_gracefully_hands_its_job_back_and_the_other_worker_completes_it_once()
    {
        await fx.EnsureAllUpAsync();
        using var a = fx.ApiA.Client(fx.AlphaKey);
        using var b = fx.ApiB.Client(fx.AlphaKey);
        var load = new LoadCounter();
        var id = (await load.SubmitAsync(a, LongSteps, 31))!.Value;
        await WaitAsync(b, id, g => Step(g) >= 5, "long job running");
        var victimName = (await RowWorkersAsync([id]))[id];
        var victim = fx.Workers.Single(w => w.Name == victimName);
        var other = fx.Workers.Single(w => w.Name != victimName).Name;

        var termAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        using (var term = Process.Start("kill", ["-TERM", victim.Process.Id.ToString()])!) await term.WaitForExitAsync();

        // The worker exits by itself, with 0, within its host's shutdown timeout (45 s). Usually in a second or two;
        // up to Hangfire's 30 s shutdown timeout when one of its dispatchers is polling for a distributed lock that a
        // killed process left behind (Hangfire.PostgreSql's lock wait cannot be cancelled; the lock goes stale after
        // a minute). The job is handed back at once either way.
        Assert.True(await Task.Run(() => victim.Process.WaitForExit(50_000)), $"{victimName} did not exit after SIGTERM\n{victim.Log}");
        var exitSeconds = clock.Elapsed.TotalSeconds;
        Assert.True(victim.Process.ExitCode == 0, $"{victimName} exited with {victim.Process.ExitCode}\n{victim.Log}");

        await WaitTerminalAsync([id], JobTimeout);
        var g = await b.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
        Assert.True(g.GetProperty("status").GetString() == "succeeded", $"{g}\n{fx.Cluster.Logs()}");
        var ranOn = g.GetProperty("reproducibility").GetProperty("worker").GetString();
        var attempts = g.GetProperty("attempts").GetInt32();
        var statusEvents = await StatusEventsAsync(id);
        var statuses = statusEvents.Select(e => e.Status).ToList();
        // When the row went back to the queue and when the other worker claimed it, from the event log's timestamps
        // (same clock: the database runs on this machine), counted from the SIGTERM.
        var queuedAt = statuses.Count == 5 ? (statusEvents[2].At - termAt).TotalSeconds : (double?)null;
        var takenAt = statuses.Count == 5 ? (statusEvents[3].At - termAt).TotalSeconds : (double?)null;
        if (ranOn == other)
        {
            // Handed back: the row went back to queued at once (clients see it waiting, not stuck running on a
            // worker that is gone), and the other worker took it within seconds, long before the 1-minute
            // invisibility timeout that would otherwise have freed it.
            Assert.Equal(2, attempts);
            Assert.Equal(["queued", "running", "queued", "running", "succeeded"], statuses);
            Assert.True(takenAt < 15, $"taken by {other} only after {takenAt} s");
        }
        else
        {
            Assert.Equal(victimName, ranOn);
            Assert.Equal(1, attempts);
            Assert.Equal(["queued", "running", "succeeded"], statuses);
        }
        Assert.Equal(1, await TerminalEventsAsync(id));
        Assert.Equal(["thumbnail.jpg", "video.mp4"], fx.StoredObjects(id));

        new FaultFigures("Worker stopped gracefully (SIGTERM) mid-job", load.Sent, load.Accepted, 1, 0, 0, load.ServerErrors,
            (ranOn == other ? $"handed back: queued again {queuedAt:F2} s after SIGTERM, claimed by the other worker after {takenAt:F2} s" : "finished on the stopping worker") +
            $"; {victimName} exited 0 in {exitSeconds:F1} s; attempts {attempts}").Report(output);
    }

    private async Task<string> WatchProgressAsync(HttpClient client, HttpClient sseClient, Guid id)
    {
        await WaitAsync(client, id, g => Step(g) >= 1, "running");
        await using var sse = SseReader.Start(sseClient, $"/v1/generations/{id}/events", null, JobTimeout);
        // Once the stream is open, anything beyond the step a GET shows now is live progress, not replayed history.
        Assert.True(await sse.WaitForAsync(e => e.Count > 0, TimeSpan.FromSeconds(30)), $"no events: {sse.End}");
        var g0 = await client.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
        Assert.Equal("running", g0.GetProperty("status").GetString());
        var s0 = Step(g0);
        Assert.True(await sse.WaitForAsync(e => e.Count(x => x.Type == "progress" && x.Json.GetProperty("step").GetInt32() > s0) >= 3, JobTimeout),
            $"no live progress beyond step {s0}: {sse.End}\n{fx.Cluster.Logs()}");
        var live = sse.Events.Where(x => x.Type == "progress").Select(x => x.Json.GetProperty("step").GetInt32()).Where(s => s > s0).ToList();
        Assert.True(live.Zip(live.Skip(1)).All(p => p.Second > p.First), string.Join(",", live));
        var g1 = await WaitAsync(client, id, g => Step(g) > s0, "step advancing");
        return $"SSE {live.Count} live steps past {s0}, GET step {s0}→{Step(g1)}";
    }

    private static int Step(JsonElement g) =>
        g.GetProperty("status").GetString() == "running" && g.GetProperty("progress").GetProperty("phase").GetString() == "denoise"
            ? g.GetProperty("progress").GetProperty("step").GetInt32() : -1;

    private Task<JsonElement> WaitAsync(HttpClient client, Guid id, Func<JsonElement, bool> condition, string what) =>
        GenerationPolling.WaitUntilAsync(client, $"/v1/generations/{id}", condition, what, JobTimeout, _ => Task.FromResult(fx.Cluster.Logs()));

    /// <summary>Waits until the database has none of <paramref name="ids"/> queued or running.</summary>
    private async Task WaitTerminalAsync(IReadOnlyList<Guid> ids, TimeSpan timeout)
    {
        await using var db = fx.Database();
        long open = 0;
        await Wait.UntilAsync(async () =>
        {
            await using var cmd = db.CreateCommand("SELECT count(*) FROM generations WHERE id = ANY($1) AND status IN ('queued', 'running')");
            cmd.Parameters.Add(new() { Value = ids.ToArray() });
            open = (long)(await cmd.ExecuteScalarAsync())!;
            return open == 0;
        }, timeout, () => $"{open} of {ids.Count} generations unfinished\n{fx.Cluster.Logs()}", TimeSpan.FromMilliseconds(200));
    }

    private async Task<Dictionary<Guid, string?>> RowWorkersAsync(Guid[] ids)
    {
        await using var db = fx.Database();
        await using var cmd = db.CreateCommand("SELECT id, worker FROM generations WHERE id = ANY($1)");
        cmd.Parameters.Add(new() { Value = ids });
        var result = new Dictionary<Guid, string?>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) result[r.GetGuid(0)] = r.IsDBNull(1) ? null : r.GetString(1);
        return result;
    }

    private async Task<int> TerminalEventsAsync(Guid id)
    {
        await using var db = fx.Database();
        await using var cmd = db.CreateCommand("""
            SELECT count(*) FROM generation_events
            WHERE generation_id = $1 AND type = 'status' AND data->>'status' IN ('succeeded', 'failed', 'cancelled', 'expired')
            """);
        cmd.Parameters.Add(new() { Value = id });
        return (int)(long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task<List<long>> EventIdsAsync(Guid id)
    {
        await using var db = fx.Database();
        await using var cmd = db.CreateCommand("SELECT seq FROM generation_events WHERE generation_id = $1 ORDER BY seq");
        cmd.Parameters.Add(new() { Value = id });
        var list = new List<long>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(r.GetInt64(0));
        return list;
    }

    private async Task<List<(string Status, DateTimeOffset At)>> StatusEventsAsync(Guid id)
    {
        await using var db = fx.Database();
        await using var cmd = db.CreateCommand("SELECT data->>'status', created_at FROM generation_events WHERE generation_id = $1 AND type = 'status' ORDER BY seq");
        cmd.Parameters.Add(new() { Value = id });
        var list = new List<(string, DateTimeOffset)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add((r.GetString(0), r.GetFieldValue<DateTimeOffset>(1)));
        return list;
    }

    /// <summary>Counts what the load sent and how it was answered.</summary>
    private sealed class LoadCounter
    {
        public int Sent { get; private set; }
        public int Accepted { get; private set; }
        public int ServerErrors { get; private set; }

        public async Task<Guid?> SubmitAsync(HttpClient client, int steps, int seed)
        {
            Sent++;
            var response = await client.PostAsJsonAsync("/v1/generations", new
            {
                model = ServiceCluster.Model,
                prompt = "A paper boat drifting down a stream.",
                steps,
                seed,
                trajectories = new[] { new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 }, new[] { 198, 76 } }, space = "canvas256" } },
            });
            if ((int)response.StatusCode >= 500) ServerErrors++;
            if (response.StatusCode != HttpStatusCode.Accepted) return null;
            Accepted++;
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }
    }
}
