using SkiaSharp;
using Tora.Motion.Trajectories;

namespace Tora.Motion.Video;

/// <summary>An image file that could not be decoded.</summary>
public sealed class InvalidImageException(string message) : Exception(message);

/// <summary>
/// Preview videos of trajectories: the flow video itself, or the paths drawn over a first-frame image, a blank
/// canvas or generated frames, the way the original's <c>draw_points</c> marks its outputs: every path as a
/// polyline of colour (255, 1, 1), 2 px wide, blended in at 70 %, and a filled dot of radius 3 and colour
/// (160, 230, 100) at each object's position in the current frame.
/// </summary>
public static class TrajectoryPreview
{
    private static readonly SKColor PathColor = new(255, 1, 1);
    private static readonly SKColor DotColor = new(160, 230, 100);
    private const float PathAlpha = 0.7f;

    /// <summary>
    /// One colour per trajectory, cycling: the web editor's palette (Okabe–Ito, readable for colour-blind users;
    /// <c>COLOURS</c> in <c>src/Tora.Api/Web/editor.js</c>), so a preview shows each path as the editor draws it.
    /// </summary>
    public static readonly IReadOnlyList<(byte R, byte G, byte B)> EditorColours =
    [
        (0xd5, 0x5e, 0x00), (0x00, 0x72, 0xb2), (0x00, 0x9e, 0x73), (0xcc, 0x79, 0xa7),
        (0xe6, 0x9f, 0x00), (0x56, 0xb4, 0xe9), (0x7a, 0x5c, 0x00), (0x00, 0x00, 0x00),
    ];

    /// <summary>The RGB flow video (what the VAE sees, before scaling to [−1, 1]).</summary>
    public static RgbVideo FlowVideo(FlowVideo flow) =>
        new(flow.ToRgb(), flow.Geometry.Frames, flow.Geometry.Height, flow.Geometry.Width);

    /// <summary>
    /// The paths drawn over <paramref name="background"/> (an encoded PNG/JPEG/WebP… first frame, resized to the
    /// video size) or, when it is null, over a white canvas; one frame per video frame. Each path is drawn in
    /// <paramref name="colours"/>[i mod count] (for example <see cref="EditorColours"/>), or all in the original's red.
    /// </summary>
    /// <exception cref="InvalidImageException">The image cannot be decoded.</exception>
    public static RgbVideo DrawPaths(IReadOnlyList<PixelPoint[]> tracks, VideoGeometry geometry, byte[]? background = null,
        IReadOnlyList<(byte R, byte G, byte B)>? colours = null)
    {
        geometry.EnsureValid();
        var frame = background is null ? WhiteFrame(geometry.Height, geometry.Width) : DecodeImage(background, geometry.Width, geometry.Height);
        var data = new byte[(long)geometry.Frames * frame.Length];
        for (var t = 0; t < geometry.Frames; t++) frame.CopyTo(data, (long)t * frame.Length);
        var video = new RgbVideo(data, geometry.Frames, geometry.Height, geometry.Width);
        DrawPathsInPlace(data, video.Frames, video.Height, video.Width, tracks, colours);
        return video;
    }

    /// <summary>Opacity of an uploaded flow video over the first frame in <see cref="FlowOver"/>.</summary>
    public const float FlowOpacity = 0.5f;

    /// <summary>
    /// An uploaded flow video shown over <paramref name="background"/> (an encoded first frame, resized to the video
    /// size) or a white canvas: every frame is the background blended with that flow frame at <see cref="FlowOpacity"/>,
    /// so the colours show where and which way the motion goes in the picture.
    /// </summary>
    /// <exception cref="InvalidImageException">The image cannot be decoded.</exception>
    public static RgbVideo FlowOver(RgbVideo flow, byte[]? background = null)
    {
        var frame = background is null ? WhiteFrame(flow.Height, flow.Width) : DecodeImage(background, flow.Width, flow.Height);
        var source = flow.Data.Span;
        var data = new byte[source.Length];
        for (long i = 0; i < data.LongLength; i++)
            data[i] = (byte)MathF.Round(frame[i % frame.Length] * (1 - FlowOpacity) + source[(int)i] * FlowOpacity);
        return new RgbVideo(data, flow.Frames, flow.Height, flow.Width);
    }

    /// <summary>A copy of <paramref name="video"/> with the paths drawn over every frame (for generated videos).</summary>
    public static RgbVideo DrawPaths(RgbVideo video, IReadOnlyList<PixelPoint[]> tracks)
    {
        var data = video.Data.ToArray();
        DrawPathsInPlace(data, video.Frames, video.Height, video.Width, tracks);
        return new RgbVideo(data, video.Frames, video.Height, video.Width);
    }

