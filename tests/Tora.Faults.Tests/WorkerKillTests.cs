using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>Fault 1 (issue 11): a worker killed with SIGKILL in the middle of a denoising loop, under a bounded load.</summary>
[Collection(FaultCollection.Name)]
public sealed class WorkerKillTests(FaultFixture service, ITestOutputHelper output)
{
    /// <summary>Denoising steps of the job whose worker is killed: on the tiny model a step takes ~25 ms, so the loop lasts ~25 s and the kill lands inside it even when polling is slow on a loaded machine.</summary>
    private const int VictimSteps = 1000;

    /// <summary>Steps of the other generations of the load (short: they keep both workers busy around the kill).</summary>
    private const int LoadSteps = 4;

    /// <summary>How often the test reads the generations it follows.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private static readonly object[] Trajectories = [new { points = new[] { new[] { 40, 208 }, new[] { 88, 148 }, new[] { 128, 68 }, new[] { 198, 76 } }, space = "canvas256" }];

    [Fact]
    public async Task A_job_whose_worker_is_killed_mid_loop_runs_again_on_a_live_worker_and_every_generation_succeeds_once()
    {
        var workers = new ConcurrentDictionary<string, ChildProcess>();
        workers["fault-worker-a"] = service.StartWorker("fault-worker-a");
        workers["fault-worker-b"] = service.StartWorker("fault-worker-b");
        var replacement = "fault-worker-c";
        var statuses = new ConcurrentBag<int>();
        try
        {
            using var alpha = service.Client(service.AlphaKey);
            async Task<string> SubmitAsync(int steps, int seed)
            {
                var created = await alpha.PostAsJsonAsync("/v1/generations", new
                {
                    model = FaultFixture.Model,
                    prompt = "A squirrel gathering nuts.",
                    steps,
                    seed,
                    trajectories = Trajectories,
                });
                statuses.Add((int)created.StatusCode);
                Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
                return created.Headers.Location!.ToString();
            }

            // The victim first (a worker takes it at once), then the rest of the bounded load behind it.
            var victim = await SubmitAsync(VictimSteps, 7);
            var load = FaultLoad.Requests(4);
            var others = new List<string>();
            for (var i = 0; i < load - 1; i++) others.Add(await SubmitAsync(LoadSteps, 100 + i));

            // Wait until a worker is inside the victim's loop (a step reported), then kill that worker without warning.
            var running = await GenerationPolling.WaitUntilAsync(alpha, victim, g => g.GetProperty("status").GetString() == "running"
                && g.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Object
                && p.TryGetProperty("step", out var s) && s.GetInt32() >= 1, "victim inside its denoising loop", TimeSpan.FromSeconds(120), Logs, Poll);
            var killedStep = running.GetProperty("progress").GetProperty("step").GetInt32();
            Assert.True(killedStep < VictimSteps, running.ToString());
            var owner = await WorkerOfAsync(Guid.Parse(running.GetProperty("id").GetString()!));
            Assert.True(workers.ContainsKey(owner), $"the victim runs on '{owner}', not on a fault worker");
            var killedAt = DateTime.UtcNow;
            workers[owner].KillHard();
            Assert.True(workers[owner].Process.HasExited);
            // The surviving worker keeps serving; a replacement joins, as an orchestrator would start one.
            workers[replacement] = service.StartWorker(replacement);

            var done = await GenerationPolling.WaitForTerminalAsync(alpha, victim, TimeSpan.FromSeconds(240), Logs, Poll);
            Assert.True(done.GetProperty("status").GetString() == "succeeded", $"{done}\n{service.Logs()}");
            Assert.True(done.GetProperty("attempts").GetInt32() >= 2, done.ToString());
            var recovered = (DateTime.UtcNow - killedAt).TotalSeconds;
            var finalWorker = await WorkerOfAsync(Guid.Parse(done.GetProperty("id").GetString()!));
            Assert.NotEqual(owner, finalWorker);

            var completed = 1;
            foreach (var location in others)
            {
                var g = await GenerationPolling.WaitForTerminalAsync(alpha, location, TimeSpan.FromSeconds(240), Logs, Poll);
                Assert.True(g.GetProperty("status").GetString() == "succeeded", $"{g}\n{service.Logs()}");
                completed++;
            }

            // Exactly one video (and its thumbnail) per generation, nothing half-written, nothing from the killed attempt;
            // exactly one terminal event per generation in the event log (what SSE and webhooks are built from).
            var duplicated = 0;
            foreach (var location in others.Prepend(victim))
            {
                var id = Guid.Parse(location.Split('/')[^1]);
                var files = Directory.EnumerateFiles(service.BlobRoot, "*", SearchOption.AllDirectories)
                    .Where(f => f.Contains(id.ToString("N"), StringComparison.Ordinal)).Select(f => Path.GetFileName(f)).Order().ToArray();
                Assert.Equal(new[] { "thumbnail.jpg", "video.mp4" }, files);
                var (terminal, succeeded) = await TerminalEventsAsync(id);
                Assert.Equal((1L, 1L), (terminal, succeeded));
                duplicated += (int)(terminal - 1);
                Assert.True((await alpha.GetByteArrayAsync(location + "/video")).Length > 1000);
            }
            Assert.Empty(Directory.EnumerateFiles(service.BlobRoot, "*.tmp", SearchOption.AllDirectories));

            var serverErrors = statuses.Count(s => s >= 500);
            new FaultFigures("Worker SIGKILL mid-denoising (2 workers, a replacement joins)", load, statuses.Count(s => s is >= 200 and < 300),
                completed, load - completed, duplicated, serverErrors,
                $"killed at step {killedStep} of {VictimSteps}; victim attempts {done.GetProperty("attempts").GetInt32()}, ran again on {finalWorker}, succeeded {recovered:F1} s after the kill (invisibility timeout 8 s)")
                .Report(output);
        }
        finally
        {
            foreach (var w in workers.Values) w.Stop();
        }
    }

    /// <summary>Why a generation did not get where it should: the output of every process.</summary>
    private Func<Guid, Task<string>> Logs => _ => Task.FromResult(service.Logs());

    private async Task<string> WorkerOfAsync(Guid id)
    {
        await using var db = service.Database();
        await using var cmd = db.CreateCommand("SELECT worker FROM generations WHERE id = $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await cmd.ExecuteScalarAsync()) as string ?? "";
    }

    private async Task<(long Terminal, long Succeeded)> TerminalEventsAsync(Guid id)
    {
        await using var db = service.Database();
        await using var cmd = db.CreateCommand("""
            SELECT count(*) FILTER (WHERE type = 'status' AND data->>'status' IN ('succeeded', 'failed', 'cancelled', 'expired')),
                   count(*) FILTER (WHERE type = 'status' AND data->>'status' = 'succeeded')
            FROM generation_events WHERE generation_id = $1
            """);
        cmd.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        return (r.GetInt64(0), r.GetInt64(1));
    }
}
