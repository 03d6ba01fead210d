using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.TestSupport;

namespace Tora.Faults.Tests;

/// <summary>A child process with its output captured (for failure messages).</summary>
public sealed class ChildProcess(Process process, string name) : IDisposable
{
    private readonly StringBuilder _log = new();

    /// <summary>The operating-system process.</summary>
    public Process Process { get; } = process;

    /// <summary>The name given to the process (worker name or "api").</summary>
    public string Name { get; } = name;

    /// <summary>Everything the process wrote so far.</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    internal void Capture()
    {
        Process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: the process gets no chance to clean up (the fault under test).</summary>
    public void KillHard()
    {
        if (Process.HasExited) return;
        using (var kill = Process.Start("kill", ["-KILL", Process.Id.ToString()])!) kill.WaitForExit();
        Process.WaitForExit(30_000);
    }

    /// <summary>Stops the process (SIGTERM, then SIGKILL after 20 s); safe to call more than once.</summary>
    public void Stop()
    {
        try
        {
            if (Process.HasExited) return;
            using (var term = Process.Start("kill", ["-TERM", Process.Id.ToString()])!) term.WaitForExit();
            if (!Process.WaitForExit(20_000)) Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { } // never started or already reaped
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }
}

/// <summary>
/// The real service on loopback, as deployed: a private PostgreSQL database (from TORA_TEST_POSTGRES), Tora.Api as a
/// child process (<c>dotnet Tora.Api.dll --urls http://127.0.0.1:port</c>) and Tora.Worker child processes running the
/// real ONNX pipeline over the tiny model package. Every process is stopped in <see cref="DisposeAsync"/>.
/// </summary>
public sealed class FaultFixture : IAsyncLifetime
{
    /// <summary>The model served by the fault workers (the tiny package, real pipeline).</summary>
    public const string Model = "tora-fault";

    /// <summary>An image-to-video model no worker serves (its generations stay queued).</summary>
    public const string QueuedModel = "tora-queued";

    private readonly List<ChildProcess> _processes = [];
    private TestDatabase? _database;
    private ChildProcess? _api;

    /// <summary>The connection string of the private database.</summary>
    public string ConnectionString { get; private set; } = "";
    /// <summary>The file-system blob root shared by the API and the workers.</summary>
    public string BlobRoot { get; } = TestData.TempFolder("fault-blobs");
    /// <summary>The compiled tiny model package.</summary>
    public string Package { get; private set; } = "";
    /// <summary>The API's base address.</summary>
    public Uri BaseAddress { get; private set; } = null!;
    /// <summary>Keys of two tenants.</summary>
    public string AlphaKey { get; private set; } = "";
    /// <summary>Key of tenant beta.</summary>
    public string BetaKey { get; private set; } = "";
    /// <summary>The API process.</summary>
    public ChildProcess Api => _api!;

    /// <summary>Settings shared by the API and the workers (passed as environment variables).</summary>
    public Dictionary<string, string> Settings() => new()
    {
        ["ConnectionStrings:Tora"] = ConnectionString,
        ["Tora:Storage:Root"] = BlobRoot,
        ["Tora:Models:0:Name"] = Model,
        ["Tora:Models:0:NumFrames"] = "49",
        ["Tora:Models:0:Width"] = "96",
        ["Tora:Models:0:Height"] = "64",
        ["Tora:Models:0:Steps"] = "2",
        ["Tora:Models:0:MaxSteps"] = "1000",
        // No worker serves this model: its generations stay queued (targets for the probes and the fuzzer).
        ["Tora:Models:1:Name"] = QueuedModel,
        ["Tora:Models:1:NumFrames"] = "13",
        ["Tora:Models:1:Width"] = "160",
        ["Tora:Models:1:Height"] = "96",
        ["Tora:Models:1:Steps"] = "4",
        ["Tora:Models:1:AcceptsFirstFrame"] = "true",
        ["Tora:Limits:RequestsPerMinute"] = "0",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_faults");
        ConnectionString = _database.ConnectionString;
        await using (var db = NpgsqlDataSource.Create(ConnectionString))
        {
            await Tora.Core.Database.DatabaseMigrator.MigrateAsync(db);
            var keys = new ApiKeyStore(db);
            AlphaKey = (await keys.CreateAsync("alpha", false, default)).Key;
            BetaKey = (await keys.CreateAsync("beta", false, default)).Key;
        }

        Package = Path.Combine(TestData.TempFolder(), "package");
        Tora.Models.Package.PackageBuilder.Build(TestData.Path("fixtures/tiny-tora-t2v"), Package, Tora.Models.Package.Precision.Fp32);

        var port = FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        _api = Start("Tora.Api.dll", "api", Settings(), ["--urls", BaseAddress.ToString().TrimEnd('/')]);
        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            if (_api.Process.HasExited) throw new InvalidOperationException($"the API exited with {_api.Process.ExitCode}:\n{_api.Log}");
            try
            {
                if ((await probe.GetAsync("/health/live")).StatusCode == HttpStatusCode.OK) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the API did not answer /health/live within 90 s:\n{_api.Log}");
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// Starts a worker process for <see cref="Model"/> on the tiny package. A short invisibility timeout makes a
    /// killed worker's job visible to the others within seconds (production default: 5 minutes).
    /// </summary>
    public ChildProcess StartWorker(string name)
    {
        var settings = Settings();
        settings["Tora:Worker:Model"] = Model;
        settings["Tora:Worker:Name"] = name;
        settings["Tora:Worker:ModelPackage"] = Package;
        settings["Tora:Worker:HeartbeatInterval"] = "00:00:01";
        settings["Tora:Worker:JobInvisibilityTimeout"] = "00:00:08";
        return Start("Tora.Worker.dll", name, settings, []);
    }

    private ChildProcess Start(string dll, string name, Dictionary<string, string> settings, string[] args)
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
        var child = new ChildProcess(Process.Start(psi)!, name);
        lock (_processes) _processes.Add(child);
        child.Capture();
        return child;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A client of the API authenticated with <paramref name="key"/> (none when null).</summary>
    public HttpClient Client(string? key)
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>A data source on the private database (the caller disposes it).</summary>
    public NpgsqlDataSource Database() => NpgsqlDataSource.Create(ConnectionString);

    /// <summary>Output of every process started so far (for failure messages).</summary>
    public string Logs()
    {
        lock (_processes) return string.Join("\n", _processes.Select(p => $"--- {p.Name} ---\n{p.Log}"));
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        List<ChildProcess> all;
        lock (_processes) all = [.. _processes];
        foreach (var p in all) p.Dispose();
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