    /// <summary>Decodes an image and resizes it to <paramref name="width"/> × <paramref name="height"/>; returns RGB <c>[H, W, 3]</c>.</summary>
    /// <exception cref="InvalidImageException">The bytes are not an image SkiaSharp can decode.</exception>
    public static byte[] DecodeImage(byte[] encoded, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new InvalidImageException("the image cannot be decoded (expected PNG, JPEG, WebP, GIF or BMP)");
        using var decoded = SKBitmap.Decode(codec) ?? throw new InvalidImageException("the image data is corrupt");
        using var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using (var canvas = new SKCanvas(target))
        {
            // Transparent pixels (the I2V example fox.png is RGBA) are shown over white.
            canvas.Clear(SKColors.White);
            using var image = SKImage.FromBitmap(decoded);
            canvas.DrawImage(image, new SKRect(0, 0, width, height), new SKSamplingOptions(SKCubicResampler.CatmullRom));
        }
        return ToRgb(target);
    }

    private static void DrawPathsInPlace(byte[] data, int frames, int height, int width, IReadOnlyList<PixelPoint[]> tracks,
        IReadOnlyList<(byte R, byte G, byte B)>? colours = null)
    {
        foreach (var track in tracks)
        {
            if (track.Length < frames)
                throw new ArgumentException($"a track has {track.Length} points, the video {frames} frames", nameof(tracks));
        }
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);

        // The polyline layer is the same in every frame: rasterise it once as a mask.
        using var mask = new SKBitmap(info);
        using (var canvas = new SKCanvas(mask))
        {
            canvas.Clear(SKColors.Transparent);
            using var paint = new SKPaint { Color = PathColor, IsAntialias = false, IsStroke = true, StrokeWidth = 2, StrokeCap = SKStrokeCap.Round, StrokeJoin = SKStrokeJoin.Round };
            for (var i = 0; i < tracks.Count; i++)
            {
                var track = tracks[i];
                if (colours is { Count: > 0 }) paint.Color = new SKColor(colours[i % colours.Count].R, colours[i % colours.Count].G, colours[i % colours.Count].B);
                // Opaque segments into a mask: overlaps are harmless, the blend happens once below.
                var points = new SKPoint[frames];
                for (var t = 0; t < frames; t++) points[t] = new SKPoint(track[t].X, track[t].Y);
                canvas.DrawPoints(SKPointMode.Polygon, points, paint);
            }
        }
        var maskPixels = mask.GetPixelSpan();

        using var frame = new SKBitmap(info);
        using var frameCanvas = new SKCanvas(frame);
        using var dot = new SKPaint { Color = DotColor, IsAntialias = false, Style = SKPaintStyle.Fill };
        var frameBytes = height * width * 3;
        for (var t = 0; t < frames; t++)
        {
            var rgb = data.AsSpan(t * frameBytes, frameBytes);
            // video·(1 − 0.7) + path·0.7 where the path layer is drawn, truncated to uint8 like the original.
            for (var i = 0; i < height * width; i++)
            {
                if (maskPixels[i * 4 + 3] == 0) continue;
                for (var c = 0; c < 3; c++)
                    rgb[i * 3 + c] = (byte)(rgb[i * 3 + c] * (1 - PathAlpha) + maskPixels[i * 4 + c] * PathAlpha);
            }
            FromRgb(rgb, frame);
            foreach (var track in tracks) frameCanvas.DrawCircle(track[t].X, track[t].Y, 3, dot);
            frameCanvas.Flush();
            ToRgb(frame).CopyTo(rgb);
        }
    }

    private static byte[] WhiteFrame(int height, int width)
    {
        var frame = new byte[height * width * 3];
        Array.Fill(frame, (byte)255);
        return frame;
    }

    private static void FromRgb(ReadOnlySpan<byte> rgb, SKBitmap bitmap)
    {
        var rgba = bitmap.GetPixelSpan();
        for (int i = 0, n = rgb.Length / 3; i < n; i++)
        {
            rgba[i * 4] = rgb[i * 3];
            rgba[i * 4 + 1] = rgb[i * 3 + 1];
            rgba[i * 4 + 2] = rgb[i * 3 + 2];
            rgba[i * 4 + 3] = 255;
        }
        bitmap.NotifyPixelsChanged();
    }

    private static byte[] ToRgb(SKBitmap bitmap)
    {
        var rgba = bitmap.GetPixelSpan();
        var n = bitmap.Width * bitmap.Height;
        var rgb = new byte[n * 3];
        for (var i = 0; i < n; i++)
        {
            rgb[i * 3] = rgba[i * 4];
            rgb[i * 3 + 1] = rgba[i * 4 + 1];
            rgb[i * 3 + 2] = rgba[i * 4 + 2];
        }
        return rgb;
    }
}
