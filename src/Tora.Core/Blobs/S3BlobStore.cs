using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace Tora.Core.Blobs;

/// <summary>S3-compatible blob store settings. Bound from <c>Tora:Storage:S3</c>; used when <c>Tora:Storage:Kind</c> is <c>s3</c>.</summary>
public sealed class S3StorageOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Tora:Storage:S3";

    /// <summary>Endpoint of an S3-compatible service (MinIO, Ceph, R2, s3rver…); empty for AWS itself (then <see cref="Region"/> picks it).</summary>
    public string? ServiceUrl { get; set; }
    /// <summary>Region (also the signing region of S3-compatible services).</summary>
    public string Region { get; set; } = "us-east-1";
    /// <summary>The bucket (must exist).</summary>
    public string Bucket { get; set; } = "";
    /// <summary>Access key id (empty: the SDK's default credential chain).</summary>
    public string? AccessKey { get; set; }
    /// <summary>Secret access key.</summary>
    public string? SecretKey { get; set; }
    /// <summary>Path-style addressing (<c>host/bucket/key</c>), which most S3-compatible services need.</summary>
    public bool ForcePathStyle { get; set; } = true;
    /// <summary>Lifetime of the signed URLs that video downloads redirect to.</summary>
    public TimeSpan SignedUrlLifetime { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Redirect video downloads to signed URLs (the store then serves Range and ETag itself); false streams through the API.</summary>
    public bool RedirectDownloads { get; set; } = true;
}

/// <summary>A blob store that can hand out short-lived signed URLs for direct downloads.</summary>
public interface ISignedUrlBlobStore : IBlobStore
{
    /// <summary>Whether downloads should be redirected to signed URLs.</summary>
    bool RedirectDownloads { get; }

    /// <summary>A signed GET URL of an object, valid for the configured lifetime.</summary>
    Task<Uri> GetDownloadUrlAsync(string key, string contentType, CancellationToken cancellationToken);
}

/// <summary>
/// Blobs in an S3-compatible bucket through AWSSDK.S3. Uploads are single PUTs without aws-chunked encoding
/// (docs/operations.md §6: s3rver and some other S3-compatible servers would store the chunk framing in the object).
/// </summary>
public sealed class S3BlobStore : ISignedUrlBlobStore, IDisposable
{
    /// <summary>Largest object read into memory for a seekable stream (videos are a few MB).</summary>
    private const long MaxBufferedRead = 256L * 1024 * 1024;

    private readonly AmazonS3Client _client;
    private readonly S3StorageOptions _options;

    /// <summary>Creates the client from <see cref="S3StorageOptions"/>.</summary>
    public S3BlobStore(IOptions<S3StorageOptions> options)
    {
        _options = options.Value;
        var config = new AmazonS3Config { ForcePathStyle = _options.ForcePathStyle, AuthenticationRegion = _options.Region };
        if (!string.IsNullOrEmpty(_options.ServiceUrl)) config.ServiceURL = _options.ServiceUrl;
        else config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(_options.Region);
        _client = string.IsNullOrEmpty(_options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(_options.AccessKey, _options.SecretKey), config);
    }

    /// <inheritdoc />
    public bool RedirectDownloads => _options.RedirectDownloads;

    /// <inheritdoc />
    public Task PutFileAsync(string key, string sourcePath, string contentType, CancellationToken cancellationToken) =>
        PutAsync(new PutObjectRequest { Key = Checked(key), FilePath = sourcePath, ContentType = contentType }, cancellationToken);

    /// <inheritdoc />
    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken)
    {
        using var stream = new MemoryStream(content.ToArray(), writable: false);
        await PutAsync(new PutObjectRequest { Key = Checked(key), InputStream = stream, ContentType = contentType }, cancellationToken);
    }

    /// <summary>One whole PUT (no chunked encoding: some S3-compatible servers would store its framing in the object).</summary>
    private async Task PutAsync(PutObjectRequest request, CancellationToken cancellationToken)
    {
        request.BucketName = _options.Bucket;
        request.UseChunkEncoding = false;
        try
        {
            await _client.PutObjectAsync(request, cancellationToken);
        }
        catch (Exception e) when (IsStoreFault(e, cancellationToken))
        {
            throw Unavailable($"cannot write {request.Key}", e);
        }
    }

    /// <inheritdoc />
    public async Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var checkedKey = Checked(key);
        try
        {
            using var response = await _client.GetObjectAsync(_options.Bucket, checkedKey, cancellationToken);
            if (response.ContentLength > MaxBufferedRead)
                throw new InvalidOperationException($"object {key} is {response.ContentLength} bytes, larger than the API streams itself; enable RedirectDownloads");
            var buffer = new MemoryStream((int)Math.Max(0, response.ContentLength));
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            buffer.Position = 0;
            var modified = response.LastModified is { } m ? new DateTimeOffset(DateTime.SpecifyKind(m, DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
            return new BlobContent(buffer, buffer.Length, modified);
        }
        catch (AmazonS3Exception e) when (IsMissingObject(e))
        {
            return null;
        }
        catch (Exception e) when (IsStoreFault(e, cancellationToken))
        {
            throw Unavailable($"cannot read {key}", e);
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var checkedKey = Checked(key);
        try
        {
            await _client.DeleteObjectAsync(_options.Bucket, checkedKey, cancellationToken);
        }
        catch (AmazonS3Exception e) when (IsMissingObject(e))
        {
            // Already gone.
        }
        catch (Exception e) when (IsStoreFault(e, cancellationToken))
        {
            throw Unavailable($"cannot delete {key}", e);
        }
    }

    /// <inheritdoc />
    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        var key = $"health/{Guid.NewGuid():N}.txt";
        try
        {
            await PutBytesAsync(key, "ok"u8.ToArray(), "text/plain", cancellationToken);
            await using (var read = await OpenReadAsync(key, cancellationToken))
                if (read is null || read.Length != 2) return $"S3 bucket {_options.Bucket}: an object just written could not be read back";
            await DeleteAsync(key, cancellationToken);
            return null;
        }
        catch (BlobStoreUnavailableException e)
        {
            return e.Message;
        }
    }

    /// <inheritdoc />
    public async Task<Uri> GetDownloadUrlAsync(string key, string contentType, CancellationToken cancellationToken)
    {
        var url = await _client.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = _options.Bucket,
            Key = Checked(key),
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow + _options.SignedUrlLifetime,
            Protocol = _options.ServiceUrl?.StartsWith("http://", StringComparison.OrdinalIgnoreCase) == true ? Protocol.HTTP : Protocol.HTTPS,
            ResponseHeaderOverrides = { ContentType = contentType },
        });
        return new Uri(url);
    }

    /// <summary>
    /// True for failures of the service or the way to it (connection refused or reset, DNS, timeouts, 5xx, throttling,
    /// a missing bucket, refused credentials): the store is unusable until it or its configuration is fixed. A cancel
    /// asked by the caller is not a fault.
    /// </summary>
    internal static bool IsStoreFault(Exception e, CancellationToken cancellationToken) =>
        e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or System.Net.Sockets.SocketException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>An object (not the bucket) that does not exist.</summary>
    private static bool IsMissingObject(AmazonS3Exception e) => e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket";

    private BlobStoreUnavailableException Unavailable(string what, Exception inner) =>
        new($"S3 bucket {_options.Bucket} at {_options.ServiceUrl ?? _options.Region}: {what}: {inner.Message}", inner);

    private static string Checked(string key) =>
        BlobKeys.IsValid(key) ? key : throw new ArgumentException($"invalid blob key '{key}'", nameof(key));

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();
}
