using Microsoft.Playwright;
using Tora.TestSupport;
using Tora.TestSupport.Service;

namespace Tora.Web.Tests;

/// <summary>
/// The whole service on a real socket for a real browser (an <see cref="InProcessService"/>): the API on Kestrel
/// (loopback, a free port) against its own PostgreSQL database, a worker running <see cref="FakeVideoGenerator"/> (real frames, real MP4) on <c>tora-tiny</c>,
/// and Debian's Chromium (<c>/usr/bin/chromium</c>, installed by test.sh) driven by Playwright — no browser download.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>The models: <c>tora-tiny</c> (the fake generator) and <c>tora-queued</c>, which no worker serves (its generations stay queued, for cancelling).</summary>
    private static readonly IReadOnlyList<ModelSettings> Models =
    [
        new("tora-tiny", 13, 160, 96, 8) { AllowedNumFrames = [13], AllowedSizes = ["160x96"], MaxSteps = 20, AcceptsFirstFrame = true },
        new("tora-queued", 13, 160, 96, 4),
    ];

    private InProcessService? _service;
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

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _service = await InProcessService.StartAsync("tora_web", Models, onSocket: true);
        BaseUrl = InProcessService.SocketAddress(_service.Api).ToString().TrimEnd('/');
        await _service.StartWorkerAsync("tora-tiny", Fake);
        Key = await _service.CreateKeyAsync("web");

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
        if (_service is not null) await _service.DisposeAsync();
    }
}

/// <summary>Browser tests sharing one service and one Chromium.</summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "browser";
}
