using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Tora.Core.Webhooks;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// The real service for the webhook fault tests: its own database, one API process that runs the delivery jobs
/// (loopback targets allowed, a 2 s attempt timeout, 1 s retries, enough of them to outlast every outage here) and
/// one worker on the tiny model.
/// </summary>
public sealed class WebhookOutageFixture : IAsyncLifetime
{
    /// <summary>Per-attempt timeout of the deliveries (the hanging receiver is given up after it).</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Retries before an event is given up: 1 s apart, far more than the outages below need (they grow with the load).</summary>
    public static readonly int Retries = 120 * FaultLoad.Scale;

    private TestDatabase? _database;
    private ServiceCluster? _cluster;

    /// <summary>The processes.</summary>
    public ServiceCluster Cluster => _cluster!;

    /// <summary>The API instance that also runs the webhook delivery jobs.</summary>
    public ApiInstance Api { get; private set; } = null!;

    /// <summary>The worker on the tiny model.</summary>
    public ChildProcess Worker { get; private set; } = null!;

    /// <summary>The file-system blob root.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("webhook-outage-blobs");

    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";

    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_webhook_outage");
        _cluster = new ServiceCluster(_database.ConnectionString, BlobRoot);
        _cluster.Settings["Tora:Webhooks:AllowLoopback"] = "true";
        _cluster.Settings["Tora:Webhooks:AttemptTimeout"] = AttemptTimeout.ToString();
        for (var i = 0; i < Retries; i++) _cluster.Settings[$"Tora:Webhooks:RetryDelays:{i}"] = "00:00:01";
        // A delivery job of a killed API process is fetched again by the restarted one after this (default 5 min).
        _cluster.Settings["Tora:Api:JobInvisibilityTimeout"] = "00:00:05";
        (AlphaKey, BetaKey) = await _cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        Api = await _cluster.StartApiAsync("api");
        Worker = _cluster.StartWorker("webhook-worker");
    }

    /// <summary>A client of the API as tenant alpha (or <paramref name="key"/>'s) whose answers are counted by <paramref name="counter"/>.</summary>
    public HttpClient Client(StatusCounter counter, string? key = null)
    {
        counter.InnerHandler = new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) };
        var client = new HttpClient(counter) { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? AlphaKey);
        return client;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        _cluster?.Dispose();
        if (_database is not null) await _database.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}

/// <summary>Counts the API's 5xx answers (the promise: none, whatever the receiver does).</summary>
public sealed class StatusCounter : DelegatingHandler
{
    private int _serverErrors;

    /// <summary>5xx answers seen.</summary>
    public int ServerErrors => Volatile.Read(ref _serverErrors);

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        if ((int)response.StatusCode >= 500) Interlocked.Increment(ref _serverErrors);
        return response;
    }
}

/// <summary>Tests on the webhook fault fixture (one collection at a time, see xunit.runner.json).</summary>
[CollectionDefinition(Name)]
public sealed class WebhookOutageCollection : ICollectionFixture<WebhookOutageFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "webhook-outage";
}

/// <summary>Fault 3 (issue 11): the webhook receiver down, failing, hanging, then back.</summary>
[Collection(WebhookOutageCollection.Name)]
public sealed class WebhookOutageTests(WebhookOutageFixture service, ITestOutputHelper output)
{
    /// <summary>Signatures must verify with the timestamp they carry, within the Standard Webhooks tolerance.</summary>
    private static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan PhaseTimeout = TimeSpan.FromSeconds(90 * FaultLoad.Scale);

    /// <summary>What one logged attempt saw, in the order the receiver went through them.</summary>
    private enum AttemptKind { Refused, Failed500, Timeout, Interrupted, Delivered }

