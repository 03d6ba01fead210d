using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Core.Jobs;

namespace Tora.Api.Tests;

/// <summary>Videos of a service whose blob store is S3 (s3rver): signed redirects, and retention emptying the bucket.</summary>
[Collection(ServiceCollection.Name)]
public sealed class S3VideoDownloadTests(ServiceFixture service)
{
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
