using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Tora.Core.Webhooks;
using Tora.TestSupport;

namespace Tora.Faults.Tests.Security;

/// <summary>
/// The service for the security tests, on a database of its own:
/// <list type="bullet">
/// <item>the API as a real child process (<see cref="Api"/>: the accept path, body limits, keys, memory), running no
/// job server, so it never delivers a webhook itself;</item>
/// <item>the API in process (<see cref="InProcess"/>) with the production webhook settings (no loopback, no private
/// networks) and <see cref="Network"/> as its <see cref="IWebhookNetwork"/>: it runs every webhook delivery of this
/// database, through a connect hook that cannot reach anything but loopback;</item>
/// <item>a scripted webhook receiver on loopback (<see cref="Receiver"/>).</item>
/// </list>
/// </summary>
public sealed class SecurityFixture : IAsyncLifetime
{
    private TestDatabase? _database;
    private ServiceCluster? _cluster;
    private WebApplicationFactory<Program>? _inProcess;

    /// <summary>The connect hook and fake resolver of every webhook delivery.</summary>
    public LoopbackOnlyNetwork Network { get; } = new();
    /// <summary>The API child process.</summary>
    public ApiInstance Api { get; private set; } = null!;
    /// <summary>The processes.</summary>
    public ServiceCluster Cluster => _cluster!;
    /// <summary>The in-process API (webhook deliveries run here).</summary>
    public WebApplicationFactory<Program> InProcess => _inProcess!;
    /// <summary>The scripted receiver on 127.0.0.1.</summary>
    public WebhookReceiver Receiver { get; private set; } = null!;
    /// <summary>Key of tenant alpha.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";
    /// <summary>The file-system blob root.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("security-blobs");

    /// <summary>The webhook settings of the in-process API (production defaults but fast retries).</summary>
    public static WebhookOptions WebhookSettings => new()
    {
        AllowLoopback = false,
        AllowPrivateNetworks = false,
        RetryDelays = [TimeSpan.FromSeconds(1)],
        AttemptTimeout = TimeSpan.FromSeconds(5),
    };

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_security");
        _cluster = new ServiceCluster(_database.ConnectionString, BlobRoot);
        (AlphaKey, BetaKey) = await _cluster.PrepareDatabaseAsync();
        Receiver = await WebhookReceiver.StartAsync();
        // Scripted by path (/status/503, /redirect/302/metadata); every answer closes the connection, so each attempt
        // connects afresh (and goes through the connect hook again).
        Receiver.Respond = WebhookReceiver.ByPath;
        Receiver.CloseAfterAnswer = true;
        Api = await _cluster.StartApiAsync("api", new Dictionary<string, string> { ["Tora:Api:RunJobServer"] = "false" });

        var settings = new Dictionary<string, string>(_cluster.Settings)
        {
            ["Tora:Webhooks:AllowLoopback"] = "false",
            ["Tora:Webhooks:AllowPrivateNetworks"] = "false",
            ["Tora:Webhooks:RetryDelays:0"] = "00:00:01",
            ["Tora:Webhooks:AttemptTimeout"] = "00:00:05",
        };
        _inProcess = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
            b.ConfigureTestServices(s => s.AddSingleton<IWebhookNetwork>(Network));
        });
        _ = _inProcess.Server;
    }

    /// <summary>A client of the in-process API authenticated with <paramref name="key"/>.</summary>
    public HttpClient InProcessClient(string key)
    {
        var client = InProcess.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_inProcess is not null) await _inProcess.DisposeAsync();
        _cluster?.Dispose();
        if (Receiver is not null) await Receiver.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}

/// <summary>The security tests share one <see cref="SecurityFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class SecurityCollection : ICollectionFixture<SecurityFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "security";
}