    [Fact]
    public async Task Every_event_is_delivered_once_signed_with_one_webhook_id_after_refusals_500s_and_hangs_and_every_attempt_is_logged()
    {
        var clock = Stopwatch.StartNew();
        await using var receiver = new WebhookReceiver(); // down: nothing listens on its port
        var counter = new StatusCounter();
        using var api = service.Client(counter);
        var secret = (await api.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret")).GetProperty("secret").GetString()!;

        // The load, submitted while the receiver is down; every status change of each generation is an event.
        var sent = FaultLoad.Requests(6);
        var generations = new List<Guid>();
        for (var i = 0; i < sent; i++)
        {
            var created = await api.PostAsJsonAsync("/v1/generations", new
            {
                model = ServiceCluster.Model, prompt = $"webhook outage {i}", seed = 100 + i, steps = 1, webhook = new { url = receiver.Url },
            });
            if (created.StatusCode == HttpStatusCode.Accepted)
                generations.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        }
        Assert.Equal(sent, generations.Count);
        var expectedEvents = generations.Count * 3; // queued, running, succeeded

        // Phase 1, refusing: until every generation has finished and each of its events has had a refused attempt.
        var phaseClock = Stopwatch.StartNew();
        await Wait.UntilAsync(async () =>
        {
            var events = await EventsAsync(generations);
            return events.Count == expectedEvents && events.All(e => e.Refused >= 1)
                && await TerminalAsync(api, generations) == generations.Count;
        }, PhaseTimeout, () => $"phase 1 (refusing)\n{service.Cluster.Logs()}");
        var downSeconds = phaseClock.Elapsed.TotalSeconds;
        var events = await EventsAsync(generations);
        var webhookIds = events.Select(e => "msg_" + e.Id.ToString("N")).ToHashSet();

        // Phase 2, answering 500: until the receiver has seen every event.
        phaseClock.Restart();
        receiver.Switch(ReceiverMode.Failing);
        await Wait.UntilAsync(() => Task.FromResult(SeenIn(receiver, ReceiverMode.Failing).IsSupersetOf(webhookIds)),
            PhaseTimeout, () => $"phase 2 (500): {SeenIn(receiver, ReceiverMode.Failing).Count}/{webhookIds.Count} events seen");
        var failingSeconds = phaseClock.Elapsed.TotalSeconds;

        // Phase 3, hanging past the attempt timeout: until every event has had an attempt held without an answer.
        phaseClock.Restart();
        receiver.Switch(ReceiverMode.Hanging);
        // Meanwhile another tenant's receiver is healthy: its event must not wait behind the hanging deliveries.
        var bystanderCounter = new StatusCounter();
        var bystanderLatency = await BystanderLatencyAsync(receiver, bystanderCounter);
        await Wait.UntilAsync(() => Task.FromResult(SeenIn(receiver, ReceiverMode.Hanging).IsSupersetOf(webhookIds)),
            PhaseTimeout, () => $"phase 3 (hanging): {SeenIn(receiver, ReceiverMode.Hanging).Count}/{webhookIds.Count} events seen");
        var hangingSeconds = phaseClock.Elapsed.TotalSeconds;

        // Phase 4, back: until every event is delivered.
        phaseClock.Restart();
        receiver.Switch(ReceiverMode.Accepting);
        await WithLogAsync(generations, Wait.UntilAsync(async () => (await EventsAsync(generations)).All(e => e.State != "pending"),
            PhaseTimeout, () => $"phase 4 (up): {SeenIn(receiver, ReceiverMode.Accepting).Count}/{webhookIds.Count} events delivered"));
        var recoverySeconds = phaseClock.Elapsed.TotalSeconds;

        // The generations all succeeded.
        var completed = 0;
        foreach (var id in generations)
        {
            var g = await api.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
            if (g.GetProperty("status").GetString() == "succeeded") completed++;
        }

        // The delivery log (the API's view): each event delivered, attempts numbered 1..n without gaps, each with its
        // status code or error, in the order the receiver went through its phases, and exactly one 2xx, last.
        var received = receiver.Received.ToArray();
        var kinds = new Dictionary<AttemptKind, int>();
        var lost = 0;
        foreach (var id in generations)
        {
            var log = await api.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
            var deliveries = log.GetProperty("data").EnumerateArray().ToList();
            Assert.Equal(["generation.queued", "generation.running", "generation.succeeded"], deliveries.Select(d => d.GetProperty("type").GetString()).Order());
            foreach (var d in deliveries)
            {
                var webhookId = d.GetProperty("webhook_id").GetString()!;
                if (d.GetProperty("state").GetString() != "delivered") lost++;
                var attempts = d.GetProperty("attempts").EnumerateArray().ToList();
                Assert.Equal(Enumerable.Range(1, attempts.Count), attempts.Select(a => a.GetProperty("attempt").GetInt32()));
                var sequence = attempts.Select(Classify).ToList();
                foreach (var k in sequence) kinds[k] = kinds.GetValueOrDefault(k) + 1;
                Assert.True(sequence.SequenceEqual(sequence.Order()), $"{webhookId}: attempts out of phase order: {string.Join(", ", sequence)}");
                Assert.Equal([AttemptKind.Refused, AttemptKind.Failed500, AttemptKind.Timeout, AttemptKind.Delivered], sequence.Distinct());
                Assert.Equal(AttemptKind.Delivered, sequence[^1]);
                Assert.Single(sequence, AttemptKind.Delivered);

                // The receiver's view of the same event: one webhook-id on every attempt, the same body, each signed
                // with the tenant's secret and a current timestamp; one request per logged 500, timeout and 2xx.
                var mine = received.Where(r => r.Id == webhookId).ToList();
                Assert.All(mine, r => Assert.True(WebhookSigner.Verify(secret, r.Id, r.Timestamp, r.Signature, r.Body, Tolerance), $"{r.Id} at {r.At:O}: bad signature"));
                Assert.All(mine, r => Assert.Equal(mine[0].Body, r.Body));
                Assert.Equal(d.GetProperty("payload").GetProperty("type").GetString(), JsonDocument.Parse(mine[0].Body).RootElement.GetProperty("type").GetString());
                Assert.Equal(sequence.Count(k => k == AttemptKind.Failed500), mine.Count(r => r.Mode == ReceiverMode.Failing));
                Assert.Equal(sequence.Count(k => k == AttemptKind.Timeout), mine.Count(r => r.Mode == ReceiverMode.Hanging));
            }
        }
        // Every request the receiver got belongs to one of the events, and each event was answered 2xx exactly once.
        Assert.All(received, r => Assert.Contains(r.Id, webhookIds));
        var delivered = received.Where(r => r.Answered2xx).GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.Count());
        var duplicated = delivered.Values.Sum(n => n - 1);
        var figures = new FaultFigures("Webhook receiver down (refused, 500, hanging), then back", sent, generations.Count, completed, lost,
            duplicated, counter.ServerErrors + bystanderCounter.ServerErrors,
            $"{expectedEvents} events; attempts: {kinds.GetValueOrDefault(AttemptKind.Refused)} refused, {kinds.GetValueOrDefault(AttemptKind.Failed500)} 500, " +
            $"{kinds.GetValueOrDefault(AttemptKind.Timeout)} timed out ({AttemptTimeoutText}), {kinds.GetValueOrDefault(AttemptKind.Delivered)} 2xx; " +
            $"phases down {downSeconds:F1} s, 500 {failingSeconds:F1} s, hanging {hangingSeconds:F1} s; all delivered {recoverySeconds:F1} s after the receiver came back; " +
            $"a healthy receiver of another tenant got its event {bystanderLatency.TotalSeconds:F1} s after the request, while the hanging receiver held {BystanderHeld} attempts; " +
            $"total {clock.Elapsed.TotalSeconds:F0} s");
        figures.Report(output);

        Assert.Equal(generations.Count, completed);
        Assert.Equal(expectedEvents, delivered.Count);
        Assert.Equal(0, lost);
        Assert.Equal(0, duplicated);
        Assert.Equal(0, counter.ServerErrors + bystanderCounter.ServerErrors);
        // Before endpoints had a share of the delivery workers, the hanging receiver held all of them: 8.4 s here.
        Assert.True(bystanderLatency < WebhookOutageFixture.AttemptTimeout + TimeSpan.FromSeconds(1),
            $"another endpoint waited {bystanderLatency.TotalSeconds:F1} s behind the hanging receiver");
    }

