namespace Tora.Core.Blobs;

/// <summary>
/// Where videos, thumbnails and first frames live; the database keeps keys only (docs/architecture.md §7). Keys are
/// relative paths of lowercase segments (<c>tenant/id/video.mp4</c>), valid as filesystem paths and S3 keys.
/// Whole-object put/get/delete by key is all the service needs, which is what S3-compatible stores offer.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores the content of a local file under <paramref name="key"/> (replacing any previous object).</summary>
    Task PutFileAsync(string key, string sourcePath, string contentType, CancellationToken cancellationToken);

    /// <summary>Stores bytes under <paramref name="key"/>.</summary>
    Task PutBytesAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken);

    /// <summary>Opens an object for reading (seekable when the store can, for Range requests); null when missing.</summary>
    Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>Deletes an object; missing objects are not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>Checks that the store can be written and read (for /health/ready); returns an error message or null.</summary>
    Task<string?> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>An open object.</summary>
/// <param name="Content">The bytes (dispose after use).</param>
/// <param name="Length">Size in bytes.</param>
/// <param name="LastModified">When it was written.</param>
public sealed record BlobContent(Stream Content, long Length, DateTimeOffset LastModified) : IAsyncDisposable
{
    /// <inheritdoc />
    public ValueTask DisposeAsync() => Content.DisposeAsync();
}

/// <summary>Builds blob keys and checks them.</summary>
public static class BlobKeys
{
    /// <summary>The key of one file of a generation.</summary>
    public static string For(string tenant, Guid generationId, string file) => $"{tenant}/{generationId:N}/{file}";

    /// <summary>True for relative keys of safe segments (no <c>..</c>, no absolute paths, no odd characters).</summary>
    public static bool IsValid(string key) =>
        key.Length is > 0 and <= 512
        && key.Split('/').All(s => s.Length > 0 && s != "." && s != ".."
            && s.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_' or '.'));
}
