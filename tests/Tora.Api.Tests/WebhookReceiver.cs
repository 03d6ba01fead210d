using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tora.Api.Tests;

/// <summary>One request the receiver got: headers as sent, the raw body, when.</summary>
public sealed record ReceivedWebhook(string Path, string Id, string Timestamp, string Signature, byte[] Body, DateTimeOffset At);

/// <summary>A real HTTP webhook receiver on loopback (Kestrel on 127.0.0.1, any free port), answering as told.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>Every request received, in arrival order.</summary>
    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The status code to answer a request with (default 204).</summary>
    public Func<ReceivedWebhook, int> Respond { get; set; } = _ => 204;

    /// <summary>How long to wait before answering (to exercise the sender's per-attempt timeout).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>The base URL (http://127.0.0.1:PORT).</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>Starts a receiver.</summary>
    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var ms = new MemoryStream();
            await http.Request.Body.CopyToAsync(ms);
            var r = new ReceivedWebhook(http.Request.Path, http.Request.Headers["webhook-id"].ToString(),
                http.Request.Headers["webhook-timestamp"].ToString(), http.Request.Headers["webhook-signature"].ToString(),
                ms.ToArray(), DateTimeOffset.UtcNow);
            receiver.Received.Enqueue(r);
            if (receiver.Delay > TimeSpan.Zero) await Task.Delay(receiver.Delay, http.RequestAborted);
            http.Response.StatusCode = receiver.Respond(r);
        });
        await app.StartAsync();
        receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return receiver;
    }

    /// <summary>The requests to one path.</summary>
    public IReadOnlyList<ReceivedWebhook> At(string path) => Received.Where(r => r.Path == path).ToList();

    /// <summary>Waits until <paramref name="done"/> holds or the timeout passes.</summary>
    public async Task WaitUntilAsync(Func<bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"webhook receiver: {what} did not happen within {timeout}; got {Received.Count} requests");
            await Task.Delay(50);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