    [Fact]
    public async Task Deliveries_in_flight_when_the_api_process_is_killed_are_made_again_after_its_restart_with_the_same_webhook_id_and_logged()
    {
        var clock = Stopwatch.StartNew();
        await using var receiver = new WebhookReceiver();
        receiver.Switch(ReceiverMode.Hanging);
        var counter = new StatusCounter();
        using var api = service.Client(counter);
        var secret = (await api.GetFromJsonAsync<JsonElement>("/v1/webhooks/secret")).GetProperty("secret").GetString()!;
        var sent = FaultLoad.Requests(2);
        var generations = new List<Guid>();
        for (var i = 0; i < sent; i++)
        {
            var created = await api.PostAsJsonAsync("/v1/generations", new
            {
                model = ServiceCluster.Model, prompt = $"webhook api kill {i}", seed = 200 + i, steps = 1, webhook = new { url = receiver.Url },
            });
            if (created.StatusCode == HttpStatusCode.Accepted)
                generations.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        }
        Assert.Equal(sent, generations.Count);
        var expectedEvents = generations.Count * 3;

        // Every event has been tried against the hanging receiver, and attempts are held there right now, some of them
        // for so short a time that they cannot time out before the kill lands (at least a second before the timeout).
        var fresh = WebhookOutageFixture.AttemptTimeout - TimeSpan.FromSeconds(1);
        await Wait.UntilAsync(async () =>
            (await EventsAsync(generations)).Count == expectedEvents && SeenIn(receiver, ReceiverMode.Hanging).Count == expectedEvents
            && await TerminalAsync(api, generations) == generations.Count,
            PhaseTimeout, () => $"all events attempted: {SeenIn(receiver, ReceiverMode.Hanging).Count}/{expectedEvents}\n{service.Cluster.Logs()}");

        // SIGKILL the API process in the middle of fresh attempts (the others are scheduled retries), then bring the
        // receiver and the API back: the restarted process takes the killed attempts up again.
        IReadOnlyList<string> held = [];
        await Wait.UntilAsync(() => Task.FromResult((held = receiver.HangingSince(fresh)).Count > 0),
            PhaseTimeout, () => "a fresh attempt held by the receiver", poll: TimeSpan.FromMilliseconds(5));
        service.Api.Process.KillHard();
        var inFlight = held.ToHashSet();
        var restart = Stopwatch.StartNew();
        receiver.Switch(ReceiverMode.Accepting);
        await service.Api.RestartAsync();
        await WithLogAsync(generations, Wait.UntilAsync(async () => (await EventsAsync(generations)).All(e => e.State != "pending"),
            PhaseTimeout, () => $"delivery after the restart: {SeenIn(receiver, ReceiverMode.Accepting).Count}/{expectedEvents}\n{service.Cluster.Logs()}"));
        var recoverySeconds = restart.Elapsed.TotalSeconds;

        var completed = 0;
        foreach (var id in generations)
            if ((await api.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}")).GetProperty("status").GetString() == "succeeded") completed++;

        // The log: attempts 1..n; the attempts the kill cut off are there, marked interrupted; one 2xx, last. The
        // receiver saw every logged attempt but interrupted ones that had not reached it yet, all with one webhook-id.
        var received = receiver.Received.ToArray();
        var lost = 0;
        var interrupted = 0;
        var webhookIds = new HashSet<string>();
        foreach (var id in generations)
        {
            var log = await api.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}/webhook-deliveries");
            foreach (var d in log.GetProperty("data").EnumerateArray())
            {
                var webhookId = d.GetProperty("webhook_id").GetString()!;
                webhookIds.Add(webhookId);
                if (d.GetProperty("state").GetString() != "delivered") lost++;
                var attempts = d.GetProperty("attempts").EnumerateArray().ToList();
                Assert.Equal(Enumerable.Range(1, attempts.Count), attempts.Select(a => a.GetProperty("attempt").GetInt32()));
                var sequence = attempts.Select(Classify).ToList();
                Assert.True(sequence.SequenceEqual(sequence.Order()), $"{webhookId}: {string.Join(", ", sequence)}");
                Assert.Equal(AttemptKind.Delivered, sequence[^1]);
                Assert.Single(sequence, AttemptKind.Delivered);
                var cut = sequence.Count(k => k == AttemptKind.Interrupted);
                interrupted += cut;
                Assert.InRange(cut, inFlight.Contains(webhookId) ? 1 : 0, 1);
                var mine = received.Where(r => r.Id == webhookId).ToList();
                Assert.All(mine, r => Assert.True(WebhookSigner.Verify(secret, r.Id, r.Timestamp, r.Signature, r.Body, Tolerance), $"{r.Id}: bad signature"));
                Assert.All(mine, r => Assert.Equal(mine[0].Body, r.Body));
                var timeouts = sequence.Count(k => k == AttemptKind.Timeout);
                Assert.InRange(mine.Count(r => r.Mode == ReceiverMode.Hanging), timeouts + (inFlight.Contains(webhookId) ? 1 : 0), timeouts + cut);
            }
        }
        Assert.All(received, r => Assert.Contains(r.Id, webhookIds));
        var delivered = received.Where(r => r.Answered2xx).GroupBy(r => r.Id).ToDictionary(g => g.Key, g => g.Count());
        var duplicated = delivered.Values.Sum(n => n - 1);
        new FaultFigures("API process running the webhook deliveries killed (SIGKILL) mid-attempt, restarted", sent, generations.Count, completed,
            lost, duplicated, counter.ServerErrors,
            $"{expectedEvents} events; {inFlight.Count} or more attempts in flight at the kill, {interrupted} logged as interrupted; " +
            $"all delivered {recoverySeconds:F1} s after the kill (the jobs of the dead process run again after the invisibility timeout, 5 s here, 5 min by default, and take over attempts in flight for longer than the attempt timeout and 5 s); total {clock.Elapsed.TotalSeconds:F0} s").Report(output);

        Assert.NotEmpty(inFlight);
        Assert.Equal(generations.Count, completed);
        Assert.Equal(expectedEvents, webhookIds.Count);
        Assert.Equal(expectedEvents, delivered.Count);
        Assert.Equal(0, lost);
        Assert.Equal(0, duplicated);
        Assert.Equal(0, counter.ServerErrors);
    }

