using Tora.Motion.IO;
using Tora.Motion.Video;

namespace Tora.Motion.Trajectories;

/// <summary>
/// A flow video given as the motion input instead of trajectories (README, "Motion controls"): the flow-colour-wheel
/// images, 8-bit RGB <c>[F, H, W, 3]</c>, one per frame at the model's size and frame count, from a NumPy
/// <c>.npy</c> (<c>uint8</c>, exactly that shape; <c>tora trajectory render --out-npy</c> writes one) or an MP4.
/// Nothing is resized or resampled: a video of another size or length is refused.
/// </summary>
public static class FlowVideoInput
{
    /// <summary>Loads <paramref name="path"/> (<c>.npy</c> or <c>.mp4</c>) for a video of <paramref name="geometry"/>.</summary>
    /// <returns>The pixels, <c>[F, H, W, 3]</c>.</returns>
    /// <exception cref="FlowVideoInputException">Unreadable, of another type, shape, dtype, size or length (a one-line message).</exception>
    public static async Task<byte[]> LoadAsync(string path, VideoGeometry geometry, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path)) throw new FlowVideoInputException($"{path}: no such file");
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".npy":
                NpyArray array;
                try
                {
                    array = NpyArray.Read(path);
                }
                catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or OverflowException or IOException)
                {
                    throw new FlowVideoInputException($"{path}: not a readable .npy array ({e.Message})");
                }
                return FromArray(array, geometry, path);
            case ".mp4":
                RgbVideo video;
                try
                {
                    video = await Mp4Reader.ReadAsync(path, cancellationToken).ConfigureAwait(false);
                }
                catch (VideoDecodingException e)
                {
                    throw new FlowVideoInputException($"{path}: {e.Message}");
                }
                return FromVideo(video, geometry, path);
            case var other:
                throw new FlowVideoInputException($"{path}: unknown flow video type '{other}' (expected .npy or .mp4)");
        }
    }

    /// <summary>Checks a NumPy array: <c>uint8 [F, H, W, 3]</c> of the geometry.</summary>
    /// <exception cref="FlowVideoInputException">Another dtype or shape.</exception>
    public static byte[] FromArray(NpyArray array, VideoGeometry geometry, string source)
    {
        if (array.DType != "u1")
            throw new FlowVideoInputException($"{source}: the flow video must be uint8, not {array.DType}");
        int[] expected = [geometry.Frames, geometry.Height, geometry.Width, 3];
        if (!array.Shape.SequenceEqual(expected))
            throw new FlowVideoInputException($"{source}: the flow video has shape [{string.Join(", ", array.Shape)}]; this model needs [{string.Join(", ", expected)}] (frames, height, width, RGB)");
        return array.Data;
    }

    /// <summary>Checks a decoded video: the geometry's frame count and size.</summary>
    /// <exception cref="FlowVideoInputException">Another size or length.</exception>
    public static byte[] FromVideo(RgbVideo video, VideoGeometry geometry, string source)
    {
        if (video.Width != geometry.Width || video.Height != geometry.Height)
            throw new FlowVideoInputException($"{source}: the flow video is {video.Width}x{video.Height}; this model needs {geometry.Width}x{geometry.Height}");
        if (video.Frames != geometry.Frames)
            throw new FlowVideoInputException($"{source}: the flow video has {video.Frames} frames; this model needs {geometry.Frames}");
        return video.Data.ToArray();
    }
}

/// <summary>A flow video cannot be used as the motion input; the message is one line naming the source.</summary>
public sealed class FlowVideoInputException(string message) : Exception(message);
