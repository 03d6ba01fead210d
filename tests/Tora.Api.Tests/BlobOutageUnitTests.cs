using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tora.Api.Problems;
using Tora.Core;
using Tora.Core.Blobs;
using Tora.TestSupport;

namespace Tora.Api.Tests;

/// <summary>
/// Blob store outages (issue 11, fault 4) without processes: what each store throws, the retry window, and the API's
/// mapping to 503. The end-to-end behaviour is in tests/Tora.Faults.Tests/BlobOutageTests.cs.
/// </summary>
public sealed class BlobOutageUnitTests
{
    [Fact]
    public async Task A_filesystem_root_replaced_by_a_file_makes_every_operation_unavailable_until_it_is_back()
    {
        var parent = TestData.TempFolder("blob-unit");
        var root = Path.Combine(parent, "root");
        var store = new FileSystemBlobStore(Options.Create(new StorageOptions { Root = root }));
        var key = BlobKeys.For("t", Guid.NewGuid(), "video.mp4");
        await store.PutBytesAsync(key, new byte[] { 1, 2, 3 }, "video/mp4", default);
        Assert.Null(await store.OpenReadAsync(BlobKeys.For("t", Guid.NewGuid(), "video.mp4"), default)); // missing object: null

        Directory.Move(root, root + ".away");
        await File.WriteAllTextAsync(root, "not a folder");
        var source = Path.Combine(parent, "source.bin");
        await File.WriteAllBytesAsync(source, [9, 9]);
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.PutBytesAsync(key, new byte[] { 4 }, "video/mp4", default));
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.PutFileAsync(key, source, "video/mp4", default));
        // Not "missing" (that would answer 410 file_gone for a video that still exists on the detached root).
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.OpenReadAsync(key, default));
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.DeleteAsync(key, default));
        Assert.Contains("not writable", await store.CheckAsync(default));

        // A root that is simply gone is unavailable too, for reads and deletes.
        File.Delete(root);
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.OpenReadAsync(key, default));
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => store.DeleteAsync(key, default));

        Directory.Move(root + ".away", root);
        Assert.Null(await store.CheckAsync(default));
        await using (var blob = await store.OpenReadAsync(key, default))
            Assert.Equal(3, blob!.Length);
        await store.DeleteAsync(key, default);
        Assert.Null(await store.OpenReadAsync(key, default));
        // A missing source file is the caller's error, not an outage.
        await Assert.ThrowsAsync<FileNotFoundException>(() => store.PutFileAsync(key, Path.Combine(parent, "nope.bin"), "video/mp4", default));
        Directory.Delete(parent, true);
    }

    [Fact]
    public async Task A_filesystem_write_that_fails_leaves_no_temporary_file()
    {
        var root = TestData.TempFolder("blob-unit");
        var store = new FileSystemBlobStore(Options.Create(new StorageOptions { Root = root }));
        var key = BlobKeys.For("t", Guid.NewGuid(), "video.mp4");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PutBytesAsync(key, new byte[1 << 20], "video/mp4", cancelled.Token));
        Assert.Empty(Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories));
        Directory.Delete(root, true);
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

    [Fact]
    public async Task The_retry_runs_again_while_the_store_is_unavailable_and_returns_once_it_works()
    {
        var calls = 0;
        var heard = new List<int>();
        var result = await new BlobStoreRetry(TimeSpan.FromSeconds(30)).RunAsync(_ =>
        {
            calls++;
            return calls < 3 ? throw new BlobStoreUnavailableException("down") : Task.FromResult(42);
        }, (_, attempt) => heard.Add(attempt), default);
        Assert.Equal(42, result);
        Assert.Equal(3, calls);
        Assert.Equal(new[] { 1, 2 }, heard);
    }

    [Fact]
    public async Task The_retry_gives_up_with_the_last_outage_once_the_window_has_passed()
    {
        var calls = 0;
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => new BlobStoreRetry(TimeSpan.FromMilliseconds(1200)).RunAsync(
            _ => throw new BlobStoreUnavailableException($"down {++calls}"), (_, _) => { }, default));
        Assert.Equal($"down {calls}", e.Message);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1100), clock.Elapsed.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
        // Tries at 0 s, 0.5 s and 1.2 s: the last pause is cut to the window's end, where the final try is made (only a
        // machine stalled for 0.7 s would skip the middle one).
        Assert.InRange(calls, 2, 3);

        calls = 0;
        await Assert.ThrowsAsync<BlobStoreUnavailableException>(() => new BlobStoreRetry(TimeSpan.Zero).RunAsync(
            _ => throw new BlobStoreUnavailableException($"down {++calls}"), (_, _) => { }, default));
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task The_retry_passes_other_failures_at_once_and_stops_waiting_when_cancelled()
    {
        var calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => new BlobStoreRetry(TimeSpan.FromMinutes(10)).RunAsync(
            _ => { calls++; throw new InvalidOperationException("bug"); }, (_, _) => { }, default));
        Assert.Equal(1, calls);

        using var cancel = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new BlobStoreRetry(TimeSpan.FromMinutes(10)).RunAsync(
            _ => throw new BlobStoreUnavailableException("down"), (_, _) => cancel.Cancel(), cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), clock.Elapsed.ToString());
    }

    [Fact]
    public void An_unhandled_outage_becomes_503_storage_unavailable_with_retry_after_never_500()
    {
        using var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddLogging().AddToraProblems().BuildServiceProvider();
        var customize = services.GetRequiredService<IOptions<ProblemDetailsOptions>>().Value.CustomizeProblemDetails!;
        var http = new DefaultHttpContext { Response = { StatusCode = 500 } };
        var context = new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = new ProblemDetails { Status = 500 },
            Exception = new BlobStoreUnavailableException("blob root /srv/blobs: cannot write a/b: disk full"),
        };
        customize(context);
        Assert.Equal(503, http.Response.StatusCode);
        Assert.Equal(503, context.ProblemDetails.Status);
        Assert.Equal("storage_unavailable", context.ProblemDetails.Extensions["code"]);
        Assert.Equal(ProblemPlumbing.StorageRetryAfterSeconds.ToString(), http.Response.Headers.RetryAfter.ToString());
        Assert.DoesNotContain("/srv/blobs", context.ProblemDetails.Detail); // the store's paths stay in the log

        // Anything else unhandled is still the generic 500.
        var other = new ProblemDetailsContext
        {
            HttpContext = new DefaultHttpContext(),
            ProblemDetails = new ProblemDetails { Status = 500 },
            Exception = new InvalidOperationException("bug"),
        };
        customize(other);
        Assert.Equal("internal_error", other.ProblemDetails.Extensions["code"]);
    }
}
