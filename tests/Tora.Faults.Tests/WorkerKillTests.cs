using Xunit.Abstractions;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Tora.Faults.Tests;

/// <summary>Fault 1 (issue 11): a worker killed with SIGKILL in the middle of a denoising loop.</summary>
[Collection(FaultCollection.Name)]
public sealed class WorkerKillTests(FaultFixture service, ITestOutputHelper output)
{
    /// <summary>Denoising steps: on the tiny model a step takes ~25 ms, so the loop lasts ~12 s and the kill lands inside it even when polling is slow on a loaded machine.</summary>
    private const int Steps = 1000;

    [Fact]
    public async Task A_job_whose_worker_is_killed_mid_loop_runs_again_on_a_live_worker_and_succeeds_once()
    {
        using var first = service.StartWorker("fault-worker-a");
        ChildProcess? second = null;
        try
        {
            using var alpha = service.Client(service.AlphaKey);
            // Enough steps that the kill lands inside the denoising loop, not after it.
            var created = await alpha.PostAsJsonAsync("/v1/generations", new
            {
                model = FaultFixture.Model,
                prompt = "A squirrel gathering nuts.",
                steps = Steps,
                seed = 7,
                trajectories = new[] { new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 }, new[] { 198, 76 } }, space = "canvas256" } },
            });
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            var location = created.Headers.Location!.ToString();

            // Wait until the first worker is inside the loop (a step reported), then kill it without warning.
            var running = await WaitAsync(alpha, location, g => g.GetProperty("status").GetString() == "running"
                && g.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object
                && p.TryGetProperty("step", out var s) && s.GetInt32() >= 1, TimeSpan.FromSeconds(120));
            Assert.True(running.GetProperty("progress").GetProperty("step").GetInt32() < Steps, running.ToString());
            var killedAt = DateTime.UtcNow;
            first.KillHard();
            Assert.True(first.Process.HasExited);

            // A live worker takes the job once its invisibility timeout is over and runs it again from the start.
            second = service.StartWorker("fault-worker-b");
            var done = await WaitAsync(alpha, location, g => g.GetProperty("status").GetString() is not ("queued" or "running"),
                TimeSpan.FromSeconds(240));
            Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{service.Logs()}");
            Assert.True(done.GetProperty("attempts").GetInt32() >= 2, done.ToString());
            output.WriteLine($"killed at step {running.GetProperty("progress").GetProperty("step").GetInt32()}/{Steps}; " +
                $"succeeded {(DateTime.UtcNow - killedAt).TotalSeconds:F1} s after the kill, attempts {done.GetProperty("attempts").GetInt32()}");

            var id = done.GetProperty("id").GetString()!;
            var video = await alpha.GetByteArrayAsync(location + "/video");
            Assert.True(video.Length > 1000);

            // Exactly one video (and its thumbnail) in the store, nothing half-written, nothing from the killed attempt.
            var files = Directory.EnumerateFiles(service.BlobRoot, "*", SearchOption.AllDirectories)
                .Where(f => f.Contains(Guid.Parse(id).ToString("N"), StringComparison.Ordinal)).Select(f => Path.GetFileName(f)).Order().ToArray();
            Assert.Equal(new[] { "thumbnail.jpg", "video.mp4" }, files);
            Assert.Empty(Directory.EnumerateFiles(service.BlobRoot, "*.tmp", SearchOption.AllDirectories));

            // Exactly one terminal event in the generation's event log (what SSE and webhooks are built from).
            await using var db = service.Database();
            await using var cmd = db.CreateCommand("""
                SELECT count(*) FILTER (WHERE type = 'status' AND data->>'status' IN ('succeeded', 'failed', 'cancelled', 'expired')),
                       count(*) FILTER (WHERE type = 'status' AND data->>'status' = 'succeeded')
                FROM generation_events WHERE generation_id = $1
                """);
            cmd.Parameters.Add(new() { Value = Guid.Parse(id) });
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            Assert.Equal((1L, 1L), (r.GetInt64(0), r.GetInt64(1)));
        }
        finally
        {
            first.Stop();
            second?.Dispose();
        }
    }

    private async Task<JsonElement> WaitAsync(HttpClient client, string location, Func<JsonElement, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var g = await client.GetFromJsonAsync<JsonElement>(location);
            if (condition(g)) return g;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"condition not met after {timeout}: {g}\n{service.Logs()}");
            await Task.Delay(100);
        }
    }
}
