using Npgsql;
using Tora.TestSupport;

namespace Tora.Faults.Tests;

/// <summary>
/// A real multi-node deployment on loopback for faults 5 and 6 of issue 11: two API instances and two workers on one
/// database (its own, on the shared test cluster) and one S3 emulator as the shared blob store. Tests that stop or kill
/// a process put the deployment back with <see cref="EnsureAllUpAsync"/> before they start.
/// </summary>
public sealed class ScaleOutFixture : IAsyncLifetime
{
    private TestDatabase? _database;
    private readonly List<ChildProcess> _workers = [];
    private int _workerCount;

    /// <summary>The processes.</summary>
    public ServiceCluster Cluster { get; private set; } = null!;
    /// <summary>The shared blob store.</summary>
    public S3Emulator S3 { get; private set; } = null!;
    /// <summary>The first API instance.</summary>
    public ApiInstance ApiA { get; private set; } = null!;
    /// <summary>The second API instance.</summary>
    public ApiInstance ApiB { get; private set; } = null!;
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";

    /// <summary>The live workers (two after <see cref="EnsureAllUpAsync"/>).</summary>
    public IReadOnlyList<ChildProcess> Workers
    {
        get { lock (_workers) return [.. _workers.Where(w => !w.Process.HasExited)]; }
    }

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_scaleout");
        S3 = await S3Emulator.StartNewAsync();
        Cluster = new ServiceCluster(_database.ConnectionString, TestData.TempFolder("scaleout-unused-blobs"));
        foreach (var (k, v) in S3.Settings()) Cluster.Settings[k] = v;
        (AlphaKey, _) = await Cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        var a = Cluster.StartApiAsync("api-a");
        var b = Cluster.StartApiAsync("api-b");
        (ApiA, ApiB) = (await a, await b);
        await EnsureAllUpAsync();
    }

    /// <summary>
    /// Restarts an API instance that is down and starts workers until two are live and ready, each idle. The
    /// workers' invisibility timeout is a minute, so a test that sees a job move to another worker within seconds
    /// proves the job was handed back, not found again after the timeout.
    /// </summary>
    public async Task EnsureAllUpAsync()
    {
        foreach (var api in new[] { ApiA, ApiB })
            if (api.Process.Process.HasExited) await api.RestartAsync();
        lock (_workers)
        {
            _workers.RemoveAll(w => w.Process.HasExited);
            while (_workers.Count < 2)
            {
                var name = $"scale-w{++_workerCount}";
                _workers.Add(Cluster.StartWorker(name, new Dictionary<string, string> { ["Tora:Worker:JobInvisibilityTimeout"] = "00:01:00" }));
            }
        }
        // Ready: the worker has loaded the model and announced itself, so it fetches jobs from now on.
        var names = Workers.Select(w => w.Name).ToArray();
        await using var db = Cluster.Database();
        await Wait.UntilAsync(async () =>
        {
            await using var cmd = db.CreateCommand("SELECT count(*) FROM workers WHERE name = ANY($1) AND ready AND heartbeat_at > now() - interval '10 seconds'");
            cmd.Parameters.Add(new() { Value = names });
            if ((long)(await cmd.ExecuteScalarAsync())! == names.Length) return true;
            foreach (var w in Workers.Where(w => w.Process.HasExited))
                throw new InvalidOperationException($"{w.Name} exited with {w.Process.ExitCode}:\n{w.Log}");
            return false;
        }, TimeSpan.FromSeconds(120), () => $"workers {string.Join(", ", names)} ready:\n{Cluster.Logs()}", TimeSpan.FromMilliseconds(200));
    }

    /// <summary>A data source on the database (the caller disposes it).</summary>
    public NpgsqlDataSource Database() => Cluster.Database();

    /// <summary>The objects the S3 emulator holds for a generation (file names, e.g. video.mp4).</summary>
    public string[] StoredObjects(Guid id)
    {
        var folder = Path.Combine(S3.Folder, S3Emulator.Bucket);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*._S3rver_object", SearchOption.AllDirectories)
            .Where(f => f.Contains(id.ToString("N"), StringComparison.Ordinal))
            .Select(f => Path.GetFileName(f)[..^"._S3rver_object".Length]).Order(StringComparer.Ordinal).ToArray();
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        Cluster?.Dispose();
        if (S3 is not null) await S3.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
    }
}

/// <summary>The scale-out tests (their own deployment; collections run one at a time).</summary>
[CollectionDefinition(Name)]
public sealed class ScaleOutCollection : ICollectionFixture<ScaleOutFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "scale-out";
}
