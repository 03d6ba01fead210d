using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// The service on a PostgreSQL cluster of its own, so the tests may stop and restart the database: one API process and
/// one worker process (real pipeline on the tiny model), sharing a filesystem blob root.
/// </summary>
public sealed class PostgresRestartFixture : IAsyncLifetime
{
    private PostgresServer? _postgres;
    private ServiceCluster? _cluster;
    private ApiInstance? _api;
    private ChildProcess? _worker;

    /// <summary>The private cluster (stop and start it at will).</summary>
    public PostgresServer Postgres => _postgres!;
    /// <summary>The processes.</summary>
    public ServiceCluster Cluster => _cluster!;
    /// <summary>The API instance.</summary>
    public ApiInstance Api => _api!;
    /// <summary>The worker process.</summary>
    public ChildProcess Worker => _worker!;
    /// <summary>The file-system blob root shared by the API and the worker.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("pg-restart-blobs");
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.StartNewAsync();
        var cs = await _postgres.CreateDatabaseAsync("tora_pg_restart");
        _cluster = new ServiceCluster(cs, BlobRoot);
        (AlphaKey, _) = await _cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        _api = await _cluster.StartApiAsync("api");
        _worker = _cluster.StartWorker("pg-restart-worker", new Dictionary<string, string> { ["Logging:LogLevel:Tora"] = "Information" });
    }

    /// <summary>Creates a new key of a new tenant (never used, so never in the API's key cache).</summary>
    public async Task<string> NewKeyAsync(string tenant)
    {
        await using var db = Cluster.Database();
        return (await new ApiKeyStore(db).CreateAsync(tenant, false, default)).Key;
    }

    /// <summary>Output of every process and the server log (for failure messages).</summary>
    public string Logs() => Cluster.Logs() + "\n--- postgres ---\n" + Postgres.Log();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        _cluster?.Dispose();
        if (_postgres is not null) await _postgres.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}

/// <summary>Tests that restart the database of <see cref="PostgresRestartFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresRestartCollection : ICollectionFixture<PostgresRestartFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "faults-postgres-restart";
}

/// <summary>
/// Fault 2 (issue 11): PostgreSQL stopped (fast: clients disconnected; immediate: a crash, WAL replayed on start) and
/// started again while clients post generations. Clients behave like real ones: each logical request has its own
/// Idempotency-Key and is retried with it after a 503 (database down) or a 409 (key still in flight), honouring
/// Retry-After. Every answer is recorded; nothing accepted may be lost or doubled, and no answer may be another 5xx.
/// </summary>
[Collection(PostgresRestartCollection.Name)]
public sealed class PostgresRestartTests(PostgresRestartFixture service, ITestOutputHelper output)
{
    /// <summary>Concurrent clients.</summary>
    private const int Clients = 6;
    /// <summary>Attempts per logical request (a real client gives up at some point; the outage is far shorter).</summary>
    private const int MaxAttempts = 30;
    /// <summary>The requests are spread over this window; the database is down inside it.</summary>
    private static readonly TimeSpan LoadWindow = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan StopAt = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Downtime = TimeSpan.FromSeconds(4);
    /// <summary>The API's job server (webhooks, retention) and the worker's.</summary>
    private const int HangfireServers = 2;

    private sealed record Answer(int Request, int Attempt, double AtSeconds, int Status, string? ContentType, string? Code,
        TimeSpan? RetryAfter, Guid? Id, bool Replayed, string? Error);

    [Theory]
    [InlineData(PostgresStopMode.Fast)]
    [InlineData(PostgresStopMode.Immediate)]
    public async Task Every_accepted_generation_survives_a_database_restart_and_outage_requests_get_503_with_Retry_After(PostgresStopMode mode)
    {
        var sent = FaultLoad.Requests(16);
        var tag = $"pg-restart-{mode}-{Guid.NewGuid():N}"[..32];
        var freshKey = await service.NewKeyAsync($"fresh-{mode}".ToLowerInvariant());
        using var alpha = service.Api.Client(service.AlphaKey, TimeSpan.FromSeconds(30));
        using var fresh = service.Api.Client(freshKey, TimeSpan.FromSeconds(30));
        using var anonymous = service.Api.Client(null, TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await WaitReadyAsync(anonymous, TimeSpan.FromSeconds(60))).StatusCode);

