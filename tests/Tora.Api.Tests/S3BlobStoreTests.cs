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

[Collection(ServiceCollection.Name)]
public sealed class S3BlobStoreTests(ServiceFixture service)
{
    [Fact]
    public async Task The_store_puts_reads_signs_and_deletes_objects_on_s3rver()
    {
        var s3 = await service.S3Async();
        S3BlobStore Store() => s3.Api.Services.GetRequiredService<S3BlobStore>();
        var store = Store();
        Assert.Null(await store.CheckAsync(default));
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        var key = BlobKeys.For("alpha", Guid.NewGuid(), "blob.bin");
        await store.PutBytesAsync(key, bytes, "application/octet-stream", default);
        await using (var read = await store.OpenReadAsync(key, default))
        {
            Assert.NotNull(read);
            Assert.Equal(5000, read!.Length);
            using var ms = new MemoryStream();
            await read.Content.CopyToAsync(ms);
            Assert.Equal(bytes, ms.ToArray()); // no aws-chunked framing stored
        }

        using var http = new HttpClient();
        var url = await store.GetDownloadUrlAsync(key, "application/octet-stream", default);
        Assert.Contains("X-Amz-Signature", url.Query);
        Assert.Equal(bytes, await http.GetByteArrayAsync(url));
        var ranged = new HttpRequestMessage(HttpMethod.Get, url);
        ranged.Headers.Range = new RangeHeaderValue(100, 199);
        var part = await http.SendAsync(ranged);
        Assert.Equal(HttpStatusCode.PartialContent, part.StatusCode);
        Assert.Equal(bytes.AsSpan(100, 100).ToArray(), await part.Content.ReadAsByteArrayAsync());
        // Short-lived: the configured lifetime (s3rver does not check presigned signatures, so only the URL is asserted).
        Assert.Contains("X-Amz-Expires=120", url.Query);

        await store.DeleteAsync(key, default);
        Assert.Null(await store.OpenReadAsync(key, default));
        await store.DeleteAsync(key, default); // missing is fine
    }

    [Fact]
    public async Task Videos_on_s3_download_through_a_signed_redirect_and_expire_from_the_bucket()
    {
        var s3 = await service.S3Async();
        S3BlobStore Store() => s3.Api.Services.GetRequiredService<S3BlobStore>();
        using var alpha = s3.Client(service.AlphaKey);
        var m = new HttpRequestMessage(HttpMethod.Post, "/v1/generations") { Content = JsonContent.Create(new { model = "tora-s3", prompt = "stored on s3" }) };
        m.Headers.Add("Prefer", "wait=60");
        var created = await alpha.SendAsync(m);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var g = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("succeeded", g.GetProperty("status").GetString());
        var id = g.GetProperty("id").GetGuid();

        var video = await alpha.GetAsync($"/v1/generations/{id}/video");
        Assert.Equal(HttpStatusCode.Redirect, video.StatusCode);
        var signed = video.Headers.Location!;
        Assert.StartsWith(s3.S3.Url + "/" + S3ServiceFixture.Bucket + "/", signed.AbsoluteUri);
        using var http = new HttpClient();
        var mp4 = await http.GetAsync(signed);
        Assert.Equal(HttpStatusCode.OK, mp4.StatusCode);
        var bytes = await mp4.Content.ReadAsByteArrayAsync();
        Assert.True(bytes.Length > 1000);
        Assert.Equal("ftyp", System.Text.Encoding.ASCII.GetString(bytes, 4, 4));
        var thumb = await alpha.GetAsync($"/v1/generations/{id}/thumbnail");
        Assert.Equal(HttpStatusCode.OK, thumb.StatusCode);
        Assert.Equal("image/jpeg", thumb.Content.Headers.ContentType!.MediaType);

        // Expire it and run the retention job of this instance: the objects are gone from the bucket.
        var row = await service.Api.Services.GetRequiredService<GenerationStore>().GetAnyAsync(id, default);
        await using (var db = NpgsqlDataSource.Create(service.ConnectionString))
        await using (var cmd = db.CreateCommand($"UPDATE generations SET expires_at = now() - interval '1 second' WHERE id = '{id}'"))
            await cmd.ExecuteNonQueryAsync();
        await s3.Api.Services.GetRequiredService<IRetentionJob>().RunAsync(default);
        Assert.Null(await Store().OpenReadAsync(row!.VideoKey!, default));
        Assert.Null(await Store().OpenReadAsync(row.ThumbnailKey!, default));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(signed)).StatusCode);
        Assert.Equal("expired", (await alpha.GetFromJsonAsync<JsonElement>($"/v1/generations/{id}")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Gone, (await alpha.GetAsync($"/v1/generations/{id}/video")).StatusCode);
    }
}
