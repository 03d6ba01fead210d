using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.TestSupport;

namespace Tora.TestSupport.Service;

/// <summary>The tiny model package, compiled once per test process from <c>tests/data/fixtures/tiny-tora-t2v</c>.</summary>
public static class TinyPackage
{
    private static readonly Lazy<string> Compiled = new(() =>
    {
        var package = System.IO.Path.Combine(TestData.TempFolder("fault-package"), "package");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), package, Tora.Models.Package.Precision.Fp32);
        return package;
    });

    /// <summary>The package folder (compiled on first use; shared by every fixture of the process).</summary>
    public static string Path => Compiled.Value;
}

/// <summary>An API child process and its address.</summary>
public sealed class ApiInstance(ServiceCluster cluster, string name, Uri baseAddress, IReadOnlyDictionary<string, string> settings)
{
    /// <summary>The instance's name (its log prefix).</summary>
    public string Name { get; } = name;

    /// <summary>http://127.0.0.1:port — kept across restarts.</summary>
    public Uri BaseAddress { get; } = baseAddress;

    /// <summary>The running process (replaced by <see cref="RestartAsync"/>).</summary>
    public ChildProcess Process { get; internal set; } = null!;

    /// <summary>A client authenticated with <paramref name="key"/> (none when null); never follows redirects.</summary>
    public HttpClient Client(string? key, TimeSpan? timeout = null)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = BaseAddress,
            Timeout = timeout ?? TimeSpan.FromSeconds(60),
        };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Starts the process again on the same address (after <see cref="ChildProcess.Stop"/> or a kill).</summary>
    public Task RestartAsync() => cluster.LaunchApiAsync(this, settings);
}

/// <summary>
/// The real service on loopback, as deployed: API instances (<c>dotnet Tora.Api.dll --urls http://127.0.0.1:port</c>)
/// and worker processes (the real ONNX pipeline over <see cref="TinyPackage"/>) as child processes sharing one
/// database and one blob store. Every process is stopped on dispose.
/// </summary>
public sealed class ServiceCluster : IDisposable
{
    /// <summary>The model served by the fault workers (the tiny package, real pipeline).</summary>
    public const string Model = "tora-fault";

    /// <summary>An image-to-video model no worker serves (its generations stay queued).</summary>
    public const string QueuedModel = "tora-queued";

    private readonly List<ChildProcess> _processes = [];

    /// <summary>Creates a cluster on <paramref name="connectionString"/> with a filesystem blob store at <paramref name="blobRoot"/>.</summary>
    public ServiceCluster(string connectionString, string blobRoot)
    {
        ConnectionString = connectionString;
        BlobRoot = blobRoot;
        Settings = ServiceSettings.For(connectionString, blobRoot,
            [
                new(Model, 49, 96, 64, 2) { MaxSteps = 1000 },
                // No worker serves this model: its generations stay queued (targets for the probes and the fuzzer).
                new(QueuedModel, 13, 160, 96, 4) { AcceptsFirstFrame = true },
            ]).ToDictionary(s => s.Key, s => s.Value!);
        Settings["Tora:Limits:RequestsPerMinute"] = "0";
    }

    /// <summary>
    /// Creates a cluster whose processes get <paramref name="settings"/> (those of an <see cref="InProcessService"/>, so
    /// that a worker process joins it); the database and blob root are the ones they name.
    /// </summary>
    public ServiceCluster(IReadOnlyDictionary<string, string?> settings)
    {
        Settings = settings.ToDictionary(s => s.Key, s => s.Value ?? "");
        ConnectionString = Settings["ConnectionStrings:Tora"];
        BlobRoot = Settings["Tora:Storage:Root"];
    }

    /// <summary>The database every process uses.</summary>
    public string ConnectionString { get; }

    /// <summary>The filesystem blob root (also the S3 store's setting when <c>Tora:Storage:Kind</c> is s3; then unused).</summary>
    public string BlobRoot { get; }