        var answers = new ConcurrentBag<Answer>();
        var clock = Stopwatch.StartNew();
        using var stopProbes = new CancellationTokenSource();
        var health = ProbeHealthAsync(anonymous, clock, stopProbes.Token);

        // The outage: stop the database inside the load window, probe the API while it is down, start it again.
        var outage = Task.Run(async () =>
        {
            await Task.Delay(StopAt);
            var stopping = clock.Elapsed;
            await service.Postgres.StopAsync(mode);
            var down = clock.Elapsed;
            var probes = await ProbeWhileDownAsync(alpha, fresh);
            var left = Downtime - (clock.Elapsed - down);
            if (left > TimeSpan.Zero) await Task.Delay(left);
            await service.Postgres.StartAsync();
            return (Stopping: stopping, Down: down, Up: clock.Elapsed, Probes: probes);
        });

        // The load: request i starts at i * window / sent, at most Clients at a time.
        using var gate = new SemaphoreSlim(Clients);
        var requests = Enumerable.Range(0, sent).Select(async i =>
        {
            await Task.Delay(LoadWindow * i / sent);
            await gate.WaitAsync();
            try { await SendLikeARealClientAsync(alpha, i, tag, clock, answers); }
            finally { gate.Release(); }
        }).ToArray();
        var (stoppingAt, downAt, upAt, probesWhileDown) = await outage;
        await Task.WhenAll(requests);
        var loadDone = clock.Elapsed;

        // Readiness comes back by itself (database, and the worker's heartbeat).
        var ready = await WaitReadyAsync(anonymous, TimeSpan.FromSeconds(60));
        var readyAt = clock.Elapsed;
        await stopProbes.CancelAsync();
        var healthSeen = await health;

        var all = answers.OrderBy(a => a.AtSeconds).ToList();
        var summary = string.Join(", ", all.GroupBy(a => a.Error is null ? $"{a.Status} {a.Code}".Trim() : "error")
            .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}"));
        var context = $"mode {mode}; answers: {summary}\n" + string.Join("\n", all.Where(a => a.Status is not (202 or 201)).Take(40));
        output.WriteLine(context);

