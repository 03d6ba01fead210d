using Microsoft.Extensions.Options;

namespace Tora.Core.Blobs;

/// <summary>
/// The default blob store: files under a root folder. Writes go to a temporary file that is renamed into
/// place, so readers never see a half-written video; a write that fails removes its temporary file.
/// </summary>
/// <remarks>
/// When the root cannot be used (missing, replaced by a file, read-only, disk full) every operation throws
/// <see cref="BlobStoreUnavailableException"/>, and works again as soon as the root is back: nothing is cached.
/// </remarks>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;

    /// <summary>Creates the store over <see cref="StorageOptions.Root"/> (and the root folder, when it can).</summary>
    public FileSystemBlobStore(IOptions<StorageOptions> options)
    {
        _root = Path.GetFullPath(options.Value.Root);
        // A root that cannot be created now is reported by CheckAsync (/health/ready) and by each operation, rather
        // than failing the process (or every request that resolves the store) for a fault that may heal.
        try { Directory.CreateDirectory(_root); }
        catch (Exception e) when (IsStoreFault(e)) { }
    }

    /// <inheritdoc />
    public async Task PutFileAsync(string key, string sourcePath, string contentType, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        // Opened first: a missing source is the caller's error, not the store's.
        await using var source = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await WriteAsync(key, target, dest => source.CopyToAsync(dest, cancellationToken));
    }

    /// <inheritdoc />
    public Task PutBytesAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken) =>
        WriteAsync(key, PathOf(key), dest => dest.WriteAsync(content, cancellationToken).AsTask());

    /// <summary>Writes to a temporary file next to <paramref name="target"/> and renames it into place; the temporary file never outlives a failure.</summary>
    private async Task WriteAsync(string key, string target, Func<FileStream, Task> write)
    {
        string? temp = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            temp = $"{target}.{Guid.NewGuid():N}.tmp";
            await using (var dest = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await write(dest);
            File.Move(temp, target, overwrite: true);
            temp = null;
        }
        catch (Exception e) when (IsStoreFault(e))
        {
            throw Unavailable($"cannot write {key}", e);
        }
        finally
        {
            if (temp is not null)
            {
                try { File.Delete(temp); } catch (Exception e) when (IsStoreFault(e)) { /* the store is failing; nothing better to do */ }
            }
        }
    }

    /// <inheritdoc />
    public Task<BlobContent?> OpenReadAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        try
        {
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, useAsync: true);
            return Task.FromResult<BlobContent?>(new BlobContent(stream, stream.Length, File.GetLastWriteTimeUtc(path)));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && RootIsUsable())
        {
            return Task.FromResult<BlobContent?>(null);
        }
        catch (Exception e) when (IsStoreFault(e))
        {
            // A missing root means the store is gone (unmounted, moved), not that the object was deleted.
            throw Unavailable($"cannot read {key}", e);
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException) when (RootIsUsable())
        {
            return Task.CompletedTask; // its folder is already gone
        }
        catch (Exception e) when (IsStoreFault(e))
        {
            throw Unavailable($"cannot delete {key}", e);
        }
        if (!RootIsUsable()) throw Unavailable($"cannot delete {key}", null);
        var dir = Path.GetDirectoryName(path)!;
        // Remove the generation's folder once empty, so deleted generations leave nothing behind.
        if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any() && dir != _root)
        {
            try { Directory.Delete(dir); } catch (IOException) { /* another file arrived meanwhile */ }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            var probe = Path.Combine(_root, $".probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
            await File.WriteAllBytesAsync(probe, [1], cancellationToken);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (IsStoreFault(e))
        {
            return $"blob root {_root} is not writable: {e.Message}";
        }
    }

    private bool RootIsUsable() => Directory.Exists(_root);

    private static bool IsStoreFault(Exception e) => e is IOException or UnauthorizedAccessException;

    private BlobStoreUnavailableException Unavailable(string what, Exception? inner) =>
        new($"blob root {_root}: {what}: {inner?.Message ?? "the root folder is missing or not a folder"}", inner);

    private string PathOf(string key)
    {
        if (!BlobKeys.IsValid(key)) throw new ArgumentException($"invalid blob key '{key}'", nameof(key));
        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }
}
