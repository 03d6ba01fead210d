using System.ComponentModel;
using FFMpegCore;
using FFMpegCore.Pipes;

namespace Tora.Motion.Video;

/// <summary>
/// Decodes a video file to <see cref="RgbVideo"/> frames (rgb24) with ffmpeg through FFMpegCore, at the file's own
/// size: nothing is scaled, so a caller that needs a size checks it. A file is probed first (its size, to split
/// the raw stream into frames); bytes are written to a temporary file, because an MP4 whose index is at the end
/// cannot be read from a pipe.
/// </summary>
public static class Mp4Reader
{
    /// <summary>The most frames decoded (a guard against a huge upload; Tora uses 49).</summary>
    public const int MaxFrames = 1024;

    /// <summary>Decodes <paramref name="path"/>.</summary>
    /// <exception cref="VideoDecodingException">Not a video ffmpeg can read, more than <see cref="MaxFrames"/> frames, or ffmpeg missing.</exception>
    public static async Task<RgbVideo> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        IMediaAnalysis analysis;
        try
        {
            analysis = await FFProbe.AnalyseAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Win32Exception e)
        {
            throw new VideoDecodingException($"ffprobe could not be started (is ffmpeg installed and on PATH?): {e.Message}", e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new VideoDecodingException("not a video file ffmpeg can read", e);
        }
        if (analysis.PrimaryVideoStream is not { Width: > 0, Height: > 0 } stream)
            throw new VideoDecodingException("the file holds no video stream");
        int width = stream.Width.GetValueOrDefault(), height = stream.Height.GetValueOrDefault();
        long frameBytes = (long)width * height * 3;
        if (frameBytes * MaxFrames > int.MaxValue) throw new VideoDecodingException($"a {width}x{height} video is too large");

        using var raw = new MemoryStream();
        try
        {
            var result = await FFMpegArguments.FromFileInput(path)
                .OutputToPipe(new StreamPipeSink(raw), o => o.ForceFormat("rawvideo").WithCustomArgument($"-pix_fmt rgb24 -frames:v {MaxFrames + 1}"))
                .CancellableThrough(cancellationToken)
                .ProcessAsynchronously(throwOnError: false).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (!result.Success) throw new VideoDecodingException("ffmpeg could not decode the video");
        }
        catch (Win32Exception e)
        {
            throw new VideoDecodingException($"ffmpeg could not be started (is it installed and on PATH?): {e.Message}", e);
        }
        catch (Exception e) when (e is not VideoDecodingException and not OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new VideoDecodingException("ffmpeg could not decode the video", e);
        }
        if (raw.Length == 0 || raw.Length % frameBytes != 0) throw new VideoDecodingException("ffmpeg gave no whole frames");
        int frames = (int)(raw.Length / frameBytes);
        if (frames > MaxFrames) throw new VideoDecodingException($"the video has more than {MaxFrames} frames");
        return new RgbVideo(raw.ToArray(), frames, height, width);
    }

    /// <summary>Decodes a video held in memory (an upload).</summary>
    /// <exception cref="VideoDecodingException">As <see cref="ReadAsync(string, CancellationToken)"/>.</exception>
    public static async Task<RgbVideo> ReadAsync(ReadOnlyMemory<byte> video, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tora-video-{Guid.NewGuid():N}.mp4");
        try
        {
            await File.WriteAllBytesAsync(path, video, cancellationToken).ConfigureAwait(false);
            return await ReadAsync(path, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>Decoding a video failed (not a video, unreadable, too large, or ffmpeg missing).</summary>
public sealed class VideoDecodingException(string message, Exception? inner = null) : Exception(message, inner);
