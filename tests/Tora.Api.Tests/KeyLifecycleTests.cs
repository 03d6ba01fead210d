using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Tenancy;

namespace Tora.Api.Tests;

/// <summary>
/// The key lifecycle through the real API and database with two API instances: a key used (and so cached) on both
/// must be refused by both within 5 seconds of its revocation, rotation grace period or expiry.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class KeyLifecycleTests(ServiceFixture service)
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task An_admin_creates_lists_and_revokes_a_key_and_both_api_instances_refuse_it_within_5_seconds()
    {
        using var admin = service.Client(service.AdminKey);
        var response = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = "acme", admin = false, expires_in_days = 90, name = "ci" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var key = created.GetProperty("key").GetString()!;
        var id = created.GetProperty("id").GetGuid();
        Assert.StartsWith("tora_", key);
        Assert.Equal("acme", created.GetProperty("tenant").GetString());
        Assert.Equal("ci", created.GetProperty("name").GetString());
        Assert.Equal(key[..11], created.GetProperty("prefix").GetString());
        var expiresAt = created.GetProperty("expires_at").GetDateTimeOffset();
        Assert.InRange(expiresAt - created.GetProperty("created_at").GetDateTimeOffset(), TimeSpan.FromDays(90) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(90) + TimeSpan.FromMinutes(1));
        Assert.Equal($"/v1/admin/keys/{id}", response.Headers.Location!.ToString());

        // Used on both instances, so both have it cached.
        using var first = service.Client(key);
        using var second = service.Client(key, service.SecondApi);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/v1/generations")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/v1/generations")).StatusCode);

        var listed = await admin.GetStringAsync("/v1/admin/keys?tenant=acme");
        Assert.DoesNotContain(key[11..], listed, StringComparison.Ordinal);
        var row = JsonDocument.Parse(listed).RootElement.GetProperty("data").EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == id);
        Assert.False(row.TryGetProperty("key", out _));
        Assert.Equal("api_key", row.GetProperty("object").GetString());
        Assert.True(row.GetProperty("last_used_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(JsonValueKind.Null, row.GetProperty("revoked_at").ValueKind);
        var all = await admin.GetFromJsonAsync<JsonElement>("/v1/admin/keys");
        Assert.Contains(all.GetProperty("data").EnumerateArray(), k => k.GetProperty("tenant").GetString() == "alpha");
        Assert.DoesNotContain(all.GetProperty("data").EnumerateArray(), k => k.GetProperty("tenant").GetString() != "acme" && k.GetProperty("id").GetGuid() == id);

        // Revoked through the second instance; both refuse the key soon after.
        using var adminOnSecond = service.Client(service.AdminKey, service.SecondApi);
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await adminOnSecond.DeleteAsync($"/v1/admin/keys/{id}")).StatusCode);
        await RefusedWithinAsync(first, clock);
        await RefusedWithinAsync(second, clock);
        row = (await admin.GetFromJsonAsync<JsonElement>("/v1/admin/keys?tenant=acme")).GetProperty("data").EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == id);
        Assert.NotEqual(JsonValueKind.Null, row.GetProperty("revoked_at").ValueKind);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/keys/{id}")).StatusCode); // revoking twice is fine
        await AssertProblemAsync(await admin.DeleteAsync($"/v1/admin/keys/{Guid.NewGuid()}"), HttpStatusCode.NotFound, "not_found");
        await AssertProblemAsync(await admin.DeleteAsync("/v1/admin/keys/not-a-uuid"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Only_admin_keys_manage_keys()
    {
        using var alpha = service.Client(service.AlphaKey);
        await AssertProblemAsync(await alpha.PostAsJsonAsync("/v1/admin/keys", new { tenant = "alpha", admin = true }), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await alpha.GetAsync("/v1/admin/keys?tenant=alpha"), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await alpha.DeleteAsync($"/v1/admin/keys/{Guid.NewGuid()}"), HttpStatusCode.Forbidden, "forbidden");
        using var anonymous = service.Client(null);
        await AssertProblemAsync(await anonymous.GetAsync("/v1/admin/keys"), HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task Bad_key_fields_answer_422_with_pointers_and_create_nothing()
    {
        using var admin = service.Client(service.AdminKey);
        var bad = await admin.PostAsJsonAsync("/v1/admin/keys", new { tenant = "Not Valid", expires_in_days = 0, name = new string('n', 101) });
        var problem = await AssertProblemAsync(bad, HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal(["/tenant", "/expires_in_days", "/name"], problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("pointer").GetString()));
        var missing = await AssertProblemAsync(await admin.PostAsJsonAsync("/v1/admin/keys", new { admin = true }), HttpStatusCode.UnprocessableEntity, "validation_failed");
        Assert.Equal("/tenant", missing.GetProperty("errors")[0].GetProperty("pointer").GetString());
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/v1/admin/keys?tenant=Not Valid")).GetProperty("data").EnumerateArray());
    }

    [Fact]
    public async Task A_key_rotates_itself_and_the_old_key_works_for_the_grace_period_then_stops_on_both_instances()
    {
        var old = await service.Api.Services.GetRequiredService<ApiKeyStore>()
            .CreateAsync("rotating", false, "deploy", DateTimeOffset.UtcNow.AddDays(30), default);
        using var first = service.Client(old.Key);
        using var second = service.Client(old.Key, service.SecondApi);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/v1/generations")).StatusCode);

        var response = await first.PostAsync("/v1/keys/rotate", null);
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var rotated = await response.Content.ReadFromJsonAsync<JsonElement>();
        var next = rotated.GetProperty("key").GetString()!;
        Assert.NotEqual(old.Key, next);
        Assert.Equal("rotating", rotated.GetProperty("tenant").GetString());
        Assert.Equal("deploy", rotated.GetProperty("name").GetString());
        // The new key gets the old one's lifetime (30 days) from now.
        Assert.InRange(rotated.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1), TimeSpan.FromDays(30));
        var replaces = rotated.GetProperty("replaces");
        Assert.Equal(old.Info.Id, replaces.GetProperty("id").GetGuid());
        Assert.Equal(rotated.GetProperty("id").GetGuid(), replaces.GetProperty("replaced_by").GetGuid());
        Assert.InRange(replaces.GetProperty("expires_at").GetDateTimeOffset() - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(0), TimeSpan.FromSeconds(3));

        // A key rotates once.
        await AssertProblemAsync(await first.PostAsync("/v1/keys/rotate", null), HttpStatusCode.Conflict, "key_already_rotated");
        using var nextClient = service.Client(next, service.SecondApi);
        Assert.Equal(HttpStatusCode.OK, (await nextClient.GetAsync("/v1/generations")).StatusCode);

        // The grace period (3 s in the tests) ends: both instances refuse the old key, the new one keeps working.
        await RefusedWithinAsync(first, clock, TimeSpan.FromSeconds(3) + Within);
        await RefusedWithinAsync(second, clock, TimeSpan.FromSeconds(3) + Within);
        Assert.True(clock.Elapsed > TimeSpan.FromSeconds(2), "the old key stopped before its grace period ended");
        Assert.Equal(HttpStatusCode.OK, (await nextClient.GetAsync("/v1/generations")).StatusCode);
    }

    [Fact]
    public async Task An_expired_key_answers_401()
    {
        _ = service.SecondApi.Server; // started before the key's short life begins
        var key = await service.Api.Services.GetRequiredService<ApiKeyStore>()
            .CreateAsync("expiring", false, null, DateTimeOffset.UtcNow.AddSeconds(3), default);
        using var first = service.Client(key.Key);
        using var second = service.Client(key.Key, service.SecondApi);
        Assert.Equal(HttpStatusCode.OK, (await first.GetAsync("/v1/generations")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/v1/generations")).StatusCode);
        var clock = Stopwatch.StartNew();
        await RefusedWithinAsync(first, clock, TimeSpan.FromSeconds(3) + Within);
        await RefusedWithinAsync(second, clock, TimeSpan.FromSeconds(3) + Within);
    }

    private static async Task RefusedWithinAsync(HttpClient client, Stopwatch clock, TimeSpan? limit = null)
    {
        while (true)
        {
            using var r = await client.GetAsync("/v1/generations");
            if (r.StatusCode == HttpStatusCode.Unauthorized)
            {
                var problem = await AssertProblemAsync(r, HttpStatusCode.Unauthorized, "unauthorized");
                Assert.Contains("revoked or expired", problem.GetProperty("detail").GetString());
                return;
            }
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.True(clock.Elapsed < (limit ?? Within), $"the key still worked after {clock.Elapsed}");
            await Task.Delay(100);
        }
    }

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }
}
