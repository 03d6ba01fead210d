using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tora.Core.Tenancy;
using Xunit.Abstractions;

namespace Tora.Faults.Tests.Security;

/// <summary>
/// API keys are stored only as SHA-256 hashes and only the exact key authenticates, as its own tenant (issue 11),
/// against the real API process and its database.
/// </summary>
[Collection(SecurityCollection.Name)]
public sealed class ApiKeyTests(SecurityFixture service, ITestOutputHelper output)
{
    [Fact]
    public async Task Keys_are_stored_hashed_and_only_the_exact_key_authenticates_as_its_own_tenant()
    {
        await using var db = service.Cluster.Database();
        var gamma = await new ApiKeyStore(db).CreateAsync("gamma", false, default);
        var keys = new[] { service.AlphaKey, service.BetaKey, gamma.Key };

        // 1. The table holds hashes: every column of every row, as text, hex and base64, contains neither a key
        //    nor its secret part, nor any 8 characters of it (the display prefix keeps the first 6).
        var dump = new StringBuilder();
        await using (var cmd = db.CreateCommand(
            "SELECT row_to_json(k)::text, encode(key_hash, 'hex'), encode(key_hash, 'base64'), encode(key_hash, 'escape'), prefix FROM api_keys k"))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync())
                for (var i = 0; i < reader.FieldCount; i++) dump.Append(reader.GetString(i)).Append('\n');
        var text = dump.ToString();
        foreach (var key in keys)
        {
            var secret = key[ApiKeyStore.KeyPrefix.Length..];
            Assert.True(secret.Length >= 43, "a key carries 256 bits");
            Assert.DoesNotContain(key, text, StringComparison.Ordinal);
            for (var i = 0; i + 8 <= secret.Length; i++) Assert.DoesNotContain(secret.Substring(i, 8), text, StringComparison.Ordinal);
        }
        await using (var cmd = db.CreateCommand("SELECT key_hash FROM api_keys WHERE tenant = 'gamma'"))
            Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(gamma.Key)), (byte[])(await cmd.ExecuteScalarAsync())!);

        // 2. Only the exact key: one character off anywhere (first of the secret, middle, last), shorter, longer,
        //    another case, surrounding text: 401 problem+json.
        var sent = 0;
        var statuses = new Dictionary<int, int>();
        async Task<HttpStatusCode> TryAsync(string key)
        {
            sent++;
            using var client = service.Api.Client(key);
            using var response = await client.GetAsync("/v1/generations");
            statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal("unauthorized", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());
            }
            return response.StatusCode;
        }
        static string Flip(string key, int index) => key[..index] + (key[index] == 'A' ? 'B' : 'A') + key[(index + 1)..];
        var wrong = new List<string>();
        foreach (var key in keys)
        {
            Assert.Equal(HttpStatusCode.OK, await TryAsync(key));
            wrong.AddRange([Flip(key, key.Length - 1), Flip(key, ApiKeyStore.KeyPrefix.Length), Flip(key, key.Length / 2), key[..^1], key + "A",
                key.ToUpperInvariant(), key[..(ApiKeyStore.KeyPrefix.Length + 6)]]);
        }
        foreach (var key in wrong.Distinct().Where(k => !keys.Contains(k)))
            Assert.True(await TryAsync(key) == HttpStatusCode.Unauthorized, $"a wrong key was accepted: {key}");
        var refused = statuses.GetValueOrDefault(401);

        // 3. A key authenticates as its own tenant only: what beta creates is beta's, alpha and gamma cannot see it.
        using var beta = service.Api.Client(service.BetaKey);
        using var created = await beta.PostAsJsonAsync("/v1/generations", new { model = ServiceCluster.QueuedModel, prompt = "beta's prompt" });
        Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await using (var cmd = db.CreateCommand("SELECT tenant FROM generations WHERE id = $1"))
        {
            cmd.Parameters.Add(new() { Value = Guid.Parse(id) });
            Assert.Equal("beta", await cmd.ExecuteScalarAsync());
        }
        foreach (var other in new[] { service.AlphaKey, gamma.Key })
        {
            using var client = service.Api.Client(other);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/generations/{id}")).StatusCode);
            Assert.DoesNotContain(id, await client.GetStringAsync("/v1/generations"), StringComparison.Ordinal);
        }
        Assert.Equal(HttpStatusCode.OK, (await beta.GetAsync($"/v1/generations/{id}")).StatusCode);
        await beta.PostAsync($"/v1/generations/{id}/cancel", null);

        var serverErrors = statuses.Where(s => s.Key >= 500).Sum(s => s.Value);
        Assert.Equal(0, serverErrors);
        new FaultFigures("API keys: stored hashed; near-miss keys (one character off, truncated, extended, case) and other tenants' keys",
            sent, statuses.GetValueOrDefault(200), sent, 0, 0, serverErrors,
            $"{keys.Length} keys stored as SHA-256 only (no key, secret or 8-char piece of one in api_keys); {refused} near misses all 401; " +
            "each key sees only its own tenant's generations").Report(output);
    }
}
