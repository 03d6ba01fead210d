using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Generations;
using Tora.Core.Tenancy;

namespace Tora.Api.Tests;

[Collection(ServiceCollection.Name)]
public sealed class LimitTests(ServiceFixture service)
{
    private async Task<HttpClient> ClientOfAsync(string tenant) =>
        service.Client((await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync(tenant, false, default)).Key);

    [Fact]
    public async Task Over_the_rate_limit_answers_429_with_retry_after_and_ratelimit_headers()
    {
        using var client = await ClientOfAsync("ratelimited");
        for (var i = 0; i < 3; i++)
        {
            var r = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "" }); // invalid, still counted
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
            Assert.Equal("\"tenant\";q=3;w=60", r.Headers.GetValues("RateLimit-Policy").Single());
            Assert.StartsWith($"\"tenant\";r={2 - i};t=", r.Headers.GetValues("RateLimit").Single());
        }
        var refused = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "one too many" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        Assert.Equal("rate_limited", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 20);
        Assert.StartsWith("\"tenant\";r=0;t=", refused.Headers.GetValues("RateLimit").Single());
        // Other tenants are not affected.
        using var alpha = service.Client(service.AlphaKey);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "" })).StatusCode);
    }

    [Fact]
    public async Task Per_tenant_running_and_queued_caps_hold_jobs_back_and_refuse_with_429()
    {
        using var client = await ClientOfAsync("capped");
        var store = service.Api.Services.GetRequiredService<GenerationStore>();
        async Task<Guid> Create(string prompt)
        {
            var r = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt });
            Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
            return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }
        async Task<bool> Dispatched(Guid id) => (await store.GetAnyAsync(id, default))!.JobId is not null;

        var first = await Create("first");
        var second = await Create("second");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await Dispatched(first) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(await Dispatched(first));
        await Task.Delay(500); // several dispatcher passes
        Assert.False(await Dispatched(second)); // held in the outbox: one job at a time for this tenant

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/generations/{first}/cancel", null)).StatusCode);
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await Dispatched(second) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(await Dispatched(second));

        var third = await Create("third");
        var fourth = await Create("fourth"); // second, third, fourth queued: the cap of 3
        var refused = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "fifth" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("too_many_queued", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter!.Delta);
        foreach (var id in new[] { second, third, fourth }) // leave no queued work behind
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/generations/{id}/cancel", null)).StatusCode);
    }
}
