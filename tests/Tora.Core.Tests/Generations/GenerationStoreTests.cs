using Npgsql;
using Tora.Contracts;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.TestSupport;

namespace Tora.Core.Tests.Generations;

/// <summary>The store against a real PostgreSQL database of its own: who may run a generation, and a worker handing one back.</summary>
public sealed class GenerationStoreTests() : DatabaseTest("tora_store", migrate: true)
{
    [Fact]
    public async Task Only_the_job_that_owns_a_generation_can_run_it_and_a_finished_one_never_runs_again()
    {
        var store = new GenerationStore(Db);
        var g = await InsertAsync(store);
        // Not dispatched yet: no job owns it.
        Assert.Null(await store.TryClaimAsync(g.Id, "1", "w", default));
        await DispatchAsync(g.Id, "7");
        Assert.Null(await store.TryClaimAsync(g.Id, "8", "w", default)); // a duplicate job
        var claimed = await store.TryClaimAsync(g.Id, "7", "w", default);
        Assert.Equal(GenerationStatus.Running, claimed!.Status);
        Assert.Equal(1, claimed.Attempts);
        var retried = await store.TryClaimAsync(g.Id, "7", "w2", default); // the same job again (retry or re-run after a crash)
        Assert.Equal(2, retried!.Attempts);
        store.ReportProgress(g.Id, "7", "denoise", 2);
        Assert.Equal(2, (await store.GetAsync("t", g.Id, default))!.Step);
        Assert.Null(await store.GetAsync("other", g.Id, default));
        Assert.True(await store.FailAsync(g.Id, "7", "boom", "it broke", default));
        Assert.Null(await store.TryClaimAsync(g.Id, "7", "w", default));
        Assert.False(await store.FailAsync(g.Id, "7", "again", "no", default));
    }

    // A worker stopping mid-job hands its generation back (docs/reliability.md): the store's side of it.
    [Fact]
    public async Task A_handed_back_generation_is_queued_again_with_a_status_event_and_its_job_claims_it_again()
    {
        var store = new GenerationStore(Db);
        var id = await RunningAsync(store, "7");
        store.ReportProgress(id, "7", "denoise", 2);
        Assert.False(await store.HandBackAsync(id, "8", default)); // not its job
        Assert.True(await store.HandBackAsync(id, "7", default));
        var back = (await store.GetAsync("t", id, default))!;
        Assert.Equal((GenerationStatus.Queued, GenerationPhases.HandedBack, 0), (back.Status, back.Phase, back.Step));
        Assert.False(await store.HandBackAsync(id, "7", default)); // no longer running

        var again = await store.TryClaimAsync(id, "7", "w2", default);
        Assert.Equal((GenerationStatus.Running, 2, "w2"), (again!.Status, again.Attempts, again.Worker));
        var statuses = (await store.ReadEventsAsync(again, 0, 100, default)).Where(e => e.Type == GenerationPayloads.StatusEvent)
            .Select(e => e.Generation.Status).ToArray();
        Assert.Equal(["queued", "running", "queued", "running"], statuses);
    }

    [Fact]
    public async Task A_generation_whose_cancel_was_requested_is_not_handed_back()
    {
        var store = new GenerationStore(Db);
        var id = await RunningAsync(store, "9");
        Assert.Equal((GenerationStatus.Running, "9"), await store.RequestCancelAsync(id, "t", "cancelled", "by the client", default));
        Assert.False(await store.HandBackAsync(id, "9", default));
        Assert.Equal(GenerationStatus.Running, (await store.GetAsync("t", id, default))!.Status);
    }

    private static async Task<Generation> InsertAsync(GenerationStore store)
    {
        var g = new Generation
        {
            Id = Guid.CreateVersion7(), Tenant = "t", Status = GenerationStatus.Queued, Queue = "gen-x", CreatedAt = DateTimeOffset.UtcNow, TotalSteps = 3,
            Input = new GenerationInput { Model = "x", Prompt = "p", NumFrames = 9, Width = 16, Height = 16, Steps = 3, GuidanceScale = 6, DynamicCfg = true, Seed = 1, Fps = 8 },
        };
        await store.InsertAsync(g, default);
        return g;
    }

    /// <summary>What the outbox dispatcher does once it has created the generation's job.</summary>
    private async Task DispatchAsync(Guid id, string jobId)
    {
        await using var cmd = Db.CreateCommand("UPDATE generations SET dispatched_at = now(), job_id = $2 WHERE id = $1");
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = jobId });
        await cmd.ExecuteNonQueryAsync();
    }

    private async Task<Guid> RunningAsync(GenerationStore store, string jobId)
    {
        var g = await InsertAsync(store);
        await DispatchAsync(g.Id, jobId);
        Assert.NotNull(await store.TryClaimAsync(g.Id, jobId, "w1", default));
        return g.Id;
    }
}
