using System.Security.Cryptography;
using FFMpegCore;
using Tora.Contracts;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// Publishing a finished video: its thumbnail, size and strong ETag, and the upload of both files to the blob store
/// (retried through an outage for the attempt's window); and the removal of what an attempt stored when the
/// generation ends without a result.
/// </summary>
public sealed class VideoPublisher(IBlobStore blobs, ILogger<VideoPublisher> logger)
{
    /// <summary>Makes the thumbnail and the ETag of <paramref name="videoPath"/>, then stores both files.</summary>
    /// <exception cref="BlobStoreUnavailableException">The store stayed unavailable for the whole window.</exception>
    public async Task<StoredVideo> PublishAsync(JobAttempt attempt, string videoPath, CancellationToken ct)
    {
        var g = attempt.Generation;
        var thumbnail = Path.Combine(attempt.Scratch, "thumbnail.jpg");
        await WriteThumbnailAsync(videoPath, thumbnail, attempt.HostCancellation);
        var described = await DescribeAsync(videoPath, attempt.HostCancellation);
        attempt.Progress.Report(new GenerationProgress(GenerationPhases.Storing, g.TotalSteps, g.TotalSteps));
        return await attempt.Storage.RunAsync(c => UploadAsync(attempt, described, videoPath, thumbnail, c),
            (e, n) => attempt.WaitingForStorage(e, n, g.TotalSteps), ct);
    }

    /// <summary>Deletes <paramref name="keys"/> (best effort: a store that is down leaves them, logged).</summary>
    public async Task RemoveAsync(Generation g, IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            try
            {
                await blobs.DeleteAsync(key, CancellationToken.None);
            }
            catch (BlobStoreUnavailableException e)
            {
                logger.LogWarning("generation {Id}: could not remove {Key} while the blob store is unavailable: {Message}", g.Id, key, e.Message);
            }
        }
    }

    private static async Task WriteThumbnailAsync(string video, string thumbnail, CancellationToken ct)
    {
        var ok = await FFMpegArguments.FromFileInput(video)
            .OutputToFile(thumbnail, overwrite: true, o => o.WithCustomArgument("-frames:v 1 -q:v 3"))
            .CancellableThrough(ct)
            .ProcessAsynchronously(throwOnError: false);
        if (!ok.Success || !File.Exists(thumbnail))
            throw new InvalidOperationException($"ffmpeg could not extract a thumbnail: {ok.StandardError}");
    }

    /// <summary>The video's size and strong ETag (quoted SHA-256 prefix), computed once however often the upload is tried.</summary>
    private static async Task<(long Bytes, string Etag)> DescribeAsync(string video, CancellationToken ct)
    {
        await using var stream = File.OpenRead(video);
        return (stream.Length, "\"" + Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct))[..32] + "\"");
    }

    /// <summary>Puts the video and the thumbnail (each put replaces the object whole, so a retry simply writes both again).</summary>
    private async Task<StoredVideo> UploadAsync(JobAttempt attempt, (long Bytes, string Etag) described, string video, string thumbnail, CancellationToken ct)
    {
        var g = attempt.Generation;
        var videoKey = BlobKeys.For(g.Tenant, g.Id, "video.mp4");
        var thumbKey = BlobKeys.For(g.Tenant, g.Id, "thumbnail.jpg");
        attempt.Writing(videoKey);
        await blobs.PutFileAsync(videoKey, video, "video/mp4", ct);
        attempt.Writing(thumbKey);
        await blobs.PutFileAsync(thumbKey, thumbnail, "image/jpeg", ct);
        return new StoredVideo(videoKey, described.Etag, described.Bytes, thumbKey);
    }
}