        // No other 5xx, and every 503 is the documented problem with Retry-After; the API never dropped a connection.
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"not ready after the restart: {ready.Body}\n{service.Logs()}");
        var errors = all.Where(a => a.Error is not null).ToList();
        Assert.True(errors.Count == 0, $"connection errors or timeouts: {string.Join("; ", errors)}\n{context}");
        var serverErrors = all.Count(a => a.Status >= 500 && a.Status != 503);
        Assert.True(serverErrors == 0, $"5xx other than 503:\n{context}\n{service.Logs()}");
        var unavailable = all.Where(a => a.Status == 503).ToList();
        foreach (var a in unavailable)
        {
            Assert.True(a.ContentType == "application/problem+json", $"503 without problem+json: {a}");
            Assert.True(a.Code == "database_unavailable", $"503 with code {a.Code}: {a}");
            Assert.True(a.RetryAfter is { } r && r > TimeSpan.Zero, $"503 without Retry-After: {a}");
        }
        var unexpected = all.Where(a => a.Status is not (202 or 503) && !(a.Status == 409 && a.Code == "idempotency_key_in_flight")).ToList();
        Assert.True(unexpected.Count == 0, $"unexpected answers: {string.Join("; ", unexpected)}\n{context}\n{service.Logs()}");
        foreach (var (what, p) in probesWhileDown)
            Assert.True(p.Status == 503 && p.ContentType == "application/problem+json" && p.Code == "database_unavailable" && p.RetryAfter is not null,
                $"{what} while the database was down: {p}");
        Assert.Contains(healthSeen, h => h.Status == 503 && h.AtSeconds >= downAt.TotalSeconds && h.AtSeconds <= upAt.TotalSeconds);

        // Every logical request was eventually accepted, each key with one generation whatever the number of tries.
        var accepted = all.Where(a => a.Status == 202).GroupBy(a => a.Request).ToDictionary(g => g.Key, g => g.Select(a => a.Id!.Value).Distinct().ToList());
        foreach (var (request, ids) in accepted)
            Assert.True(ids.Count == 1, $"request {request} was answered with several generations: {string.Join(", ", ids)}");
        Assert.True(accepted.Count == sent, $"{sent - accepted.Count} requests never accepted within {MaxAttempts} attempts\n{context}\n{service.Logs()}");

        // Every accepted generation is in the database and finishes (the dispatcher, Hangfire and the worker recover by themselves).
        var ids0 = accepted.Values.Select(v => v[0]).ToArray();
        await using var db = service.Cluster.Database();
        var statuses = await WaitFinishedAsync(db, ids0);
        var finishedAt = clock.Elapsed;
        var completed = ids0.Count(id => statuses.GetValueOrDefault(id) == "succeeded");
        var lost = ids0.Length - completed;

        // The background parts came back by themselves: the worker's heartbeat and both Hangfire servers' heartbeats are
        // written again after the restart (the dispatcher's recovery is shown by the generations accepted after it finishing).
        var upDb = await ScalarAsync<DateTime>(db, "SELECT now() - $1", clock.Elapsed - upAt);
        var workerBeat = await WaitScalarAsync(db, "SELECT count(*) FROM workers WHERE heartbeat_at > $1", upDb, n => n >= 1, TimeSpan.FromSeconds(30));
        Assert.True(workerBeat >= 1, $"no worker heartbeat since the restart\n{service.Logs()}");
        var serversBack = await WaitScalarAsync(db, "SELECT count(*) FROM hangfire.server WHERE lastheartbeat > $1", upDb, n => n >= HangfireServers, TimeSpan.FromSeconds(45));
        Assert.True(serversBack >= HangfireServers, $"{serversBack} of {HangfireServers} Hangfire servers sent a heartbeat since the restart\n{service.Logs()}");
        var reruns = await ScalarAsync<long>(db, "SELECT coalesce(sum(greatest(attempts - 1, 0)), 0)::bigint FROM generations WHERE id = ANY($1)", ids0);

        // Nothing doubled: one generation per key (rows of this run), the key points at the answered generation, one video
        // and one terminal event per generation.
        var rows = await ScalarAsync<long>(db, "SELECT count(*) FROM generations WHERE input->>'prompt' LIKE $1", tag + "%");
        var keyRows = new Dictionary<string, Guid?>();
        await using (var cmd = db.CreateCommand("SELECT key, generation_id FROM idempotency_keys WHERE tenant = 'alpha' AND key LIKE $1"))
        {
            cmd.Parameters.Add(new() { Value = tag + "%" });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) keyRows[r.GetString(0)] = r.IsDBNull(1) ? null : r.GetGuid(1);
        }
        foreach (var (request, ids) in accepted)
            Assert.True(keyRows.GetValueOrDefault(KeyOf(tag, request)) == ids[0], $"key of request {request} records {keyRows.GetValueOrDefault(KeyOf(tag, request))}, answered {ids[0]}");
        var terminalEvents = new Dictionary<Guid, long>();
        await using (var cmd = db.CreateCommand("""
            SELECT generation_id, count(*) FILTER (WHERE data->>'status' IN ('succeeded', 'failed', 'cancelled', 'expired'))
            FROM generation_events WHERE type = 'status' AND generation_id = ANY($1) GROUP BY generation_id
            """))
        {
            cmd.Parameters.Add(new() { Value = ids0 });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) terminalEvents[r.GetGuid(0)] = r.GetInt64(1);
        }
        var files = Directory.EnumerateFiles(service.BlobRoot, "*", SearchOption.AllDirectories).ToList();
        var extraVideos = 0;
        foreach (var id in ids0)
        {
            var own = files.Where(f => f.Contains(id.ToString("N"), StringComparison.Ordinal)).Select(Path.GetFileName).Order().ToArray();
            if (statuses.GetValueOrDefault(id) == "succeeded")
                Assert.True(own.SequenceEqual(["thumbnail.jpg", "video.mp4"]), $"generation {id} has files [{string.Join(", ", own)}]");
            extraVideos += Math.Max(0, own.Count(f => f == "video.mp4") - 1);
        }
        var extraEvents = ids0.Sum(id => Math.Max(0, terminalEvents.GetValueOrDefault(id) - 1));
        var duplicated = (int)(rows - ids0.Length) + extraVideos + (int)extraEvents;

        // Neither process was restarted: they recovered on their own.
        Assert.False(service.Api.Process.Process.HasExited, "the API process exited");
        Assert.False(service.Worker.Process.HasExited, "the worker process exited");

        double medianJob;
        await using (var cmd = db.CreateCommand("""
            SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at)), 0)::float8
            FROM generations WHERE id = ANY($1) AND status = 'succeeded'
            """))
        {
            cmd.Parameters.Add(new() { Value = ids0 });
            medianJob = (double)(await cmd.ExecuteScalarAsync())!;
        }
        var firstAcceptAfterUp = all.Where(a => a.Status == 202 && a.AtSeconds >= upAt.TotalSeconds).Select(a => a.AtSeconds).DefaultIfEmpty(double.NaN).Min();
        new FaultFigures($"PostgreSQL restarted ({mode.ToString().ToLowerInvariant()} stop) under concurrent POST /v1/generations",
            sent, accepted.Count, completed, lost, duplicated, serverErrors,
            $"{all.Count} answers: {summary}; {all.Count(a => a.Replayed)} idempotent replays; " +
            $"database down {(upAt - downAt).TotalSeconds:F1} s (stop took {(downAt - stoppingAt).TotalSeconds:F1} s); " +
            $"{reruns} runs repeated; first 202 {firstAcceptAfterUp - upAt.TotalSeconds:F1} s after the start; /health/ready 200 again {(readyAt - upAt).TotalSeconds:F1} s after it; " +
            $"load done {loadDone.TotalSeconds:F1} s, all finished {finishedAt.TotalSeconds:F1} s after the first request (one worker, median run {medianJob:F1} s)").Report(output);

        Assert.True(lost == 0, $"{lost} accepted generations did not succeed:\n{await DescribeAsync(db, ids0.Where(id => statuses.GetValueOrDefault(id) != "succeeded").ToArray())}\n{service.Logs()}");
        Assert.Equal(ids0.Length, rows);
        Assert.Equal(0, extraVideos);
        Assert.All(ids0, id => Assert.Equal(1, terminalEvents.GetValueOrDefault(id)));
    }

    [Fact]
    public async Task A_reservation_whose_request_never_finished_lapses_and_the_retry_creates_exactly_one_generation()
    {
        // What a database outage between reserving a key and releasing it leaves behind: a key without a generation.
        var key = $"abandoned-{Guid.NewGuid():N}";
        var body = new { model = ServiceCluster.QueuedModel, prompt = "left behind by an outage", seed = 3 };
        await using var db = service.Cluster.Database();
        await using (var cmd = db.CreateCommand("""
            INSERT INTO idempotency_keys (tenant, key, fingerprint, created_at, expires_at) VALUES ('alpha', $1, '\x00', now(), now() + interval '1 hour')
            """))
        {
            cmd.Parameters.Add(new() { Value = key });
            await cmd.ExecuteNonQueryAsync();
        }
        using var alpha = service.Api.Client(service.AlphaKey);
        using var fresh = await alpha.SendAsync(Post(key, body));
        // Younger than AbandonedAfter, the reservation may belong to a request still running: 409, retry later.
        Assert.Equal(HttpStatusCode.Conflict, fresh.StatusCode);

        await using (var cmd = db.CreateCommand("UPDATE idempotency_keys SET created_at = now() - $2 WHERE tenant = 'alpha' AND key = $1"))
        {
            cmd.Parameters.Add(new() { Value = key });
            cmd.Parameters.Add(new() { Value = Tora.Core.Generations.IdempotencyStore.AbandonedAfter + TimeSpan.FromSeconds(1) });
            await cmd.ExecuteNonQueryAsync();
        }
        var ids = new List<Guid>();
        foreach (var _ in Enumerable.Range(0, 3))
        {
            using var response = await alpha.SendAsync(Post(key, body));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        }
        Assert.Single(ids.Distinct());
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM generations WHERE input->>'prompt' = $1", body.prompt + ""));
        Assert.Equal(HttpStatusCode.OK, (await alpha.PostAsync($"/v1/generations/{ids[0]}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task A_generation_is_stored_only_together_with_its_key_and_its_result_is_recorded_once_however_often_retried()
    {
        await using var db = service.Cluster.Database();
        var store = new Tora.Core.Generations.GenerationStore(db);
        var idempotency = new Tora.Core.Generations.IdempotencyStore(db);
        var key = $"atomic-{Guid.NewGuid():N}";
        byte[] fingerprint = [1, 2, 3];
        Assert.Equal(Tora.Core.Generations.IdempotencyState.Reserved,
            (await idempotency.ReserveAsync("store-test", key, fingerprint, TimeSpan.FromHours(1), default)).State);
        var reservation = new Tora.Core.Generations.IdempotencyReservation("store-test", key, fingerprint);

        // Two requests holding the same reservation (one took over from a slow one): only the first stores a generation.
        var first = NewGeneration();
        Assert.True(await store.InsertAsync(first, reservation, default));
        Assert.False(await store.InsertAsync(NewGeneration(), reservation, default));
        Assert.False(await store.InsertAsync(NewGeneration(), reservation with { Fingerprint = [9] }, default));
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM generations WHERE tenant = $1", "store-test"));
        var (state, previous) = await idempotency.ReserveAsync("store-test", key, fingerprint, TimeSpan.FromHours(1), default);
        Assert.Equal((Tora.Core.Generations.IdempotencyState.Replay, first.Id), (state, previous));
        Assert.True(await idempotency.TryReleaseAsync(reservation)); // a completed key is never released
        Assert.Equal(Tora.Core.Generations.IdempotencyState.Replay,
            (await idempotency.ReserveAsync("store-test", key, fingerprint, TimeSpan.FromHours(1), default)).State);

        // The worker may record its result again when it could not tell whether the first commit happened.
        await using (var cmd = db.CreateCommand("UPDATE generations SET dispatched_at = now(), job_id = 'j1', status = 'running' WHERE id = $1"))
        {
            cmd.Parameters.Add(new() { Value = first.Id });
            await cmd.ExecuteNonQueryAsync();
        }
        var video = new Tora.Core.Generations.StoredVideo("k/video.mp4", "\"e1\"", 10, "k/thumbnail.jpg");
        var repro = new Tora.Core.Generations.ReproducibilityInfo("h", "ddim", "1", "cpu", 1, "w");
        var timings = new Dictionary<string, double>();
        Assert.True(await store.CompleteAsync(first.Id, "j1", video, timings, repro, default));
        Assert.True(await store.CompleteAsync(first.Id, "j1", video, timings, repro, default));
        Assert.False(await store.CompleteAsync(first.Id, "j2", video, timings, repro, default));
        Assert.False(await store.CompleteAsync(first.Id, "j1", video with { Etag = "\"other\"" }, timings, repro, default));
        Assert.Equal(1L, await ScalarAsync<long>(db,
            "SELECT count(*) FROM generation_events WHERE generation_id = $1 AND type = 'status' AND data->>'status' = 'succeeded'", first.Id));
        await using (var cmd = db.CreateCommand("DELETE FROM generations WHERE tenant = 'store-test'")) await cmd.ExecuteNonQueryAsync();

        static Tora.Core.Generations.Generation NewGeneration() => new()
        {
            Id = Guid.CreateVersion7(), Tenant = "store-test", Status = "queued", Queue = "gen-store-test", CreatedAt = DateTimeOffset.UtcNow, TotalSteps = 1,
            Input = new Tora.Core.Generations.GenerationInput
            {
                Model = "store-test", Prompt = "p", NumFrames = 9, Width = 16, Height = 16, Steps = 1, GuidanceScale = 6, DynamicCfg = true, Seed = 1, Fps = 8,
            },
        };
    }

    private static HttpRequestMessage Post(string key, object body)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(body) };
        message.Headers.Add("Idempotency-Key", key);
        return message;
    }

    private static string KeyOf(string tag, int request) => $"{tag}-{request}";

    /// <summary>
    /// One logical request, sent the way a careful client does: the same Idempotency-Key on every try, a retry after a
    /// 503 or a 409 <c>idempotency_key_in_flight</c> once Retry-After has passed, a bounded number of tries.
    /// </summary>
    private static async Task SendLikeARealClientAsync(HttpClient client, int request, string tag, Stopwatch clock, ConcurrentBag<Answer> answers)
    {
        var body = new
        {
            model = ServiceCluster.Model,
            prompt = $"{tag} request {request}",
            steps = 2,
            seed = request,
            trajectories = new[] { new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 } }, space = "canvas256" } },
        };
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(body) };
            message.Headers.Add("Idempotency-Key", KeyOf(tag, request));
            Answer answer;
            try
            {
                using var response = await client.SendAsync(message);
                var text = await response.Content.ReadAsStringAsync();
                string? code = null;
                Guid? id = null;
                try
                {
                    var json = JsonDocument.Parse(text).RootElement;
                    if (json.TryGetProperty("code", out var c)) code = c.GetString();
                    if ((int)response.StatusCode is 201 or 202) id = json.GetProperty("id").GetGuid();
                }
                catch (JsonException) { code = "not-json"; }
                answer = new Answer(request, attempt, clock.Elapsed.TotalSeconds, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType,
                    code, response.Headers.RetryAfter?.Delta, id, response.Headers.Contains("Idempotent-Replayed"), null);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                answer = new Answer(request, attempt, clock.Elapsed.TotalSeconds, 0, null, null, null, null, false, e.GetType().Name + ": " + e.Message);
            }
            answers.Add(answer);
            var retry = answer.Status == 503 || answer.Error is not null || (answer.Status == 409 && answer.Code == "idempotency_key_in_flight");
            if (!retry) return;
            var delay = answer.RetryAfter ?? TimeSpan.FromSeconds(1);
            await Task.Delay(delay > TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : delay);
        }
    }

    private sealed record Probe(int Status, string? ContentType, string? Code, TimeSpan? RetryAfter, string Body);

    /// <summary>While the database is down: an authenticated read, and a key the API has never seen (its lookup needs the database).</summary>
    private static async Task<List<(string What, Probe Result)>> ProbeWhileDownAsync(HttpClient alpha, HttpClient fresh)
    {
        var list = new List<(string, Probe)>();
        foreach (var (what, client, path) in new[] { ("GET /v1/generations", alpha, "/v1/generations"), ("a never-seen API key", fresh, "/v1/generations") })
        {
            using var response = await client.GetAsync(path);
            var text = await response.Content.ReadAsStringAsync();
            string? code = null;
            try { code = JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var c) ? c.GetString() : null; }
            catch (JsonException) { }
            list.Add((what, new Probe((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, code, response.Headers.RetryAfter?.Delta, text)));
        }
        return list;
    }

    private sealed record HealthSample(double AtSeconds, int Status);

    private static async Task<List<HealthSample>> ProbeHealthAsync(HttpClient client, Stopwatch clock, CancellationToken ct)
    {
        var samples = new List<HealthSample>();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var response = await client.GetAsync("/health/ready", ct);
                samples.Add(new HealthSample(clock.Elapsed.TotalSeconds, (int)response.StatusCode));
                await Task.Delay(250, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
            catch (HttpRequestException) { samples.Add(new HealthSample(clock.Elapsed.TotalSeconds, 0)); }
        }
        return samples;
    }

    /// <summary>The readiness probe's answer until it is 200, or its last answer after <paramref name="timeout"/>.</summary>
    private static Task<(HttpStatusCode StatusCode, string Body)> WaitReadyAsync(HttpClient client, TimeSpan timeout) =>
        Wait.ForAsync(async () =>
        {
            using var response = await client.GetAsync("/health/ready");
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }, ready => ready.StatusCode == HttpStatusCode.OK, timeout, TimeSpan.FromMilliseconds(200));

    /// <summary>A recovery that stalls shows as no generation finishing for this long (the worker runs one at a time).</summary>
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Waits until every generation is terminal. Bounded two ways: no progress for <see cref="StallTimeout"/> (what a
    /// worker or dispatcher that did not recover looks like), and 6 minutes in all (a very slow, loaded machine).
    /// </summary>
    private static async Task<Dictionary<Guid, string>> WaitFinishedAsync(NpgsqlDataSource db, Guid[] ids)
    {
        var lastProgress = DateTime.UtcNow;
        var pendingBefore = int.MaxValue;
        return await Wait.ForAsync(async () =>
        {
            var statuses = new Dictionary<Guid, string>();
            await using var cmd = db.CreateCommand("SELECT id, status FROM generations WHERE id = ANY($1)");
            cmd.Parameters.Add(new() { Value = ids });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) statuses[r.GetGuid(0)] = r.GetString(1);
            return statuses;
        }, statuses =>
        {
            var pending = ids.Count(id => statuses.GetValueOrDefault(id) is null or "queued" or "running");
            if (pending < pendingBefore) (pendingBefore, lastProgress) = (pending, DateTime.UtcNow);
            return pending == 0 || DateTime.UtcNow - lastProgress > StallTimeout;
        }, TimeSpan.FromMinutes(6), TimeSpan.FromMilliseconds(250));
    }

    /// <summary>Where each generation stands, with its Hangfire job (for failure messages).</summary>
    private static async Task<string> DescribeAsync(NpgsqlDataSource db, Guid[] ids)
    {
        await using var cmd = db.CreateCommand("""
            SELECT g.id, g.status, g.phase, g.attempts, g.dispatched_at, g.job_id, g.started_at, g.finished_at, j.statename,
                   (SELECT string_agg(q.queue || ' fetched ' || coalesce(q.fetchedat::text, '-'), '; ') FROM hangfire.jobqueue q WHERE q.jobid = j.id)
            FROM generations g LEFT JOIN hangfire.job j ON j.id::text = g.job_id WHERE g.id = ANY($1)
            """);
        cmd.Parameters.Add(new() { Value = ids });
        var lines = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            var values = new object[r.FieldCount];
            r.GetValues(values);
            lines.Add(string.Join(" | ", values));
        }
        return string.Join("\n", lines);
    }

    /// <summary>A count read every half second until <paramref name="done"/> holds for it, or its last value after <paramref name="timeout"/>.</summary>
    private static Task<long> WaitScalarAsync(NpgsqlDataSource db, string sql, object parameter, Func<long, bool> done, TimeSpan timeout) =>
        Wait.ForAsync(() => ScalarAsync<long>(db, sql, parameter), done, timeout, TimeSpan.FromMilliseconds(500));

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql, object parameter)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.Add(new() { Value = parameter });
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
