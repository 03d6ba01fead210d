using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Tora.Worker;

/// <summary>
/// The worker's own HTTP port (<see cref="WorkerOptions.MetricsPort"/>): <c>/metrics</c> (Prometheus),
/// <c>/health/live</c> and <c>/health/ready</c> (<see cref="WorkerHealth"/>; 200 or 503 with a JSON reason).
/// The worker image's HEALTHCHECK probes <c>/health/live</c> here. Port 0: not started.
/// </summary>
public sealed class WorkerStatusServer(WorkerHealth health, IOptions<WorkerOptions> options) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>How old the last heartbeat may be before the worker reports itself not live.</summary>
    public TimeSpan StaleAfter => options.Value.HeartbeatInterval * 3 + TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.MetricsPort == 0) return; // off
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.ListenAnyIP(options.Value.MetricsPort));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/metrics", async (HttpContext context) =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted);
        });
        app.MapGet("/health/live", () => Answer(health.Live(StaleAfter)));
        app.MapGet("/health/ready", () => Answer(health.Ready(StaleAfter)));
        await app.StartAsync(cancellationToken);
        _app = app;
    }

    private static IResult Answer(WorkerHealthReport report) =>
        Results.Json(report, statusCode: report.Ok ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}
