using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Tenancy;
using Tora.Worker;

namespace Tora.Api.Tests;

/// <summary>Usage through the real API, database and workers: one tenant's runs, its own view, the admin's view, the counters.</summary>
[Collection(ServiceCollection.Name)]
public sealed class UsageTests(ServiceFixture service)
{
    [Fact]
    public async Task Usage_counts_generations_by_status_gpu_seconds_by_phase_and_seconds_of_video_by_day_and_model()
    {
        var keys = service.Api.Services.GetRequiredService<ApiKeyStore>();
        using var tenant = service.Client((await keys.CreateAsync("usage-a", false, default)).Key);
        using var other = service.Client((await keys.CreateAsync("usage-b", false, default)).Key);
        var before = WorkerMetrics.TenantGenerations.WithLabels("usage-a", "tora-tiny", "succeeded").Value;
        var videoBefore = WorkerMetrics.TenantVideoSeconds.WithLabels("usage-a", "tora-tiny").Value;

        // Two succeed (13 frames at 8 and at 13 fps), one fails (no model on tora-nogpu), one is cancelled while queued.
        var runs = new[]
        {
            await CreateAsync(tenant, new { model = "tora-tiny", prompt = "usage one", steps = 2, fps = 8 }),
            await CreateAsync(tenant, new { model = "tora-tiny", prompt = "usage two", steps = 2, fps = 13 }),
            await CreateAsync(tenant, new { model = "tora-nogpu", prompt = "usage fails" }),
            await CreateAsync(other, new { model = "tora-tiny", prompt = "someone else's", steps = 2 }),
        };
        var queued = await CreateAsync(tenant, new { model = "tora-text", prompt = "usage cancelled" });
        Assert.Equal(HttpStatusCode.OK, (await tenant.PostAsync(queued + "/cancel", null)).StatusCode);
        Assert.Equal("succeeded", (await service.WaitForTerminalAsync(tenant, runs[0], TimeSpan.FromSeconds(60))).GetProperty("status").GetString());
        Assert.Equal("succeeded", (await service.WaitForTerminalAsync(tenant, runs[1], TimeSpan.FromSeconds(60))).GetProperty("status").GetString());
        Assert.Equal("failed", (await service.WaitForTerminalAsync(tenant, runs[2], TimeSpan.FromSeconds(60))).GetProperty("status").GetString());
        await service.WaitForTerminalAsync(other, runs[3], TimeSpan.FromSeconds(60));

        var today = DateTime.UtcNow.ToString("yyyy-MM-dd");
        var report = await tenant.GetFromJsonAsync<JsonElement>($"/v1/usage?from={today}");
        Assert.Equal("usage", report.GetProperty("object").GetString());
        var rows = report.GetProperty("data").EnumerateArray().ToList();
        Assert.All(rows, r => Assert.Equal("usage-a", r.GetProperty("tenant").GetString()));
        var tiny = rows.Single(r => r.GetProperty("model").GetString() == "tora-tiny");
        Assert.Equal(today, tiny.GetProperty("day").GetString());
        Assert.Equal(2, tiny.GetProperty("generations").GetProperty("succeeded").GetInt64());
        Assert.Equal(0, tiny.GetProperty("generations").GetProperty("failed").GetInt64());
        Assert.Equal(13.0 / 8 + 13.0 / 13, tiny.GetProperty("video_seconds").GetDouble(), 3);
        var phases = tiny.GetProperty("gpu_seconds_by_phase");
        Assert.True(phases.GetProperty("denoise").GetDouble() > 0);
        Assert.True(phases.GetProperty("store").GetDouble() >= 0);
        Assert.True(tiny.GetProperty("gpu_seconds").GetDouble() >= phases.EnumerateObject().Sum(p => p.Value.GetDouble()) - 0.01);
        var failed = rows.Single(r => r.GetProperty("model").GetString() == "tora-nogpu");
        Assert.Equal(1, failed.GetProperty("generations").GetProperty("failed").GetInt64());
        Assert.Equal(0, failed.GetProperty("video_seconds").GetDouble());
        var cancelled = rows.Single(r => r.GetProperty("model").GetString() == "tora-text");
        Assert.Equal(1, cancelled.GetProperty("generations").GetProperty("cancelled").GetInt64());
        Assert.Equal(0, cancelled.GetProperty("gpu_seconds").GetDouble());

        // Nothing before the range.
        var empty = await tenant.GetFromJsonAsync<JsonElement>("/v1/usage?from=2020-01-01&to=2020-02-01T00:00:00Z");
        Assert.Empty(empty.GetProperty("data").EnumerateArray());

        // The admin sees every tenant; a tenant key may not.
        using var admin = service.Client(service.AdminKey);
        var all = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/usage?from={today}");
        var tenants = all.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("tenant").GetString()).ToHashSet();
        Assert.Contains("usage-a", tenants);
        Assert.Contains("usage-b", tenants);
        var onlyB = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/usage?from={today}&tenant=usage-b");
        Assert.All(onlyB.GetProperty("data").EnumerateArray(), r => Assert.Equal("usage-b", r.GetProperty("tenant").GetString()));
        var forbidden = await tenant.GetAsync("/v1/admin/usage");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("application/problem+json", forbidden.Content.Headers.ContentType?.MediaType);

        // Bad ranges: 422 with pointers.
        var bad = await tenant.GetAsync("/v1/usage?from=yesterday&to=2020-13-45");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["/to", "/from"], problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()));
        var reversed = await tenant.GetAsync("/v1/usage?from=2026-02-01&to=2026-01-01");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reversed.StatusCode);
        // A 'to' at the start of time has no earlier default 'from': an empty report, never a 500.
        var earliest = await tenant.GetAsync("/v1/usage?to=0001-01-02");
        Assert.Equal(HttpStatusCode.OK, earliest.StatusCode);
        Assert.Empty((await earliest.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateArray());
        // A time with an offset (stored times are UTC).
        var offset = await tenant.GetFromJsonAsync<JsonElement>($"/v1/usage?from={today}T00:00:00%2B02:00");
        Assert.Equal(TimeSpan.Zero, offset.GetProperty("from").GetDateTimeOffset().Offset);
        Assert.NotEmpty(offset.GetProperty("data").EnumerateArray());

        // The same as Prometheus counters of the worker, labelled by tenant.
        Assert.Equal(2, WorkerMetrics.TenantGenerations.WithLabels("usage-a", "tora-tiny", "succeeded").Value - before);
        Assert.Equal(13.0 / 8 + 13.0 / 13, WorkerMetrics.TenantVideoSeconds.WithLabels("usage-a", "tora-tiny").Value - videoBefore, 3);
        Assert.True(WorkerMetrics.TenantGenerations.WithLabels("usage-a", "tora-nogpu", "failed").Value >= 1);
        Assert.True(WorkerMetrics.TenantPhaseSeconds.WithLabels("usage-a", "tora-tiny", "denoise").Value > 0);
    }

    private static async Task<string> CreateAsync(HttpClient client, object body)
    {
        var response = await client.PostAsJsonAsync("/v1/generations", body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return response.Headers.Location!.ToString();
    }
}
