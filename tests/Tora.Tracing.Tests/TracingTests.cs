using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Trace;
using Tora.Core.Tenancy;
using Tora.Inference;
using Tora.TestSupport;
using Tora.Worker;

using Tora.Api.Tests;

namespace Tora.Tracing.Tests;

/// <summary>An in-memory span exporter (thread-safe: the API and the worker export concurrently).</summary>
public sealed class CollectingExporter : BaseExporter<Activity>
{
    /// <summary>Every exported span.</summary>
    public ConcurrentQueue<Activity> Spans { get; } = new();

    /// <inheritdoc />
    public override ExportResult Export(in Batch<Activity> batch)
    {
        foreach (var span in batch) Spans.Enqueue(span);
        return ExportResult.Success;
    }
}

/// <summary>
/// One trace per generation: an API and a worker with tracing on (Tora:Tracing:Enabled and an in-memory exporter
/// each), on a database of their own; the only link between them is the traceparent stored with the generation.
/// </summary>
public sealed class TracingTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private WebApplicationFactory<Program> _api = null!;
    private IHost _worker = null!;
    private readonly CollectingExporter _apiSpans = new();
    private readonly CollectingExporter _workerSpans = new();
    private readonly string _blobs = TestData.TempFolder("tora-trace-blobs");

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_trace");
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tora"] = _database.ConnectionString,
            ["Tora:Storage:Root"] = _blobs,
            ["Tora:Models:0:Name"] = "tora-tiny",
            ["Tora:Models:0:NumFrames"] = "13",
            ["Tora:Models:0:Width"] = "160",
            ["Tora:Models:0:Height"] = "96",
            ["Tora:Models:0:Steps"] = "3",
            ["Tora:Webhooks:AllowLoopback"] = "true",
            ["Tora:Limits:RequestsPerMinute"] = "0",
            ["Tora:Tracing:Enabled"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        _api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
            b.ConfigureServices(s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddProcessor(new SimpleActivityExportProcessor(_apiSpans))));
        });
        _ = _api.Server;
        var worker = new Dictionary<string, string?>(settings)
        {
            ["Tora:Worker:Model"] = "tora-tiny",
            ["Tora:Worker:Name"] = "trace-worker",
        };
        var builder = WorkerHost.CreateBuilder([], worker);
        builder.Services.AddSingleton<IVideoGenerator>(new FakeVideoGenerator("tora-tiny"));
        builder.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddProcessor(new SimpleActivityExportProcessor(_workerSpans)));
        _worker = builder.Build();
        await Tora.Core.Database.DatabaseMigrator.MigrateAsync(_worker.Services.GetRequiredService<NpgsqlDataSource>());
        await _worker.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _worker.StopAsync(TimeSpan.FromSeconds(10));
        _worker.Dispose();
        await _api.DisposeAsync();
        await _database.DisposeAsync();
        try { Directory.Delete(_blobs, true); } catch (IOException) { }
    }

    [Fact]
    public async Task One_trace_runs_from_the_post_through_the_worker_phases_to_the_stored_video_and_the_webhook()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var key = (await _api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("traced", false, default)).Key;
        using var client = _api.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var created = await client.PostAsJsonAsync("/v1/generations", new
        {
            model = "tora-tiny", prompt = "a traced fox", steps = 3,
            webhook = new { url = receiver.BaseUrl + "/traced", events = new[] { "generation.succeeded" } },
        });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        var spans = await WaitForSpansAsync(s => s.Any(a => a.DisplayName == "webhook.deliver" && (string?)a.GetTagItem("tora.generation.id") == id));
        var post = spans.Single(a => a.Kind == ActivityKind.Server && a.GetTagItem("http.request.method") as string == "POST"
            && (a.GetTagItem("url.path") as string) == "/v1/generations");
        var trace = post.TraceId;
        var run = spans.Single(a => a.DisplayName == "generation.run" && (string?)a.GetTagItem("tora.generation.id") == id);
        Assert.Equal(trace, run.TraceId);
        Assert.Equal(post.SpanId, run.ParentSpanId); // continued from the stored traceparent, across the database
        var phases = spans.Where(a => a.TraceId == trace && a.ParentSpanId == run.SpanId).OrderBy(a => a.StartTimeUtc).ToList();
        Assert.Equal(["denoise", "encode_video", "storing"], phases.Select(p => p.DisplayName));
        Assert.Equal(3, phases[0].GetTagItem("tora.steps"));
        Assert.All(phases, p => Assert.True(p.Duration > TimeSpan.Zero && p.StartTimeUtc >= run.StartTimeUtc));
        var delivery = spans.Single(a => a.DisplayName == "webhook.deliver" && (string?)a.GetTagItem("tora.generation.id") == id);
        Assert.Equal(trace, delivery.TraceId);
        Assert.Equal(204, delivery.GetTagItem("http.response.status_code"));
        Assert.Contains(receiver.Received, r => r.Path == "/traced");

        var g = await client.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}");
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/generations/{id}/video")).StatusCode);
    }

    [Fact]
    public async Task A_problem_answer_carries_the_trace_id_of_its_request()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var client = _api.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { prompt = "" }) };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        var unauthorized = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(traceId, (await unauthorized.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("trace_id").GetString());

        var key = (await _api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("traced", false, default)).Key;
        using var invalid = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { model = "tora-tiny", prompt = "" }) };
        invalid.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        invalid.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
        var problem = await client.SendAsync(invalid);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, problem.StatusCode);
        Assert.Equal(traceId, (await problem.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("trace_id").GetString());
    }

    private async Task<List<Activity>> WaitForSpansAsync(Func<List<Activity>, bool> done)
    {
        var held = false;
        // Both providers listen to the in-process source, so a span may be exported twice: one per span id.
        var spans = await Wait.ForAsync(() => Task.FromResult(_apiSpans.Spans.Concat(_workerSpans.Spans).DistinctBy(a => a.SpanId).ToList()),
            s => held = done(s), TimeSpan.FromSeconds(60));
        if (!held) throw new TimeoutException("spans so far: " + string.Join(", ", spans.Select(s => $"{s.DisplayName} {s.TraceId}")));
        return spans;
    }
}
