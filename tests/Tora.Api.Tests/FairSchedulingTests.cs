using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Tora.Api.Generations;
using Tora.Core.Tenancy;

namespace Tora.Api.Tests;

/// <summary>
/// Fair scheduling across tenants through the real API (two instances, both dispatching), database and the one
/// tora-tiny worker; queue positions on tora-text, which has no worker, so nothing moves while they are read.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class FairSchedulingTests(ServiceFixture service)
{
    [Fact]
    public async Task A_burst_of_one_tenant_delays_another_tenants_first_generation_by_at_most_one_with_one_worker()
    {
        using var a = await ClientAsync("fair-a", second: false);
        using var b = await ClientAsync("fair-b", second: true);
        // Sent at once, and slow enough (2 steps of 400 ms) that the worker is still on A's first when B's arrives.
        var burst = (await Task.WhenAll(Enumerable.Range(0, 20).Select(i => CreateAsync(a, "tora-tiny", $"burst {i}, slowly", steps: 2))))
            .OrderBy(location => Guid.Parse(location.Split('/')[^1])).ToList();
        var late = await CreateAsync(b, "tora-tiny", "one late request");
        var position = (await b.GetFromJsonAsync<JsonElement>(late)).GetProperty("queue_position");
        try
        {
            var done = await service.WaitForTerminalAsync(b, late, TimeSpan.FromSeconds(120));
            Assert.Equal("succeeded", done.GetProperty("status").GetString());
            // Normally one of A's had started when B's arrived (s = 1), so B's starts before A's third; on a machine
            // slow enough that more had started, one more of A's (the one handed to the worker) at most goes first.
            var accepted = done.GetProperty("created_at").GetDateTimeOffset();
            var startedBefore = 0;
            foreach (var location in burst)
            {
                var g = await a.GetFromJsonAsync<JsonElement>(location);
                if (g.GetProperty("started_at").ValueKind != JsonValueKind.Null && g.GetProperty("started_at").GetDateTimeOffset() < accepted) startedBefore++;
            }
            Assert.InRange(startedBefore, 0, 18);
            var next = await service.WaitForTerminalAsync(a, burst[startedBefore + 1], TimeSpan.FromSeconds(60));
            Assert.True(done.GetProperty("started_at").GetDateTimeOffset() < next.GetProperty("started_at").GetDateTimeOffset(),
                $"B started {done.GetProperty("started_at")}, A's generation {startedBefore + 2} {next.GetProperty("started_at")} ({startedBefore} of A's had started)");
            // Ahead of it in the queue: at most A's generation already handed to the worker.
            if (position.ValueKind == JsonValueKind.Number) Assert.InRange(position.GetInt32(), 0, 1);
        }
        finally
        {
            foreach (var id in burst) await a.PostAsync($"{id}/cancel", null);
        }
    }

    [Fact]
    public async Task A_release_no_worker_claims_stops_holding_the_queue_once_the_worker_is_idle()
    {
        // A generation handed to the queue whose job was fetched by a worker that died before claiming it: Hangfire
        // hands the job out again only after its invisibility timeout (minutes).
        var stuck = Guid.CreateVersion7();
        await using var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString);
        await using (var cmd = db.CreateCommand("""
            INSERT INTO generations (id, tenant, model, queue, status, input, created_at, dispatched_at, job_id, total_steps)
            VALUES ($1, 'stuck', 'tora-tiny', 'gen-tora-tiny', 'queued', '{}', now(), now(), 'lost', 1)
            """))
        {
            cmd.Parameters.Add(new() { Value = stuck });
            await cmd.ExecuteNonQueryAsync();
        }
        try
        {
            using var client = await ClientAsync("after-stuck", second: false);
            var next = await CreateAsync(client, "tora-tiny", "runs all the same");
            var done = await service.WaitForTerminalAsync(client, next, TimeSpan.FromSeconds(60));
            Assert.Equal("succeeded", done.GetProperty("status").GetString());
            // It waited for the stuck release to be written off (5 s), not for Hangfire's invisibility timeout.
            Assert.True(done.GetProperty("timings").GetProperty("queued_ms").GetDouble() > 3000, done.ToString());
        }
        finally
        {
            await using var cmd = db.CreateCommand("DELETE FROM generations WHERE id = $1");
            cmd.Parameters.Add(new() { Value = stuck });
            await cmd.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task Queue_positions_follow_the_round_robin_order_across_tenants()
    {
        using var a = await ClientAsync("pos-a", second: false);
        using var b = await ClientAsync("pos-b", second: true);
        using var c = await ClientAsync("pos-c", second: false);
        var created = new List<(HttpClient Client, string Id, string Name)>();
        for (var i = 1; i <= 5; i++) created.Add((a, await CreateAsync(a, "tora-text", $"a{i}"), $"a{i}"));
        for (var i = 1; i <= 2; i++) created.Add((b, await CreateAsync(b, "tora-text", $"b{i}"), $"b{i}"));
        created.Add((c, await CreateAsync(c, "tora-text", "c1"), "c1"));
        await AssertOrderAsync(created, ["a1", "b1", "c1", "a2", "b2", "a3", "a4", "a5"]);
    }

    [Fact]
    public async Task A_tenant_of_weight_2_gets_two_turns_for_every_one_of_weight_1()
    {
        using var light = await ClientAsync("pos-light", second: false);
        using var heavy = await ClientAsync("fair-heavy", second: true);
        var created = new List<(HttpClient Client, string Id, string Name)>();
        for (var i = 1; i <= 3; i++) created.Add((light, await CreateAsync(light, "tora-text", $"l{i}"), $"l{i}"));
        for (var i = 1; i <= 4; i++) created.Add((heavy, await CreateAsync(heavy, "tora-text", $"h{i}"), $"h{i}"));
        await AssertOrderAsync(created, ["l1", "h1", "h2", "l2", "h3", "h4", "l3"]);
    }

    [Fact]
    public async Task The_202_answer_counts_the_queue_position_only_while_the_queue_is_short()
    {
        using var client = await ClientAsync("long-queue", second: false);
        var queue = Tora.Core.ModelDefinition.QueueFor("tora-text");
        await using var db = Npgsql.NpgsqlDataSource.Create(service.ConnectionString);
        await using (var fill = db.CreateCommand("""
            INSERT INTO generations (id, tenant, model, queue, status, input, created_at, total_steps)
            SELECT gen_random_uuid(), 'long-backlog', 'tora-text', $1, 'queued', '{}', now(), 1 FROM generate_series(1, $2)
            """))
        {
            fill.Parameters.Add(new() { Value = queue });
            fill.Parameters.Add(new() { Value = AcceptedQueuePosition.Limit });
            await fill.ExecuteNonQueryAsync();
        }
        var created = new List<string>();
        try
        {
            var response = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "behind a long queue" });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            created.Add(response.Headers.Location!.ToString());
            Assert.Equal(JsonValueKind.Null, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("queue_position").ValueKind);
            // A GET always counts: round-robin puts this tenant's first generation right behind the other tenant's first
            // (and the one released to the queue), however long that tenant's backlog.
            var read = await client.GetFromJsonAsync<JsonElement>(created[0]);
            Assert.InRange(read.GetProperty("queue_position").GetInt32(), 0, 2);

            await using (var clear = db.CreateCommand("DELETE FROM generations WHERE tenant = 'long-backlog'"))
                await clear.ExecuteNonQueryAsync();
            await Task.Delay(AcceptedQueuePosition.LongQueueMemory + TimeSpan.FromMilliseconds(200));
            response = await client.PostAsJsonAsync("/v1/generations", new { model = "tora-text", prompt = "the queue is short again" });
            created.Add(response.Headers.Location!.ToString());
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(JsonValueKind.Number, body.GetProperty("queue_position").ValueKind);
            Assert.Equal((await client.GetFromJsonAsync<JsonElement>(created[1])).GetProperty("queue_position").GetInt32(), body.GetProperty("queue_position").GetInt32());
        }
        finally
        {
            await using (var clear = db.CreateCommand("DELETE FROM generations WHERE tenant = 'long-backlog'"))
                await clear.ExecuteNonQueryAsync();
            foreach (var id in created) await client.PostAsync($"{id}/cancel", null);
        }
    }

    /// <summary>Reads every queue position (stable: the queue has no worker) and checks they rise in the expected order.</summary>
    private static async Task AssertOrderAsync(List<(HttpClient Client, string Id, string Name)> created, string[] expected)
    {
        try
        {
            // The dispatcher may release the first one meanwhile; give it a moment so the snapshot is stable.
            await Task.Delay(300);
            var positions = new Dictionary<string, int>();
            foreach (var (client, id, name) in created)
                positions[name] = (await client.GetFromJsonAsync<JsonElement>(id)).GetProperty("queue_position").GetInt32();
            var order = positions.OrderBy(p => p.Value).Select(p => p.Key).ToArray();
            Assert.True(expected.SequenceEqual(order), $"order {string.Join(", ", order)}; positions {string.Join(", ", positions.Select(p => $"{p.Key}={p.Value}"))}");
            Assert.Equal(positions.Count, positions.Values.Distinct().Count());
        }
        finally
        {
            foreach (var (client, id, _) in created) await client.PostAsync($"{id}/cancel", null);
        }
    }

    private async Task<HttpClient> ClientAsync(string tenant, bool second)
    {
        var key = (await service.Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync(tenant, false, default)).Key;
        return service.Client(key, second ? service.SecondApi : null);
    }

    private static async Task<string> CreateAsync(HttpClient client, string model, string prompt, int steps = 1)
    {
        var response = await client.PostAsJsonAsync("/v1/generations", new { model, prompt, steps });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return response.Headers.Location!.ToString();
    }
}
