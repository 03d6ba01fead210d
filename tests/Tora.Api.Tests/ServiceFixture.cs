using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.Inference;
using Tora.TestSupport;
using Tora.Worker;

namespace Tora.Api.Tests;

/// <summary>
/// The whole service against a real PostgreSQL database created for this test run (from TORA_TEST_POSTGRES): the API
/// in a WebApplicationFactory, a worker host running <see cref="FakeVideoGenerator"/> on the <c>tora-tiny</c> queue, and
/// a worker host with the real <see cref="UnavailableVideoGenerator"/> (no model package) on <c>tora-nogpu</c>.
/// The model <c>tora-text</c> has no worker, so its generations stay queued.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    private TestDatabase? _database;
    private readonly List<IHost> _workers = [];

    /// <summary>The API.</summary>
    public WebApplicationFactory<Program> Api { get; private set; } = null!;
    /// <summary>A second API instance on the same database (started on first use), for what must hold across instances.</summary>
    public WebApplicationFactory<Program> SecondApi => _secondApi.Value;
    private readonly Lazy<WebApplicationFactory<Program>> _secondApi;
    /// <summary>The connection string of the test database.</summary>
    public string ConnectionString { get; private set; } = "";
    /// <summary>Blob root.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("tora-blobs");
    /// <summary>Keys of tenant alpha, tenant beta, and an admin of tenant ops.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";
    /// <summary>Admin key of tenant ops.</summary>
    public string AdminKey { get; private set; } = "";
    /// <summary>The fake generator of the tora-tiny worker.</summary>
    public FakeVideoGenerator Fake { get; } = new("tora-tiny");

    /// <summary>Creates the fixture (the service starts in <see cref="InitializeAsync"/>).</summary>
    public ServiceFixture()
    {
        _secondApi = new(() =>
        {
            var settings = Settings();
            var api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            {
                foreach (var (k, v) in settings) b.UseSetting(k, v);
            });
            _ = api.Server;
            return api;
        });
    }

    /// <summary>Settings shared by the API and the workers.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        ["ConnectionStrings:Tora"] = ConnectionString,
        ["Tora:Storage:Root"] = BlobRoot,
        ["Tora:Models:0:Name"] = "tora-tiny",
        ["Tora:Models:0:NumFrames"] = "13",
        ["Tora:Models:0:AllowedNumFrames:0"] = "13",
        ["Tora:Models:0:AllowedNumFrames:1"] = "9",
        ["Tora:Models:0:AllowedNumFrames:2"] = "49", // the length of the real model's videos (the client tests)
        ["Tora:Models:0:Width"] = "160",
        ["Tora:Models:0:Height"] = "96",
        ["Tora:Models:0:AllowedSizes:0"] = "160x96",
        ["Tora:Models:0:AllowedSizes:1"] = "96x160",
        ["Tora:Models:0:Steps"] = "4",
        ["Tora:Models:0:MaxSteps"] = "10",
        ["Tora:Models:0:AcceptsFirstFrame"] = "true",
        ["Tora:Models:1:Name"] = "tora-text",
        ["Tora:Models:1:NumFrames"] = "13",
        ["Tora:Models:1:Width"] = "160",
        ["Tora:Models:1:Height"] = "96",
        ["Tora:Models:1:Steps"] = "4",
        ["Tora:Models:2:Name"] = "tora-nogpu",
        ["Tora:Models:2:NumFrames"] = "13",
        ["Tora:Models:2:Width"] = "160",
        ["Tora:Models:2:Height"] = "96",
        ["Tora:Models:2:Steps"] = "4",
        ["Tora:Models:3:Name"] = "tora-proc",
        ["Tora:Models:3:NumFrames"] = "13",
        ["Tora:Models:3:Width"] = "160",
        ["Tora:Models:3:Height"] = "96",
        ["Tora:Models:3:Steps"] = "4",
        // Served by a worker process running the real ONNX pipeline over the tiny package (WorkerProcessTests).
        ["Tora:Models:4:Name"] = "tora-real",
        ["Tora:Models:4:NumFrames"] = "49",
        ["Tora:Models:4:Width"] = "96",
        ["Tora:Models:4:Height"] = "64",
        ["Tora:Models:4:Steps"] = "2",
        // The tests' webhook receiver is on loopback; production refuses such targets.
        ["Tora:Webhooks:AllowLoopback"] = "true",
        ["Tora:Webhooks:RetryDelays:0"] = "00:00:02",
        ["Tora:Webhooks:RetryDelays:1"] = "00:00:02",
        ["Tora:Webhooks:RetryDelays:2"] = "00:00:02",
        ["Tora:Webhooks:AttemptTimeout"] = "00:00:02",
        ["Tora:Events:HeartbeatInterval"] = "00:00:01",
        // No default limits (the suite sends many requests); the limit tests use tenants with their own limits.
        ["Tora:Limits:RequestsPerMinute"] = "0",
        ["Tora:Limits:Tenants:ratelimited:RequestsPerMinute"] = "3",
        ["Tora:Limits:Tenants:capped:MaxQueued"] = "3",
        ["Tora:Limits:Tenants:capped:MaxRunning"] = "1",
        ["Tora:Limits:Tenants:fair-heavy:Weight"] = "2",
        // Short, so the key rotation test sees the old key stop working.
        ["Tora:Keys:RotationGracePeriod"] = "00:00:03",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_test");
        ConnectionString = _database.ConnectionString;

        var settings = Settings();
        Api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
        });
        _ = Api.Server; // starts the API: migrations, dispatcher

        await StartWorkerAsync("tora-tiny", Fake);
        await StartWorkerAsync("tora-nogpu", null);

        var keys = Api.Services.GetRequiredService<ApiKeyStore>();
        AlphaKey = (await keys.CreateAsync("alpha", false, default)).Key;
        BetaKey = (await keys.CreateAsync("beta", false, default)).Key;
        AdminKey = (await keys.CreateAsync("ops", true, default)).Key;
    }

    private async Task StartWorkerAsync(string model, IVideoGenerator? generator)
    {
        var settings = Settings();
        settings["Tora:Worker:Model"] = model;
        settings["Tora:Worker:Name"] = $"test-{model}";
        settings["Tora:Worker:HeartbeatInterval"] = "00:00:01";
        var builder = WorkerHost.CreateBuilder([], settings);
        if (generator is not null) builder.Services.AddSingleton(generator);
        var host = builder.Build();
        await Tora.Core.Database.DatabaseMigrator.MigrateAsync(host.Services.GetRequiredService<NpgsqlDataSource>());
        await host.StartAsync();
        _workers.Add(host);
    }

    private readonly SemaphoreSlim _s3Gate = new(1, 1);
    private S3ServiceFixture? _s3;

    /// <summary>The S3 instance (s3rver, a second API and a tora-s3 worker), started on first use.</summary>
    public async Task<S3ServiceFixture> S3Async()
    {
        await _s3Gate.WaitAsync();
        try
        {
            if (_s3 is null)
            {
                var s3 = new S3ServiceFixture(this);
                await s3.InitializeAsync();
                _s3 = s3;
            }
            return _s3;
        }
        finally
        {
            _s3Gate.Release();
        }
    }

    private WebApplicationFactory<Program>? _kestrelApi;
    private Uri? _kestrelUrl;

    /// <summary>
    /// The address of a second API instance of this service on a real loopback socket (Kestrel), started on first use,
    /// for clients that cannot use the in-memory test server (a proxy in another process). It lives as long as the
    /// fixture: Hangfire's job storage is process-wide, so an API host stopped early would take it from the others.
    /// </summary>
    public Uri KestrelApiUrl()
    {
        lock (_workers)
        {
            if (_kestrelUrl is not null) return _kestrelUrl;
            var settings = Settings();
            _kestrelApi = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            {
                foreach (var (k, v) in settings) b.UseSetting(k, v);
            });
            _kestrelApi.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
            _kestrelApi.StartServer();
            var addresses = _kestrelApi.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
                .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
            return _kestrelUrl = new Uri(addresses.First());
        }
    }

    /// <summary>A client of <paramref name="api"/> (default: the first instance) authenticated with <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key, WebApplicationFactory<Program>? api = null)
    {
        var client = (api ?? Api).CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Polls a generation until it leaves queued/running or the timeout passes.</summary>
    public async Task<JsonElement> WaitForTerminalAsync(HttpClient client, string location, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var g = await client.GetFromJsonAsync<JsonElement>(location);
            var status = g.GetProperty("status").GetString();
            if (status is not ("queued" or "running")) return g;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"generation still {status} after {timeout}: {g}\n{await DiagnoseAsync(g.GetProperty("id").GetGuid())}");
            await Task.Delay(50);
        }
    }

    /// <summary>The outbox and Hangfire state of a generation (for timeout messages).</summary>
    private async Task<string> DiagnoseAsync(Guid id)
    {
        await using var db = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = db.CreateCommand($"""
            SELECT g.dispatched_at, g.job_id, j.statename,
                   (SELECT string_agg(s.name || ':' || coalesce(s.reason, '') || ':' || coalesce(s.data::text, ''), ' | ' ORDER BY s.id) FROM hangfire.state s WHERE s.jobid = j.id)
            FROM generations g LEFT JOIN hangfire.job j ON j.id::text = g.job_id WHERE g.id = '{id}'
            """);
        await using var r = await cmd.ExecuteReaderAsync();
        if (!await r.ReadAsync()) return "no row";
        return string.Join("; ", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "null" : r.GetValue(i).ToString()));
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_s3 is not null) await _s3.DisposeAsync();
        if (_kestrelApi is not null) await _kestrelApi.DisposeAsync();
        foreach (var w in _workers)
        {
            await w.StopAsync(TimeSpan.FromSeconds(10));
            w.Dispose();
        }
        if (_secondApi.IsValueCreated) await _secondApi.Value.DisposeAsync();
        await Api.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}

/// <summary>Tests sharing one running service.</summary>
[CollectionDefinition(Name)]
public sealed class ServiceCollection : ICollectionFixture<ServiceFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "service";
}
