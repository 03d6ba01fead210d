using Microsoft.Extensions.Options;
using Tora.Core;
using Tora.Core.Blobs;
using Tora.TestSupport;

namespace Tora.Core.Tests.Blobs;

/// <summary>
/// The filesystem blob store, and its outages (docs/reliability.md): what it throws, never a missing object for a
/// root that is away. The end-to-end behaviour is in tests/Tora.Faults.Tests/BlobOutageTests.cs.
/// </summary>
public sealed class FileSystemBlobStoreTests
{
    [Fact]
    public async Task Filesystem_blob_store_round_trips_and_deletes_the_folder()
    {
        var root = TestData.TempFolder();
        var store = new FileSystemBlobStore(Options.Create(new StorageOptions { Root = root }));
        var key = BlobKeys.For("t", Guid.NewGuid(), "video.mp4");
        await store.PutBytesAsync(key, new byte[] { 1, 2, 3 }, "video/mp4", default);
        await using (var blob = await store.OpenReadAsync(key, default))
        {
            Assert.Equal(3, blob!.Length);
            Assert.True(blob.Content.CanSeek);
        }
        Assert.Null(await store.CheckAsync(default));
        await store.DeleteAsync(key, default);
        Assert.Null(await store.OpenReadAsync(key, default));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(root, "t")));
        await Assert.ThrowsAsync<ArgumentException>(() => store.PutBytesAsync("../x", new byte[1], "x", default));
    }

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
}
