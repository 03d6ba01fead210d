using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Tora.TestSupport;
using Tora.TestSupport.Service;
using Tora.Worker;

namespace Tora.Api.Tests;

/// <summary>
/// The whole service against a real PostgreSQL database created for this test run (an <see cref="InProcessService"/>):
/// the API, a worker host running <see cref="FakeVideoGenerator"/> on the <c>tora-tiny</c> queue, and a worker host
/// with the real <see cref="UnavailableVideoGenerator"/> (no model package) on <c>tora-nogpu</c>. The model
/// <c>tora-text</c> has no worker, so its generations stay queued.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    /// <summary>The models: <c>tora-tiny</c> (fake generator), <c>tora-text</c> (no worker), <c>tora-nogpu</c>, <c>tora-proc</c> and <c>tora-real</c> (worker processes started by tests).</summary>
    public static readonly IReadOnlyList<ModelSettings> Models =
    [
        // 49: the length of the real model's videos (the client tests).
        new("tora-tiny", 13, 160, 96, 4) { AllowedNumFrames = [13, 9, 49], AllowedSizes = ["160x96", "96x160"], MaxSteps = 10, AcceptsFirstFrame = true },
        new("tora-text", 13, 160, 96, 4),
        new("tora-nogpu", 13, 160, 96, 4),
        new("tora-proc", 13, 160, 96, 4),
        // Served by a worker process running the real ONNX pipeline over the tiny package (WorkerProcessTests).
        new("tora-real", 49, 96, 64, 2),
    ];

    /// <summary>What the tests need beyond the models.</summary>
    private static readonly Dictionary<string, string?> Extra = new()
    {
        // The tests' webhook receiver is on loopback; production refuses such targets.
        ["Tora:Webhooks:AllowLoopback"] = "true",
        ["Tora:Webhooks:RetryDelays:0"] = "00:00:02",
        ["Tora:Webhooks:RetryDelays:1"] = "00:00:02",
        ["Tora:Webhooks:RetryDelays:2"] = "00:00:02",
        ["Tora:Webhooks:AttemptTimeout"] = "00:00:02",
        ["Tora:Events:HeartbeatInterval"] = "00:00:01",
        // No default limits (the suite sends many requests); the limit tests use tenants with their own limits.
        ["Tora:Limits:RequestsPerMinute"] = "0",
        ["Tora:Limits:Tenants:ratelimited-headers:RequestsPerMinute"] = "3",
        ["Tora:Limits:Tenants:ratelimited-refused:RequestsPerMinute"] = "3",
        ["Tora:Limits:Tenants:ratelimited-alone:RequestsPerMinute"] = "3",
        ["Tora:Limits:Tenants:capped-running:MaxRunning"] = "1",
        ["Tora:Limits:Tenants:capped-release:MaxRunning"] = "1",
        ["Tora:Limits:Tenants:capped-queued:MaxQueued"] = "3",
        ["Tora:Limits:Tenants:capped-queued:MaxRunning"] = "1",
        ["Tora:Limits:Tenants:fair-heavy:Weight"] = "2",
        // Short, so the key rotation test sees the old key stop working.
        ["Tora:Keys:RotationGracePeriod"] = "00:00:03",
    };

    private InProcessService? _service;
    private readonly Lazy<WebApplicationFactory<Program>> _secondApi;
    private readonly Lazy<Uri> _kestrelUrl;

    /// <summary>Creates the fixture (the service starts in <see cref="InitializeAsync"/>).</summary>
    public ServiceFixture()
    {
        _secondApi = new(() => Service.StartApi());
        _kestrelUrl = new(() => InProcessService.SocketAddress(Service.StartApi(onSocket: true)));
    }

    /// <summary>The running service.</summary>
    public InProcessService Service => _service ?? throw new InvalidOperationException("the service has not started");
    /// <summary>The API.</summary>
    public WebApplicationFactory<Program> Api => Service.Api;
    /// <summary>A second API instance on the same database (started on first use), for what must hold across instances.</summary>
    public WebApplicationFactory<Program> SecondApi => _secondApi.Value;
    /// <summary>The connection string of the test database.</summary>
    public string ConnectionString => Service.ConnectionString;
    /// <summary>Blob root.</summary>
    public string BlobRoot => Service.BlobRoot;
    /// <summary>Keys of tenant alpha, tenant beta, and an admin of tenant ops.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";
    /// <summary>Admin key of tenant ops.</summary>
    public string AdminKey { get; private set; } = "";
    /// <summary>The fake generator of the tora-tiny worker.</summary>
    public FakeVideoGenerator Fake { get; } = new("tora-tiny");

    /// <summary>Settings shared by the API and the workers.</summary>
    public Dictionary<string, string?> Settings() => Service.Settings();

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _service = await InProcessService.StartAsync("tora_test", Models, Extra);
        await _service.StartWorkerAsync("tora-tiny", Fake);
        await _service.StartWorkerAsync("tora-nogpu", null);
        AlphaKey = await _service.CreateKeyAsync("alpha");
        BetaKey = await _service.CreateKeyAsync("beta");
        AdminKey = await _service.CreateKeyAsync("ops", admin: true);
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

    /// <summary>
    /// The address of a second API instance of this service on a real loopback socket (Kestrel), started on first use,
    /// for clients that cannot use the in-memory test server (a proxy in another process).
    /// </summary>
    public Uri KestrelApiUrl() => _kestrelUrl.Value;

    /// <summary>A client of <paramref name="api"/> (default: the first instance) authenticated with <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key, WebApplicationFactory<Program>? api = null) => Service.Client(key, api);

    /// <summary>Polls a generation until it leaves queued/running or the timeout passes.</summary>
    public Task<JsonElement> WaitForTerminalAsync(HttpClient client, string location, TimeSpan timeout) =>
        Service.WaitForTerminalAsync(client, location, timeout);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_s3 is not null) await _s3.DisposeAsync();
        if (_service is not null) await _service.DisposeAsync();
    }
}

/// <summary>Tests sharing one running service.</summary>
[CollectionDefinition(Name)]
public sealed class ServiceCollection : ICollectionFixture<ServiceFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "service";
}
