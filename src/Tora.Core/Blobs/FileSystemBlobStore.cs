using Microsoft.Extensions.Options;

namespace Tora.Core.Blobs;

/// <summary>
/// The default blob store: files under a root folder. Writes go to a temporary file that is renamed into
/// place, so readers never see a half-written video.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;

    /// <summary>Creates the store over <see cref="StorageOptions.Root"/>.</summary>
    public FileSystemBlobStore(IOptions<StorageOptions> options)
    {
        _root = Path.GetFullPath(options.Value.Root);
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc />
    public async Task PutFileAsync(string key, string sourcePath, string contentType, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        var temp = TempPathFor(target);
        await using (var source = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        await using (var dest = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            await source.CopyToAsync(dest, cancellationToken);
        File.Move(temp, target, overwrite: true);
    }

    /// <inheritdoc />
    public async Task PutBytesAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken)
    {
        var target = PathOf(key);
        var temp = TempPathFor(target);
        await using (var dest = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            await dest.WriteAsync(content, cancellationToken);
        File.Move(temp, target, overwrite: true);
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
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<BlobContent?>(null);
        }
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        File.Delete(path);
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"blob root {_root} is not writable: {e.Message}";
        }
    }

    private string PathOf(string key)
    {
        if (!BlobKeys.IsValid(key)) throw new ArgumentException($"invalid blob key '{key}'", nameof(key));
        return Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    private static string TempPathFor(string target)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        return $"{target}.{Guid.NewGuid():N}.tmp";
    }
}
