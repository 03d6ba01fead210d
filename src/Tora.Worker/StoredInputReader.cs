using Tora.Contracts;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Inference;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Worker;

/// <summary>
/// The one place the stored generation input becomes the pipeline's <see cref="GenerationRequest"/>: the fields
/// as stored, the trajectories through the parser and validator that accepted them, the first frame and the flow
/// video read from the blob store (waiting through an outage for the attempt's window).
/// </summary>
public sealed class StoredInputReader(IBlobStore blobs)
{
    /// <summary>The request for <paramref name="attempt"/>'s generation, writing the MP4 to <see cref="JobAttempt.VideoPath"/>.</summary>
    /// <exception cref="GenerationException">An input is missing from blob storage or unusable (codes <c>input_missing</c>, <c>invalid_input</c>).</exception>
    public async Task<GenerationRequest> ReadAsync(JobAttempt attempt, CancellationToken ct)
    {
        var g = attempt.Generation;
        var i = g.Input;
        var geometry = new VideoGeometry(i.NumFrames, i.Height, i.Width);
        byte[]? firstFrame = null;
        if (g.FirstFrameKey is { } key)
        {
            firstFrame = await ReadBlobAsync(attempt, key, ct)
                ?? throw new GenerationException(GenerationErrorCodes.InputMissing, "the first-frame image is missing from blob storage");
        }
        byte[]? flowVideo = null;
        if (g.FlowVideoKey is { } flowKey)
        {
            var mp4 = await ReadBlobAsync(attempt, flowKey, ct)
                ?? throw new GenerationException(GenerationErrorCodes.InputMissing, "the flow video is missing from blob storage");
            flowVideo = await DecodeFlowVideoAsync(mp4, geometry, ct);
        }
        return new GenerationRequest
        {
            Prompt = i.Prompt,
            NegativePrompt = i.NegativePrompt,
            Trajectories = StoredTrajectories(i.Trajectories, geometry),
            FirstFrame = firstFrame,
            FlowVideo = flowVideo,
            Geometry = geometry,
            Steps = i.Steps,
            GuidanceScale = i.GuidanceScale,
            DynamicCfg = i.DynamicCfg,
            Seed = i.Seed,
            Fps = i.Fps,
            OverlayTrajectory = i.OverlayTrajectory,
            Motion = i.Motion,
            OutputPath = attempt.VideoPath,
        };
    }

    /// <summary>The stored flow-video MP4 as RGB <c>[F, H, W, 3]</c>; the API checked it, so a failure here is a broken blob.</summary>
    private static async Task<byte[]> DecodeFlowVideoAsync(byte[] mp4, VideoGeometry geometry, CancellationToken ct)
    {
        try
        {
            var video = await Mp4Reader.ReadAsync(mp4, ct);
            return FlowVideoInput.FromVideo(video, geometry, "flow_video");
        }
        catch (Exception e) when (e is VideoDecodingException or FlowVideoInputException)
        {
            throw new GenerationException(GenerationErrorCodes.InvalidInput, $"the stored flow video cannot be used: {e.Message}");
        }
    }

    /// <summary>The stored trajectories through the same parser and validator that accepted them.</summary>
    private static IReadOnlyList<Trajectory> StoredTrajectories(IReadOnlyList<TrajectorySpec> stored, VideoGeometry geometry)
    {
        var r = TrajectoryValidator.Resolve(stored, geometry);
        return r.Success ? r.Trajectories : throw new InvalidOperationException($"the stored trajectories are invalid: {r.Errors[0]}");
    }

    /// <summary>A stored input's bytes; null when the blob is gone.</summary>
    private Task<byte[]?> ReadBlobAsync(JobAttempt attempt, string key, CancellationToken ct) =>
        attempt.Storage.RunAsync(async c =>
        {
            await using var blob = await blobs.OpenReadAsync(key, c);
            if (blob is null) return null;
            using var ms = new MemoryStream((int)blob.Length);
            await blob.Content.CopyToAsync(ms, c);
            return ms.ToArray();
        }, (e, n) => attempt.WaitingForStorage(e, n, 0), ct);
}
