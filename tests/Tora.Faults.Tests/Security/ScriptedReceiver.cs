using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tora.Faults.Tests.Security;

/// <summary>
/// A webhook receiver on 127.0.0.1 whose answer a test scripts by path: <c>/status/503</c> answers 503,
/// <c>/redirect/302/metadata</c> answers 302 with <c>Location: http://169.254.169.254/latest/meta-data/</c>
/// (<c>/private</c>: <c>http://10.0.0.1/</c>), anything else 204. Every answer closes the connection, so each
/// attempt connects afresh (and goes through the connect hook again).
/// </summary>
public sealed class ScriptedReceiver : IAsyncDisposable
{
    /// <summary>Where the redirects point.</summary>
    public static readonly IReadOnlyDictionary<string, string> Locations = new Dictionary<string, string>
    {
        ["metadata"] = "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        ["private"] = "http://10.0.0.1/",
    };

    private readonly WebApplication _app;

    private ScriptedReceiver(WebApplication app) => _app = app;

    /// <summary>Paths of every request received, in order.</summary>
    public ConcurrentQueue<string> Received { get; } = new();

    /// <summary>The port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Starts a receiver.</summary>
    public static async Task<ScriptedReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new ScriptedReceiver(app);
        app.Run(async http =>
        {
            await http.Request.Body.CopyToAsync(Stream.Null);
            var path = http.Request.Path.Value ?? "/";
            receiver.Received.Enqueue(path);
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            http.Response.Headers.Connection = "close";
            if (parts is ["status", var code, ..]) http.Response.StatusCode = int.Parse(code, System.Globalization.CultureInfo.InvariantCulture);
            else if (parts is ["redirect", var status, var where, ..])
            {
                http.Response.StatusCode = int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
                http.Response.Headers.Location = Locations[where];
            }
            else http.Response.StatusCode = 204;
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Port = new Uri(address).Port;
        return receiver;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
