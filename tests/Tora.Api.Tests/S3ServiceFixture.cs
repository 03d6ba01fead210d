using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Core.Jobs;
using Tora.TestSupport;
using Tora.Worker;

namespace Tora.Api.Tests;

/// <summary>
/// A second API instance and a worker (model <c>tora-s3</c>) on the shared test database, both with the S3 blob store
/// on s3rver. Started on first use by <see cref="ServiceFixture.S3Async"/> and stopped with the service (Hangfire's
/// global storage makes stopping one host of a process while others run unsafe). This API instance runs no job
/// server, so the retention and webhook jobs of the other tests stay with the main instance and its filesystem store.
/// </summary>
public sealed class S3ServiceFixture(ServiceFixture service) : IAsyncLifetime
{
    /// <summary>The bucket.</summary>
    public const string Bucket = S3Emulator.Bucket;
    private IHost? _worker;

    /// <summary>s3rver.</summary>
    public S3Emulator S3 { get; private set; } = null!;
    /// <summary>The API with the S3 store.</summary>
    public WebApplicationFactory<Program> Api { get; private set; } = null!;

    /// <summary>Shared settings plus the S3 store and the tora-s3 model.</summary>
    public Dictionary<string, string?> Settings()
    {
        var s = service.Settings();
        s["Tora:Api:RunJobServer"] = "false";
        s["Tora:Storage:Kind"] = "s3";
        s["Tora:Storage:S3:ServiceUrl"] = S3.Url;
        s["Tora:Storage:S3:Bucket"] = Bucket;
        s["Tora:Storage:S3:AccessKey"] = "S3RVER";
        s["Tora:Storage:S3:SecretKey"] = "S3RVER";
        s["Tora:Storage:S3:SignedUrlLifetime"] = "00:02:00";
        s["Tora:Models:4:Name"] = "tora-s3";
        s["Tora:Models:4:NumFrames"] = "13";
        s["Tora:Models:4:Width"] = "160";
        s["Tora:Models:4:Height"] = "96";
        s["Tora:Models:4:Steps"] = "3";
        return s;
    }

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        S3 = await S3Emulator.StartNewAsync();
        var settings = Settings();
        Api = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (k, v) in settings) b.UseSetting(k, v);
        });
        _ = Api.Server;
        settings["Tora:Worker:Model"] = "tora-s3";
        settings["Tora:Worker:Name"] = "test-tora-s3";
        var builder = WorkerHost.CreateBuilder([], settings);
        builder.Services.AddSingleton<Tora.Inference.IVideoGenerator>(new FakeVideoGenerator("tora-s3"));
        _worker = builder.Build();
        await _worker.StartAsync();
    }

    /// <summary>A client of the S3 API instance.</summary>
    public HttpClient Client(string key)
    {
        var client = Api.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_worker is not null)
        {
            await _worker.StopAsync(TimeSpan.FromSeconds(10));
            _worker.Dispose();
        }
        await Api.DisposeAsync();
        await S3.DisposeAsync();
    }
}
