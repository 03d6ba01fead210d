using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Tora.Core;
using Tora.Core.Blobs;
using Tora.TestSupport;

namespace Tora.Core.Tests.Blobs;

/// <summary>The S3 blob store on s3rver, and against a service that is not there (docs/reliability.md).</summary>
public sealed class S3BlobStoreTests
{
    [Fact]
    public async Task The_store_puts_reads_signs_and_deletes_objects_on_s3rver()
    {
        await using var s3 = await S3Emulator.StartNewAsync();
        using var store = new S3BlobStore(Options.Create(new S3StorageOptions
        {
            ServiceUrl = s3.Url, Bucket = S3Emulator.Bucket, AccessKey = "S3RVER", SecretKey = "S3RVER", SignedUrlLifetime = TimeSpan.FromMinutes(2),
        }));
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
    public async Task An_unreachable_s3_service_is_unavailable_for_every_operation_and_fails_fast()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        using var store = new S3BlobStore(Options.Create(new S3StorageOptions
        {
            ServiceUrl = $"http://127.0.0.1:{port}", Bucket = "nowhere", AccessKey = "k", SecretKey = "s",
        }));
        var key = BlobKeys.For("t", Guid.NewGuid(), "video.mp4");
        var clock = Stopwatch.StartNew();
        var put = await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.PutBytesAsync(key, new byte[] { 1 }, "video/mp4", default));
        Assert.Contains("nowhere", put.Message);
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.OpenReadAsync(key, default));
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.DeleteAsync(key, default));
        Assert.NotNull(await store.CheckAsync(default));
        // Connection refused is answered within the SDK's own few quick retries, not after a long timeout.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), clock.Elapsed.ToString());
        // A cancel asked by the caller stays a cancel.
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.OpenReadAsync(key, cancelled.Token));
    }
}