    /// <summary>Settings every process gets (environment variables); change them before starting processes.</summary>
    public Dictionary<string, string> Settings { get; }

    /// <summary>Migrates the database and creates two tenants; returns their keys.</summary>
    public async Task<(string Alpha, string Beta)> PrepareDatabaseAsync()
    {
        await using var db = NpgsqlDataSource.Create(ConnectionString);
        await Tora.Core.Database.DatabaseMigrator.MigrateAsync(db);
        var keys = new ApiKeyStore(db);
        return ((await keys.CreateAsync("alpha", false, default)).Key, (await keys.CreateAsync("beta", false, default)).Key);
    }

    /// <summary>Starts an API instance on a free port and waits until it answers <c>/health/live</c>.</summary>
    public async Task<ApiInstance> StartApiAsync(string name, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var settings = new Dictionary<string, string>(Settings);
        if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
        var api = new ApiInstance(this, name, new Uri($"http://127.0.0.1:{FreePort()}"), settings);
        await LaunchApiAsync(api, settings);
        return api;
    }

    internal async Task LaunchApiAsync(ApiInstance api, IReadOnlyDictionary<string, string> settings)
    {
        var process = Start("Tora.Api.dll", api.Name, settings, ["--urls", api.BaseAddress.ToString().TrimEnd('/')]);
        api.Process = process;
        using var probe = new HttpClient { BaseAddress = api.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(async () =>
        {
            if (process.Process.HasExited) throw new InvalidOperationException($"{api.Name} exited with {process.Process.ExitCode}:\n{process.Log}");
            try
            {
                using var live = await probe.GetAsync("/health/live");
                return live.StatusCode == HttpStatusCode.OK;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(90), () => $"{api.Name} answering /health/live:\n{process.Log}", TimeSpan.FromMilliseconds(200));
    }

    /// <summary>
    /// Starts a worker process for <see cref="Model"/> on the tiny package. A short invisibility timeout makes a
    /// killed worker's job visible to the others within seconds (production default: 5 minutes).
    /// </summary>
    public ChildProcess StartWorker(string name, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var settings = new Dictionary<string, string>(Settings)
        {
            ["Tora:Worker:Model"] = Model,
            ["Tora:Worker:Name"] = name,
            ["Tora:Worker:ModelPackage"] = TinyPackage.Path,
            ["Tora:Worker:HeartbeatInterval"] = "00:00:01",
            ["Tora:Worker:JobInvisibilityTimeout"] = "00:00:08",
        };
        if (overrides is not null) foreach (var (k, v) in overrides) settings[k] = v;
        return Start("Tora.Worker.dll", name, settings, []);
    }

    /// <summary>
    /// Starts <paramref name="dll"/> (next to the tests) as <c>dotnet DLL ARGS</c> with <paramref name="settings"/> as
    /// environment variables, in Production, its output captured; it is stopped when the cluster is disposed.
    /// </summary>
    public ChildProcess Start(string dll, string name, IReadOnlyDictionary<string, string> settings, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, dll), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var (k, v) in settings) psi.Environment[k.Replace(":", "__")] = v;
        psi.Environment.Remove("TORA_MODEL_PACKAGE");
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        var child = new ChildProcess(System.Diagnostics.Process.Start(psi)!, name);
        lock (_processes) _processes.Add(child);
        child.Capture();
        return child;
    }

    /// <summary>A free TCP port on loopback.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A data source on the database (the caller disposes it).</summary>
    public NpgsqlDataSource Database() => NpgsqlDataSource.Create(ConnectionString);

    /// <summary>Output of every process started so far (for failure messages).</summary>
    public string Logs()
    {
        lock (_processes) return string.Join("\n", _processes.Select(p => $"--- {p.Name} ---\n{p.Log}"));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        List<ChildProcess> all;
        lock (_processes) all = [.. _processes];
        Parallel.ForEach(all, p => p.Dispose());
    }
}
