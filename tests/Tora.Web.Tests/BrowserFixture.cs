using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Playwright;
using Npgsql;
using Tora.Core.Tenancy;
using Tora.Inference;
using Tora.TestSupport;
using Tora.Worker;
using Tora.TestSupport.Service;

namespace Tora.Web.Tests;

/// <summary>
/// The whole service on a real socket for a real browser: the API on Kestrel (loopback, a free port) against its own
/// PostgreSQL database, a worker running <see cref="FakeVideoGenerator"/> (real frames, real MP4) on <c>tora-tiny</c>,
/// and Debian's Chromium (<c>/usr/bin/chromium</c>, installed by test.sh) driven by Playwright — no browser download.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private readonly string _blobRoot = TestData.TempFolder("tora-web-blobs");
    private TestDatabase? _database;
    private WebApplicationFactory<Program>? _api;
    private IHost? _worker;
    private IPlaywright? _playwright;

    /// <summary>The API's base address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string BaseUrl { get; private set; } = "";
    /// <summary>A key of tenant <c>web</c>.</summary>
    public string Key { get; private set; } = "";
    /// <summary>The browser.</summary>
    public IBrowser Browser { get; private set; } = null!;
    /// <summary>The fake generator (its step delay makes progress visible).</summary>
    public FakeVideoGenerator Fake { get; } = new("tora-tiny") { StepDelay = TimeSpan.FromMilliseconds(150) };
    /// <summary>Where the screenshots go: <c>.test-results/screenshots</c> (ignored by git, kept as CI artefacts).</summary>
    public string Screenshots { get; } = Path.Combine(TestData.RepositoryRoot, ".test-results", "screenshots");

    private Dictionary<string, string?> Settings(string connectionString) => new()
    {
        ["ConnectionStrings:Tora"] = connectionString,
        ["Tora:Storage:Root"] = _blobRoot,
        ["Tora:Models:0:Name"] = "tora-tiny",
        ["Tora:Models:0:NumFrames"] = "13",
        ["Tora:Models:0:AllowedNumFrames:0"] = "13",
        ["Tora:Models:0:Width"] = "160",
        ["Tora:Models:0:Height"] = "96",
        ["Tora:Models:0:AllowedSizes:0"] = "160x96",
        ["Tora:Models:0:Steps"] = "8",
        ["Tora:Models:0:MaxSteps"] = "20",
        ["Tora:Models:0:AcceptsFirstFrame"] = "true",
        // No worker serves this model: its generations stay queued (for cancelling).
        ["Tora:Models:1:Name"] = "tora-queued",
        ["Tora:Models:1:NumFrames"] = "13",
        ["Tora:Models:1:Width"] = "160",
        ["Tora:Models:1:Height"] = "96",
        ["Tora:Models:1:Steps"] = "4",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("tora_web");
        var connectionString = _database.ConnectionString;
        var settings = Settings(connectionString);

        _api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
        });
        _api.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        _api.StartServer();
        var addresses = _api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal);

        var workerSettings = Settings(connectionString);
        workerSettings["Tora:Worker:Model"] = "tora-tiny";
        workerSettings["Tora:Worker:Name"] = "web-tora-tiny";
        workerSettings["Tora:Worker:HeartbeatInterval"] = "00:00:01";
        var builder = WorkerHost.CreateBuilder([], workerSettings);
        builder.Services.AddSingleton<IVideoGenerator>(Fake);
        _worker = builder.Build();
        await Tora.Core.Database.DatabaseMigrator.MigrateAsync(_worker.Services.GetRequiredService<NpgsqlDataSource>());
        await _worker.StartAsync();

        Key = (await _api.Services.GetRequiredService<ApiKeyStore>().CreateAsync("web", false, default)).Key;

        Directory.CreateDirectory(Screenshots);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            ChromiumSandbox = false, // --no-sandbox: the tests run as root in CI
            // Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
            Args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
        });
    }

    /// <summary>A page at <paramref name="width"/>×<paramref name="height"/> with the key already stored, on <c>/</c>, ready.</summary>
    public async Task<IPage> OpenAsync(int width = 1280, int height = 800)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            AcceptDownloads = true,
        });
        context.SetDefaultTimeout(20_000);
        await context.AddInitScriptAsync($"localStorage.setItem('tora-key', {System.Text.Json.JsonSerializer.Serialize(Key)});");
        var page = await context.NewPageAsync();
        await page.GotoAsync("/");
        await page.WaitForSelectorAsync("body[data-ready=true]");
        return page;
    }

    /// <summary>Saves a screenshot (the full page, or the viewport only) as <c>NAME.png</c>.</summary>
    public Task ScreenshotAsync(IPage page, string name, bool fullPage = true) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = fullPage });

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        if (_worker is not null)
        {
            await _worker.StopAsync(TimeSpan.FromSeconds(10));
            _worker.Dispose();
        }
        if (_api is not null) await _api.DisposeAsync();
        if (_database is not null) await _database.DisposeAsync();
        try { Directory.Delete(_blobRoot, true); } catch (IOException) { }
    }
}

/// <summary>Browser tests sharing one service and one Chromium.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "browser";
}