    private int BystanderHeld { get; set; }

    /// <summary>
    /// Once the hanging receiver holds attempts, another tenant asks for a generation whose <c>generation.queued</c>
    /// event goes to a healthy receiver; returns how long that delivery took from the request.
    /// </summary>
    private async Task<TimeSpan> BystanderLatencyAsync(WebhookReceiver hanging, StatusCounter counter)
    {
        await Wait.UntilAsync(() => Task.FromResult(hanging.HangingIds.Count >= 4), PhaseTimeout,
            () => $"hanging attempts: {hanging.HangingIds.Count}");
        BystanderHeld = hanging.HangingIds.Count;
        await using var healthy = new WebhookReceiver();
        healthy.Switch(ReceiverMode.Accepting);
        using var beta = service.Client(counter, service.BetaKey);
        var clock = Stopwatch.StartNew();
        var created = await beta.PostAsJsonAsync("/v1/generations", new
        {
            model = ServiceCluster.Model, prompt = "bystander", seed = 99, webhook = new { url = healthy.Url, events = new[] { "generation.queued" } },
        });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        await Wait.UntilAsync(() => Task.FromResult(!healthy.Received.IsEmpty), PhaseTimeout, () => "bystander delivery");
        return clock.Elapsed;
    }

    private static string AttemptTimeoutText => $"{WebhookOutageFixture.AttemptTimeout.TotalSeconds:0.#} s";

