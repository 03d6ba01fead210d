using System.ComponentModel;
using FFMpegCore;
using FFMpegCore.Pipes;

namespace Tora.Motion.Video;

/// <summary>Encoding settings of <see cref="Mp4Writer"/>.</summary>
public sealed record Mp4Options
{
    /// <summary>Frames per second (Tora's default 8, docs/model.md §1.5).</summary>
    public int Fps { get; init; } = 8;

    /// <summary>x264 constant rate factor, 0 (lossless) to 51; 18 is visually lossless (the SAT writer's value, docs/model.md §9.16).</summary>
    public int Crf { get; init; } = 18;

    /// <summary>x264 preset (speed versus size).</summary>
    public string Preset { get; init; } = "medium";

    /// <summary>The defaults.</summary>
    public static Mp4Options Default { get; } = new();
}

/// <summary>
/// Encodes <see cref="RgbVideo"/> frames to MP4 (H.264, yuv420p) with ffmpeg through FFMpegCore: the raw rgb24
/// frames are piped to ffmpeg's stdin, nothing is written to temporary files. yuv420p needs even dimensions:
/// a video of odd width or height is padded by one black column/row at the right/bottom.
/// </summary>
public static class Mp4Writer
{
    /// <summary>Writes <paramref name="video"/> to an MP4 file with the index at the front (<c>+faststart</c>).</summary>
    /// <exception cref="VideoEncodingException">ffmpeg is missing or failed.</exception>
    public static async Task WriteAsync(RgbVideo video, string path, Mp4Options? options = null, CancellationToken cancellationToken = default)
    {
        options ??= Mp4Options.Default;
        Validate(options);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null) Directory.CreateDirectory(directory);
        var arguments = FFMpegArguments
            .FromPipeInput(Source(video, options))
            .OutputToFile(path, overwrite: true, o => Configure(o, video, options).WithFastStart());
        await RunAsync(arguments, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes <paramref name="video"/> as MP4 to a stream. A pipe cannot be rewound for <c>+faststart</c>, so the
    /// stream gets a fragmented MP4 (<c>frag_keyframe+empty_moov</c>), which players start at once as well.
    /// </summary>
    /// <exception cref="VideoEncodingException">ffmpeg is missing or failed.</exception>
    public static async Task WriteAsync(RgbVideo video, Stream destination, Mp4Options? options = null, CancellationToken cancellationToken = default)
    {
        options ??= Mp4Options.Default;
        Validate(options);
        var arguments = FFMpegArguments
            .FromPipeInput(Source(video, options))
            .OutputToPipe(new StreamPipeSink(destination), o => Configure(o, video, options)
                .ForceFormat("mp4")
                .WithCustomArgument("-movflags frag_keyframe+empty_moov+default_base_moof"));
        await RunAsync(arguments, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Encodes <paramref name="video"/> to MP4 bytes in memory (fragmented, see the stream overload).</summary>
    public static async Task<byte[]> EncodeAsync(RgbVideo video, Mp4Options? options = null, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await WriteAsync(video, buffer, options, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    private static FFMpegOutputOptions Configure(FFMpegOutputOptions o, RgbVideo video, Mp4Options options)
    {
        o.WithVideoCodec("libx264")
            .WithConstantRateFactor(options.Crf)
            .WithCustomArgument($"-preset {options.Preset}")
            .WithPixelFormat("yuv420p");
        if (video.Width % 2 != 0 || video.Height % 2 != 0)
            o.WithCustomArgument("-vf pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0:black");
        return o;
    }

    private static RawVideoPipeSource Source(RgbVideo video, Mp4Options options) =>
        new(Frames(video)) { FrameRate = options.Fps };

    private static IEnumerable<IVideoFrame> Frames(RgbVideo video)
    {
        for (var i = 0; i < video.Frames; i++) yield return new RawFrame(video, i);
    }

    private static void Validate(Mp4Options options)
    {
        if (options.Fps is < 1 or > 240) throw new ArgumentOutOfRangeException(nameof(options), options.Fps, "fps must be 1..240");
        if (options.Crf is < 0 or > 51) throw new ArgumentOutOfRangeException(nameof(options), options.Crf, "crf must be 0..51");
        if (string.IsNullOrWhiteSpace(options.Preset) || !options.Preset.All(char.IsAsciiLetter))
            throw new ArgumentException($"invalid x264 preset '{options.Preset}'", nameof(options));
    }

    private static async Task RunAsync(FFMpegArgumentProcessor arguments, CancellationToken cancellationToken)
    {
        try
        {
            var result = await arguments.CancellableThrough(cancellationToken).ProcessAsynchronously(throwOnError: false).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (!result.Success)
                throw new VideoEncodingException($"ffmpeg failed to encode the video (exit code {result.ExitCode}): {LastLine(result.StandardError)}");
        }
        catch (Win32Exception e)
        {
            throw new VideoEncodingException($"ffmpeg could not be started (is it installed and on PATH?): {e.Message}", e);
        }
        catch (Exception e) when (e is not VideoEncodingException and not OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            throw new VideoEncodingException($"ffmpeg failed to encode the video: {FirstLine(e.Message)}", e);
        }
    }

    private static string LastLine(IEnumerable<string>? lines) =>
        lines?.LastOrDefault(l => !string.IsNullOrWhiteSpace(l))?.Trim() ?? "no output";

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i];
    }

    private sealed class RawFrame(RgbVideo video, int index) : IVideoFrame
    {
        public int Width => video.Width;
        public int Height => video.Height;
        public string PixelFormat => "rgb24";

        public void Serialize(Stream pipe) => pipe.Write(video.Frame(index).Span);

        public Task SerializeAsync(Stream pipe, CancellationToken token) => pipe.WriteAsync(video.Frame(index), token).AsTask();
    }
}

/// <summary>Encoding a video failed (ffmpeg missing, or it reported an error).</summary>
public sealed class VideoEncodingException(string message, Exception? inner = null) : Exception(message, inner);
