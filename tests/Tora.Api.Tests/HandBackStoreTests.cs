using Npgsql;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>A worker stopping mid-job hands its generation back (issue 11, fault 6): the store's side of it.</summary>
public sealed class HandBackStoreTests : IAsyncLifetime
{
    private TestDatabase _database = null!;
    private NpgsqlDataSource _db = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_handback");
        _db = ServiceCollectionExtensions.CreateDataSource(_database.ConnectionString, "test");
        await DatabaseMigrator.MigrateAsync(_db);
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task A_handed_back_generation_is_queued_again_with_a_status_event_and_its_job_claims_it_again()
    {
        var store = new GenerationStore(_db);
        var id = await RunningAsync(store, "7");
        store.ReportProgress(id, "7", "denoise", 2);
        Assert.False(await store.HandBackAsync(id, "8", default)); // not its job
        Assert.True(await store.HandBackAsync(id, "7", default));
        var back = (await store.GetAsync("t", id, default))!;
        Assert.Equal((GenerationStatus.Queued, ServicePhases.HandedBack, 0), (back.Status, back.Phase, back.Step));
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
        var store = new GenerationStore(_db);
        var id = await RunningAsync(store, "9");
        Assert.Equal((GenerationStatus.Running, "9"), await store.RequestCancelAsync(id, "t", "cancelled", "by the client", default));
        Assert.False(await store.HandBackAsync(id, "9", default));
        Assert.Equal(GenerationStatus.Running, (await store.GetAsync("t", id, default))!.Status);
    }

    private async Task<Guid> RunningAsync(GenerationStore store, string jobId)
    {
        var g = new Generation
        {
            Id = Guid.CreateVersion7(), Tenant = "t", Status = GenerationStatus.Queued, Queue = "gen-x", CreatedAt = DateTimeOffset.UtcNow, TotalSteps = 3,
            Input = new GenerationInput { Model = "x", Prompt = "p", NumFrames = 9, Width = 16, Height = 16, Steps = 3, GuidanceScale = 6, DynamicCfg = true, Seed = 1, Fps = 8 },
        };
        await store.InsertAsync(g, default);
        await using (var cmd = _db.CreateCommand("UPDATE generations SET dispatched_at = now(), job_id = $2 WHERE id = $1"))
        {
            cmd.Parameters.Add(new() { Value = g.Id });
            cmd.Parameters.Add(new() { Value = jobId });
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.NotNull(await store.TryClaimAsync(g.Id, jobId, "w1", default));
        return g.Id;
    }
}
