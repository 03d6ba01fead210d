using Npgsql;
using Tora.TestSupport;

namespace Tora.Faults.Tests;

/// <summary>
/// The real service on loopback for the tests that need no infrastructure fault: a private database on the shared
/// test cluster (TORA_TEST_POSTGRES), one API child process, and workers started by the tests.
/// </summary>
public sealed class FaultFixture : IAsyncLifetime
{
    /// <summary>The model served by the fault workers (the tiny package, real pipeline).</summary>
    public const string Model = ServiceCluster.Model;

    /// <summary>An image-to-video model no worker serves (its generations stay queued).</summary>
    public const string QueuedModel = ServiceCluster.QueuedModel;

    private TestDatabase? _database;
    private ServiceCluster? _cluster;
    private ApiInstance? _api;

    /// <summary>The processes.</summary>
    public ServiceCluster Cluster => _cluster!;
    /// <summary>The file-system blob root shared by the API and the workers.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("fault-blobs");
    /// <summary>The API's base address.</summary>
    public Uri BaseAddress => _api!.BaseAddress;
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";
    /// <summary>The API process.</summary>
    public ChildProcess Api => _api!.Process;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_faults");
        _cluster = new ServiceCluster(_database.ConnectionString, BlobRoot);
        (AlphaKey, BetaKey) = await _cluster.PrepareDatabaseAsync();
        _ = TinyPackage.Path;
        _api = await _cluster.StartApiAsync("api");
    }

    /// <inheritdoc cref="ServiceCluster.StartWorker"/>
    public ChildProcess StartWorker(string name) => Cluster.StartWorker(name);

    /// <summary>A client of the API authenticated with <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key) => _api!.Client(key);

    /// <summary>A data source on the private database (the caller disposes it).</summary>
    public NpgsqlDataSource Database() => Cluster.Database();

    /// <summary>Output of every process started so far (for failure messages).</summary>
    public string Logs() => Cluster.Logs();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        _cluster?.Dispose();
        if (_database is not null) await _database.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}

/// <summary>Tests sharing one running service.</summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection : ICollectionFixture<FaultFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "faults";
}
