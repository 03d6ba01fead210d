namespace Tora.Inference.Vae;

/// <summary>A run of consecutive frames processed together: <c>[Start, Start + Count)</c>.</summary>
/// <param name="Start">First frame.</param>
/// <param name="Count">Frames in the chunk.</param>
public readonly record struct FrameChunk(int Start, int Count);

/// <summary>
/// How the original splits frames into chunks for the CogVideoX VAE (diffusers <c>AutoencoderKLCogVideoX</c>
/// <c>_decode</c>/<c>_encode</c>, docs/model.md §4.3): <c>max(n / size, 1)</c> chunks of <c>size</c>
/// frames, the remainder <c>n mod size</c> added to the FIRST chunk. Decoding 13 latent frames in batches
/// of 2 gives 3, 2, 2, 2, 2, 2; encoding 49 video frames in batches of 8 gives 9, 8, 8, 8, 8, 8; one
/// frame (an image) is one chunk.
/// </summary>
public static class VaeChunking
{
    /// <summary>Latent frames per decoder chunk in the original.</summary>
    public const int DecoderBatch = 2;

    /// <summary>Video frames per encoder chunk in the original.</summary>
    public const int EncoderBatch = 8;

    /// <summary>The chunks of <paramref name="frames"/> frames in batches of <paramref name="batch"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No frames or a non-positive batch.</exception>
    public static IReadOnlyList<FrameChunk> Split(int frames, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frames);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        int count = Math.Max(frames / batch, 1), remainder = frames % batch;
        var chunks = new FrameChunk[count];
        for (int i = 0; i < count; i++)
        {
            int start = batch * i + (i == 0 ? 0 : remainder);
            int end = Math.Min(batch * (i + 1) + remainder, frames);
            chunks[i] = new FrameChunk(start, end - start);
        }
        return chunks;
    }

    /// <summary>Frames out of a time-upsampling decoder for a chunk of <paramref name="latentFrames"/>: odd chunks keep their first frame alone.</summary>
    public static int DecodedFrames(int latentFrames, int temporalCompression) =>
        latentFrames % 2 == 1 ? 1 + (latentFrames - 1) * temporalCompression : latentFrames * temporalCompression;

    /// <summary>Latent frames out of the time-downsampling encoder for a chunk of <paramref name="frames"/> video frames.</summary>
    public static int EncodedFrames(int frames, int temporalCompression)
    {
        int t = frames;
        for (int k = temporalCompression; k > 1; k /= 2) t = t % 2 == 1 ? 1 + (t - 1) / 2 : t / 2;
        return t;
    }
}
