namespace Tora.Motion.Video;

/// <summary>Video frames as packed 8-bit RGB, layout <c>[F, H, W, 3]</c> (row-major, no padding).</summary>
public sealed class RgbVideo
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as <paramref name="frames"/> frames of <paramref name="height"/> × <paramref name="width"/>.</summary>
    public RgbVideo(ReadOnlyMemory<byte> data, int frames, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (data.Length != (long)frames * height * width * 3)
            throw new ArgumentException($"{data.Length} bytes do not hold {frames} RGB frames of {width}x{height}", nameof(data));
        Data = data;
        Frames = frames;
        Height = height;
        Width = width;
    }

    /// <summary>The pixels, <c>[F, H, W, 3]</c>.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Number of frames F.</summary>
    public int Frames { get; }

    /// <summary>Height H in pixels.</summary>
    public int Height { get; }

    /// <summary>Width W in pixels.</summary>
    public int Width { get; }

    /// <summary>Bytes of one frame, <c>H·W·3</c>.</summary>
    public int FrameBytes => Height * Width * 3;

    /// <summary>The bytes of frame <paramref name="index"/>.</summary>
    public ReadOnlyMemory<byte> Frame(int index) => Data.Slice(index * FrameBytes, FrameBytes);
}
