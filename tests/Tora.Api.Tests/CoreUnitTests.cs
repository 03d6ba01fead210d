using Microsoft.Extensions.Options;
using Npgsql;
using Tora.Api.Generations;
using Tora.Core;
using Tora.Core.Blobs;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.TestSupport;
using Tora.Worker;

namespace Tora.Api.Tests;

public sealed class CoreUnitTests
{
    [Theory]
    [InlineData("$", "")]
    [InlineData("$.prompt", "/prompt")]
    [InlineData("$.trajectories[0].points[3][1]", "/trajectories/0/points/3/1")]
    [InlineData("$.metadata['a/b']", "/metadata/a~1b")]
    public void Json_paths_become_json_pointers(string path, string pointer) =>
        Assert.Equal(pointer, Tora.Motion.JsonPointer.FromPath(path));

    [Theory]
    [InlineData("t2v bf16 package /models/tora-t2v (49 frames 720x480) on CUDA", "t2v bf16 package <server path> (49 frames 720x480) on CUDA")]
    [InlineData("model package folder ./pkgs/x does not exist", "model package folder <server path> does not exist")]
    [InlineData(@"model package C:\models\x cannot be used: bad", "model package <server path> cannot be used: bad")]
    [InlineData("no worker is running for this model", "no worker is running for this model")]
    public void Model_details_shown_to_tenants_carry_no_server_paths(string detail, string shown) =>
        Assert.Equal(shown, Tora.Api.Apis.ModelsApi.WithoutServerPaths(detail));

    [Theory]
    [InlineData("alpha/0123/video.mp4", true)]
    [InlineData("../etc/passwd", false)]
    [InlineData("/abs/key", false)]
    [InlineData("a//b", false)]
    [InlineData("a/B.mp4", false)]
    [InlineData("a/./b", false)]
    public void Blob_keys_are_safe_relative_paths(string key, bool valid) => Assert.Equal(valid, BlobKeys.IsValid(key));

    [Fact]
    public async Task Filesystem_blob_store_round_trips_and_deletes_the_folder()
    {
        var root = TestData.TempFolder();
        var store = new FileSystemBlobStore(Options.Create(new StorageOptions { Root = root }));
        var key = BlobKeys.For("t", Guid.NewGuid(), "video.mp4");
        await store.PutBytesAsync(key, new byte[] { 1, 2, 3 }, "video/mp4", default);
        await using (var blob = await store.OpenReadAsync(key, default))
        {
            Assert.Equal(3, blob!.Length);
            Assert.True(blob.Content.CanSeek);
        }
        Assert.Null(await store.CheckAsync(default));
        await store.DeleteAsync(key, default);
        Assert.Null(await store.OpenReadAsync(key, default));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(root, "t")));
        await Assert.ThrowsAsync<ArgumentException>(() => store.PutBytesAsync("../x", new byte[1], "x", default));
    }

    [Fact]
    public void Unavailable_generator_says_precisely_why_no_video_can_be_made()
    {
        WorkerOptions o = new() { Model = "tora-t2v", ModelPackage = null };
        var previous = Environment.GetEnvironmentVariable("TORA_MODEL_PACKAGE");
        Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", null);
        try
        {
            Assert.Contains("no model package is configured", new UnavailableVideoGenerator(Options.Create(o)).Status.Detail);
        }
        finally { Environment.SetEnvironmentVariable("TORA_MODEL_PACKAGE", previous); }
        var missing = new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = "/nonexistent/pkg" }));
        Assert.False(missing.Status.Ready);
        Assert.Contains("does not exist", missing.Status.Detail);
        var empty = TestData.TempFolder();
        Assert.Contains("has no manifest.json", new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).Status.Detail);
        File.WriteAllText(Path.Combine(empty, "manifest.json"), "{ not json");
        Assert.Contains("cannot be used", new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).Status.Detail);
        var e = Assert.Throws<Tora.Inference.GenerationException>(() =>
            new UnavailableVideoGenerator(Options.Create(new WorkerOptions { ModelPackage = empty })).GenerateAsync(null!, null!, default).GetAwaiter().GetResult());
        Assert.Equal("model_unavailable", e.Code);
    }
}

/// <summary>The store and migrations against a real PostgreSQL database of their own.</summary>
public sealed class StoreTests : IAsyncLifetime
{
    private readonly string _database = $"tora_store_{Guid.NewGuid():N}";
    private NpgsqlDataSource _server = null!;
    private NpgsqlDataSource _db = null!;

    public async Task InitializeAsync()
    {
        var server = Environment.GetEnvironmentVariable("TORA_TEST_POSTGRES")
            ?? throw new InvalidOperationException("TORA_TEST_POSTGRES is not set: run the tests through ./test.sh");
        _server = NpgsqlDataSource.Create(server);
        await using (var cmd = _server.CreateCommand($"CREATE DATABASE \"{_database}\"")) await cmd.ExecuteNonQueryAsync();
        _db = ServiceCollectionExtensions.CreateDataSource(new NpgsqlConnectionStringBuilder(server) { Database = _database }.ConnectionString, "test");
    }

    public async Task DisposeAsync()
    {
        await _db.DisposeAsync();
        await using (var cmd = _server.CreateCommand($"DROP DATABASE IF EXISTS \"{_database}\" WITH (FORCE)")) await cmd.ExecuteNonQueryAsync();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Migrations_apply_once_even_when_started_concurrently()
    {
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => DatabaseMigrator.MigrateAsync(_db)));
        Assert.Equal(DatabaseMigrator.Migrations.Count, runs.Sum(r => r.Count));
        Assert.Empty(await DatabaseMigrator.MigrateAsync(_db));
    }

    [Fact]
    public async Task Only_the_job_that_owns_a_generation_can_run_it_and_a_finished_one_never_runs_again()
    {
        await DatabaseMigrator.MigrateAsync(_db);
        var store = new GenerationStore(_db);
        var g = new Generation
        {
            Id = Guid.CreateVersion7(), Tenant = "t", Status = GenerationStatus.Queued, Queue = "gen-x", CreatedAt = DateTimeOffset.UtcNow, TotalSteps = 3,
            Input = new GenerationInput { Model = "x", Prompt = "p", NumFrames = 9, Width = 16, Height = 16, Steps = 3, GuidanceScale = 6, DynamicCfg = true, Seed = 1, Fps = 8 },
        };
        await store.InsertAsync(g, default);
        // Not dispatched yet: no job owns it.
        Assert.Null(await store.TryClaimAsync(g.Id, "1", "w", default));
        await using (var cmd = _db.CreateCommand($"UPDATE generations SET dispatched_at = now(), job_id = '7' WHERE id = '{g.Id}'")) await cmd.ExecuteNonQueryAsync();
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
}

public sealed class GenerationIdTests
{
    [Fact]
    public void Ids_are_version_7_and_strictly_increasing_even_within_one_millisecond()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => GenerationIds.Next()).ToArray();
        Assert.All(ids, id => Assert.Equal(7, id.Version));
        Assert.All(ids, id => Assert.Equal(0b10, id.Variant >> 2));
        for (var i = 1; i < ids.Length; i++) Assert.True(ids[i - 1].CompareTo(ids[i]) < 0 && string.CompareOrdinal(ids[i - 1].ToString(), ids[i].ToString()) < 0);
    }
}
