using Tora.Api.Problems;
using Tora.Core.Generations;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Api.Generations;

/// <summary>
/// Checks a <c>flow_video</c> upload before it is accepted: an MP4 ffmpeg can decode, with the generation's frame
/// count and size (nothing is resized), and no trajectories beside it (it replaces them as the motion input).
/// The worker decodes the stored MP4 again; decoding here means a bad upload is a 422 now, not a failed job later.
/// </summary>
public static class FlowVideoUpload
{
    /// <summary>The error with its pointer, or null when the upload can be used for <paramref name="input"/>.</summary>
    public static async Task<FieldError?> CheckAsync(byte[] mp4, GenerationInput input, CancellationToken ct)
    {
        if (input.Trajectories.Count > 0)
            return new FieldError("/flow_video", "not_allowed", "send either trajectories or a flow_video as the motion input, not both");
        RgbVideo video;
        try
        {
            video = await Mp4Reader.ReadAsync(mp4, ct);
        }
        catch (VideoDecodingException e)
        {
            return new FieldError("/flow_video", "invalid_flow_video", $"flow_video: {e.Message}");
        }
        try
        {
            FlowVideoInput.FromVideo(video, new VideoGeometry(input.NumFrames, input.Height, input.Width), "flow_video");
            return null;
        }
        catch (FlowVideoInputException e)
        {
            return new FieldError("/flow_video", "invalid_flow_video", e.Message);
        }
    }
}