    private static HashSet<string> SeenIn(WebhookReceiver receiver, ReceiverMode mode) =>
        receiver.Received.Where(r => r.Mode == mode).Select(r => r.Id).ToHashSet();

    private static AttemptKind Classify(JsonElement attempt)
    {
        var status = attempt.GetProperty("status_code");
        var error = attempt.GetProperty("error");
        if (status.ValueKind == JsonValueKind.Number)
            return status.GetInt32() switch
            {
                500 => AttemptKind.Failed500,
                204 => AttemptKind.Delivered,
                var s => throw new Xunit.Sdk.XunitException($"unexpected status {s} in {attempt}"),
            };
        var text = error.GetString() ?? "";
        if (text.StartsWith("connection_error", StringComparison.Ordinal) && text.Contains("refused", StringComparison.OrdinalIgnoreCase))
            return AttemptKind.Refused;
        if (text.StartsWith("timeout", StringComparison.Ordinal)) return AttemptKind.Timeout;
        if (text.StartsWith("interrupted", StringComparison.Ordinal)) return AttemptKind.Interrupted;
        throw new Xunit.Sdk.XunitException($"unexpected attempt {attempt}");
    }

    /// <summary>Runs <paramref name="wait"/>; when it times out, adds the delivery log of the events still pending.</summary>
    private async Task WithLogAsync(IReadOnlyList<Guid> generations, Task wait)
    {
        try
        {
            await wait;
        }
        catch (TimeoutException e)
        {
            await using var db = service.Cluster.Database();
            await using var cmd = db.CreateCommand("""
                SELECT e.id, e.type, e.state, e.attempts, e.next_attempt_at,
                       string_agg(a.attempt || ' ' || a.attempted_at || ' ' || coalesce(a.status_code::text, '-') || ' ' || coalesce(a.error, 'in flight'), E'\n    ' ORDER BY a.attempt)
                FROM webhook_events e LEFT JOIN webhook_attempts a ON a.event_id = e.id
                WHERE e.generation_id = ANY($1) AND e.state = 'pending' GROUP BY e.id
                """);
            cmd.Parameters.Add(new() { Value = generations.ToArray() });
            var report = new System.Text.StringBuilder();
            await using (var r = await cmd.ExecuteReaderAsync())
                while (await r.ReadAsync())
                    report.Append($"\nevent {r.GetGuid(0)} {r.GetString(1)} {r.GetString(2)} attempts={r.GetInt32(3)} next={(r.IsDBNull(4) ? "-" : r.GetFieldValue<DateTimeOffset>(4).ToString("O"))} now={DateTimeOffset.UtcNow:O}\n    {(r.IsDBNull(5) ? "" : r.GetString(5))}");
            throw new TimeoutException(e.Message + "\npending events:" + report, e);
        }
    }

    /// <summary>Each event of the generations with its state and how many refused attempts its log holds.</summary>
    private async Task<List<(Guid Id, string State, int Refused)>> EventsAsync(IReadOnlyList<Guid> generations)
    {
        await using var db = service.Cluster.Database();
        await using var cmd = db.CreateCommand("""
            SELECT e.id, e.state, count(a.attempt) FILTER (WHERE a.error LIKE 'connection_error%')::int
            FROM webhook_events e LEFT JOIN webhook_attempts a ON a.event_id = e.id
            WHERE e.generation_id = ANY($1) GROUP BY e.id, e.state
            """);
        cmd.Parameters.Add(new() { Value = generations.ToArray() });
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<(Guid, string, int)>();
        while (await r.ReadAsync()) list.Add((r.GetGuid(0), r.GetString(1), r.GetInt32(2)));
        return list;
    }

    private static async Task<int> TerminalAsync(HttpClient api, IReadOnlyList<Guid> generations)
    {
        var n = 0;
        foreach (var id in generations)
        {
            var g = await api.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
            if (g.GetProperty("status").GetString() is not ("queued" or "running")) n++;
        }
        return n;
    }
}
