using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.Inference;
using Tora.Worker;

namespace Tora.TestSupport.Service;

/// <summary>
/// The whole service in the test process against a PostgreSQL database of its own (on <c>TORA_TEST_POSTGRES</c>): API
/// instances in <see cref="WebApplicationFactory{TEntryPoint}"/> (in memory, or on a loopback socket for clients in
/// other processes) and worker hosts, all sharing one settings dictionary, one database and one blob root. A suite
/// configures it (models, extra settings, which workers with which generator) and disposes it once; every host it
/// started stops then, because Hangfire's job storage is process-wide and a host stopped early would take it from
/// the others.
/// </summary>
public sealed class InProcessService : IAsyncDisposable
{
    private readonly TestDatabase _database;
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly List<WebApplicationFactory<Program>> _apis = [];
    private readonly List<IHost> _workers = [];

    private InProcessService(TestDatabase database, string blobRoot, IReadOnlyDictionary<string, string?> settings)
    {
        _database = database;
        BlobRoot = blobRoot;
        _settings = settings;
    }

    /// <summary>The connection string of the service's database.</summary>
    public string ConnectionString => _database.ConnectionString;

    /// <summary>The filesystem blob root.</summary>
    public string BlobRoot { get; }

    /// <summary>The first API instance (started by <see cref="StartAsync"/>).</summary>
    public WebApplicationFactory<Program> Api => _apis[0];

    /// <summary>
    /// Creates the database (named <paramref name="name"/> plus a random suffix) and starts the first API instance
    /// (migrations, dispatcher) with <see cref="ServiceSettings.For"/> of <paramref name="models"/> and <paramref name="extra"/>.
    /// </summary>
    public static async Task<InProcessService> StartAsync(string name, IReadOnlyList<ModelSettings> models,
        IReadOnlyDictionary<string, string?>? extra = null, bool onSocket = false)
    {
        var database = await TestDatabase.CreateAsync(name);
        var blobRoot = TestData.TempFolder(name.Replace('_', '-') + "-blobs");
        var settings = ServiceSettings.For(database.ConnectionString, blobRoot, models);
        if (extra is not null) foreach (var (k, v) in extra) settings[k] = v;
        var service = new InProcessService(database, blobRoot, settings);
        service.StartApi(onSocket: onSocket);
        return service;
    }

    /// <summary>A copy of the settings every host of this service gets.</summary>
    public Dictionary<string, string?> Settings() => new(_settings);

    /// <summary>Starts another API instance on the same database, with <paramref name="overrides"/> on top of <see cref="Settings"/>.</summary>
    public WebApplicationFactory<Program> StartApi(IReadOnlyDictionary<string, string?>? overrides = null, bool onSocket = false)
    {
        var settings = Settings();
        if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
        var api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
        });
        lock (_apis) _apis.Add(api);
        if (onSocket)
        {
            api.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
            api.StartServer();
        }
        else
        {
            _ = api.Server;
        }
        return api;
    }

    /// <summary>The address of an API instance started with <c>onSocket</c>, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public static Uri SocketAddress(WebApplicationFactory<Program> api) =>
        new(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()
            .Replace("[::1]", "127.0.0.1", StringComparison.Ordinal));

    /// <summary>
    /// Starts a worker host on <paramref name="model"/>'s queue (heartbeat every second) serving its jobs with
    /// <paramref name="generator"/>, or with what the worker itself registers when null.
    /// </summary>
    public async Task<IHost> StartWorkerAsync(string model, IVideoGenerator? generator, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = Settings();
        settings["Tora:Worker:Model"] = model;
        settings["Tora:Worker:Name"] = $"test-{model}";
        settings["Tora:Worker:HeartbeatInterval"] = "00:00:01";
        if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
        var builder = WorkerHost.CreateBuilder([], settings);
        if (generator is not null) builder.Services.AddSingleton(generator);
        var host = builder.Build();
        await Tora.Core.Database.DatabaseMigrator.MigrateAsync(host.Services.GetRequiredService<NpgsqlDataSource>());
        await host.StartAsync();
        lock (_workers) _workers.Add(host);
        return host;
    }

    /// <summary>Creates an API key of <paramref name="tenant"/> (an admin key when <paramref name="admin"/>).</summary>
    public async Task<string> CreateKeyAsync(string tenant, bool admin = false) =>
        (await Api.Services.GetRequiredService<ApiKeyStore>().CreateAsync(tenant, admin, default)).Key;

    /// <summary>A client of <paramref name="api"/> (default: the first instance) authenticated with <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key, WebApplicationFactory<Program>? api = null)
    {
        var client = (api ?? Api).CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Polls a generation until it leaves queued/running; a timeout names its outbox and Hangfire state.</summary>
    public Task<JsonElement> WaitForTerminalAsync(HttpClient client, string location, TimeSpan timeout) =>
        GenerationPolling.WaitForTerminalAsync(client, location, timeout, DiagnoseAsync);

    /// <summary>The outbox and Hangfire state of a generation (for timeout messages).</summary>
    private async Task<string> DiagnoseAsync(Guid id)
    {
        await using var db = NpgsqlDataSource.Create(ConnectionString);
        await using var cmd = db.CreateCommand("""
            SELECT g.dispatched_at, g.job_id, j.statename,
                   (SELECT string_agg(s.name || ':' || coalesce(s.reason, '') || ':' || coalesce(s.data::text, ''), ' | ' ORDER BY s.id) FROM hangfire.state s WHERE s.jobid = j.id)
            FROM generations g LEFT JOIN hangfire.job j ON j.id::text = g.job_id WHERE g.id = $1
            """);
        cmd.Parameters.Add(new() { Value = id });
        await using var r = await cmd.ExecuteReaderAsync();
        if (!await r.ReadAsync()) return "no row";
        return string.Join("; ", Enumerable.Range(0, r.FieldCount).Select(i => r.IsDBNull(i) ? "null" : r.GetValue(i).ToString()));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var w in _workers)
        {
            await w.StopAsync(TimeSpan.FromSeconds(10));
            w.Dispose();
        }
        // The first instance last: it was first to start (migrations, the dispatcher's first pass).
        for (var i = _apis.Count - 1; i >= 0; i--) await _apis[i].DisposeAsync();
        await _database.DisposeAsync();
        try { Directory.Delete(BlobRoot, true); } catch (IOException) { }
    }
}
