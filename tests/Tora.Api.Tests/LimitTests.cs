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

    /// <summary>Uses up the client tenant's rate limit (3 a minute) with invalid requests, which count all the same.</summary>
    private static async Task<IReadOnlyList<HttpResponseMessage>> UseUpTheRateLimitAsync(HttpClient client)
    {
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            var r = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "" });
            Assert.Equal(HttpStatusCode.UnprocessableEntity, r.StatusCode);
            answers.Add(r);
        }
        return answers;
    }

    private static Task<HttpResponseMessage> OneTooManyAsync(HttpClient client) =>
        client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "one too many" });

    [Fact]
    public async Task Each_answer_within_the_rate_limit_states_the_policy_and_the_requests_left()
    {
        using var client = await ClientOfAsync("ratelimited-headers");
        var answers = await UseUpTheRateLimitAsync(client);
        for (var i = 0; i < answers.Count; i++)
        {
            Assert.Equal("\"tenant\";q=3;w=60", answers[i].Headers.GetValues("RateLimit-Policy").Single());
            Assert.StartsWith($"\"tenant\";r={2 - i};t=", answers[i].Headers.GetValues("RateLimit").Single());
        }
    }

    [Fact]
    public async Task Over_the_rate_limit_answers_a_429_rate_limited_problem_with_retry_after_and_none_left()
    {
        using var client = await ClientOfAsync("ratelimited-refused");
        await UseUpTheRateLimitAsync(client);
        var refused = await OneTooManyAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        Assert.Equal("rate_limited", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 20);
        Assert.StartsWith("\"tenant\";r=0;t=", refused.Headers.GetValues("RateLimit").Single());
    }

    [Fact]
    public async Task A_tenant_over_its_rate_limit_does_not_limit_other_tenants()
    {
        using var client = await ClientOfAsync("ratelimited-alone");
        await UseUpTheRateLimitAsync(client);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await OneTooManyAsync(client)).StatusCode);
        using var alpha = service.Client(service.AlphaKey);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await alpha.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "" })).StatusCode);
    }

    /// <summary>Creates a <c>tora-text</c> generation (no worker serves it, so it stays queued) and returns its id.</summary>
    private static async Task<Guid> CreateAsync(HttpClient client, string prompt)
    {
        var r = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt });
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    /// <summary>Whether the outbox dispatcher has handed the generation to the job queue.</summary>
    private async Task<bool> DispatchedAsync(Guid id) =>
        (await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(id, default))!.JobId is not null;

    private async Task WaitDispatchedAsync(Guid id) =>
        await Wait.UntilAsync(() => DispatchedAsync(id), TimeSpan.FromSeconds(10), () => $"generation {id} dispatched", TimeSpan.FromMilliseconds(20));

    /// <summary>Two generations of <paramref name="tenant"/> (running cap 1), once the first has been dispatched.</summary>
    private async Task<(HttpClient Client, Guid First, Guid Second)> TwoJobsAtTheRunningCapAsync(string tenant)
    {
        var client = await ClientOfAsync(tenant);
        var first = await CreateAsync(client, "first");
        var second = await CreateAsync(client, "second");
        await WaitDispatchedAsync(first);
        return (client, first, second);
    }

    /// <summary>Cancels what a test left queued, so that no queued work stays behind for other tests.</summary>
    private static async Task CancelAllAsync(HttpClient client, params Guid[] ids)
    {
        foreach (var id in ids)
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/generations/{id}/cancel", null)).StatusCode);
    }

    [Fact]
    public async Task A_tenant_at_its_running_cap_has_its_next_job_held_back_from_dispatch()
    {
        var (client, first, second) = await TwoJobsAtTheRunningCapAsync("capped-running");
        using var _ = client;
        await Task.Delay(500); // several dispatcher passes
        Assert.False(await DispatchedAsync(second)); // held in the outbox: one job at a time for this tenant
        await CancelAllAsync(client, first, second);
    }

    [Fact]
    public async Task A_held_job_is_dispatched_once_the_tenants_running_job_finishes()
    {
        var (client, first, second) = await TwoJobsAtTheRunningCapAsync("capped-release");
        using var _ = client;
        Assert.False(await DispatchedAsync(second));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"/v1/generations/{first}/cancel", null)).StatusCode);
        await WaitDispatchedAsync(second);
        await CancelAllAsync(client, second);
    }

    [Fact]
    public async Task A_tenant_at_its_queued_cap_is_refused_with_a_429_too_many_queued_problem_and_retry_after_30_s()
    {
        using var client = await ClientOfAsync("capped-queued");
        // The cap counts every queued generation, dispatched or held back by the running cap.
        var queued = new[] { await CreateAsync(client, "first"), await CreateAsync(client, "second"), await CreateAsync(client, "third") };
        var refused = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "fourth" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType!.MediaType);
        Assert.Equal("too_many_queued", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter!.Delta);
        await CancelAllAsync(client, queued);
    }
}
