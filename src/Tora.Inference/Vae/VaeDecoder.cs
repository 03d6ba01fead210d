using Microsoft.ML.OnnxRuntime;

namespace Tora.Inference.Vae;

/// <summary>Axis order of a latent or video tensor with batch 1.</summary>
public enum FrameLayout
{
    /// <summary>[1, T, C, H, W]: frames before channels (the Tora pipeline's latents, the flow video).</summary>
    FramesFirst,

    /// <summary>[1, C, T, H, W]: channels before frames (what the VAE graphs take and give).</summary>
    ChannelsFirst,
}

/// <summary>
/// Decodes final latents into video frames with the <c>vae_decoder</c> chunk graph, as the original does
/// (docs/model.md §4.3, §5.8): latents ÷ scaling factor, latent frames in chunks 3, 2, 2, 2, 2, 2
/// (<see cref="VaeChunking"/>), the causal caches carried from chunk to chunk on the session's device.
/// One instance decodes one clip at a time (not thread-safe).
/// </summary>
public sealed class VaeDecoder : IDisposable
{
    /// <summary>Graph input name (CogVideoXVae.Latents).</summary>
    public const string LatentsInput = "latents";

    /// <summary>Graph output name (CogVideoXVae.Sample).</summary>
    public const string SampleOutput = "sample";

    private readonly CausalChunkRunner _runner;
    private readonly float _inverseScale;
    private readonly int _temporalCompression;
    private float[] _chunk = [];

    /// <param name="session">The <c>vae_decoder</c> session (not owned: dispose it after this).</param>
    /// <param name="scalingFactor">The VAE's <c>scaling_factor</c> (0.7 for CogVideoX-5B).</param>
    /// <param name="temporalCompression">Video frames per latent frame after the first (4).</param>
    /// <param name="cacheMemory">Where the caches stay between chunks (null: CPU; pass the CUDA memory info with the CUDA provider).</param>
    /// <exception cref="InvalidDataException">The session is not a VAE decoder chunk graph.</exception>
    public VaeDecoder(InferenceSession session, double scalingFactor, int temporalCompression = 4, OrtMemoryInfo? cacheMemory = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scalingFactor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temporalCompression);
        _runner = new CausalChunkRunner(session, LatentsInput, [SampleOutput], cacheMemory);
        var latents = session.InputMetadata[LatentsInput].Dimensions;
        var sample = session.OutputMetadata[SampleOutput].Dimensions;
        if (latents.Length != 5 || sample.Length != 5 || latents[1] <= 0 || latents[3] <= 0 || latents[4] <= 0 || sample[1] <= 0 || sample[3] <= 0 || sample[4] <= 0)
            throw new InvalidDataException("VAE decoder graph must map [1, C, t, h, w] latents to [1, 3, f, H, W] frames with fixed C, h, w, H, W");
        (LatentChannels, LatentHeight, LatentWidth) = (latents[1], latents[3], latents[4]);
        (Channels, Height, Width) = (sample[1], sample[3], sample[4]);
        // diffusers: `1 / scaling_factor * latents` — the Python float quotient, applied in float32.
        _inverseScale = (float)(1.0 / scalingFactor);
        _temporalCompression = temporalCompression;
    }

    /// <summary>Latent channels (16).</summary>
    public int LatentChannels { get; }

    /// <summary>Latent height the graph was built for.</summary>
    public int LatentHeight { get; }

    /// <summary>Latent width the graph was built for.</summary>
    public int LatentWidth { get; }

    /// <summary>Video channels (3).</summary>
    public int Channels { get; }

    /// <summary>Video height.</summary>
    public int Height { get; }

    /// <summary>Video width.</summary>
    public int Width { get; }

    /// <summary>Video frames decoded from <paramref name="latentFrames"/> latent frames (13 → 49).</summary>
    public int FramesFor(int latentFrames) =>
        VaeChunking.Split(latentFrames, VaeChunking.DecoderBatch).Sum(c => VaeChunking.DecodedFrames(c.Count, _temporalCompression));

    /// <summary>
    /// Decodes the pipeline's final latents (scaled, as the transformer sees them) into frames
    /// [1, C, F, H, W] float32, nominally in [−1, 1] (not clamped).
    /// </summary>
    /// <param name="latents">[1, T, C, h, w] or [1, C, T, h, w] per <paramref name="layout"/>.</param>
    /// <param name="latentFrames">T (13 for 49 frames).</param>
    /// <param name="layout">Axis order of <paramref name="latents"/>.</param>
    /// <exception cref="ArgumentException">The latents do not have the graph's shape.</exception>
    public float[] Decode(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout) =>
        DecodeToFloats(latents, latentFrames, layout, _inverseScale);

    /// <summary>Decodes latents already divided by the scaling factor (exactly what diffusers' <c>vae.decode</c> receives).</summary>
    /// <inheritdoc cref="Decode"/>
    public float[] DecodeUnscaled(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout) =>
        DecodeToFloats(latents, latentFrames, layout, 1f);

    /// <summary>
    /// Decodes the pipeline's final latents into 8-bit frames [F, H, W, C] with the diffusers rounding
    /// (<see cref="VideoFrames.ToUint8"/>), converting chunk by chunk (no float copy of the whole clip).
    /// </summary>
    /// <inheritdoc cref="Decode"/>
    public byte[] DecodeToUint8(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout)
    {
        int framePlane = Height * Width * Channels;
        var frames = new byte[(long)FramesFor(latentFrames) * framePlane];
        DecodeCore(latents, latentFrames, layout, _inverseScale, (values, offset, count) =>
            VideoFrames.WriteUint8(values, Channels, count, Height, Width, frames.AsSpan(offset * framePlane, count * framePlane)));
        return frames;
    }

    private float[] DecodeToFloats(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout, float multiplier)
    {
        int frames = FramesFor(latentFrames), framePlane = Height * Width;
        var output = new float[(long)Channels * frames * framePlane];
        DecodeCore(latents, latentFrames, layout, multiplier, (values, offset, count) =>
        {
            for (int ch = 0; ch < Channels; ch++)
                values.Slice(ch * count * framePlane, count * framePlane).CopyTo(output.AsSpan((ch * frames + offset) * framePlane, count * framePlane));
        });
        return output;
    }

    /// <summary>Receives one decoded chunk [1, C, count, H, W] that holds the clip's frames from <paramref name="frameOffset"/>.</summary>
    private delegate void ChunkSink(ReadOnlySpan<float> values, int frameOffset, int count);

    private void DecodeCore(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout, float multiplier, ChunkSink sink)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(latentFrames);
        int c = LatentChannels, plane = LatentHeight * LatentWidth;
        if (latents.Length != (long)c * latentFrames * plane)
            throw new ArgumentException($"latents hold {latents.Length} values; the decoder needs 1 x {latentFrames} x {c} x {LatentHeight} x {LatentWidth}", nameof(latents));
        var chunks = VaeChunking.Split(latentFrames, VaeChunking.DecoderBatch);
        int maxChunk = chunks.Max(k => k.Count);
        if (_chunk.Length < c * maxChunk * plane) _chunk = new float[c * maxChunk * plane];

        _runner.Reset();
        int frameOffset = 0;
        foreach (var chunk in chunks)
        {
            // Gather the chunk as [1, C, t, h, w] and undo the latent scaling.
            for (int ch = 0; ch < c; ch++)
                for (int t = 0; t < chunk.Count; t++)
                {
                    int src = layout == FrameLayout.ChannelsFirst
                        ? (ch * latentFrames + chunk.Start + t) * plane
                        : ((chunk.Start + t) * c + ch) * plane;
                    var dst = _chunk.AsSpan((ch * chunk.Count + t) * plane, plane);
                    var from = latents.Slice(src, plane);
                    for (int p = 0; p < plane; p++) dst[p] = from[p] * multiplier;
                }
            int expected = VaeChunking.DecodedFrames(chunk.Count, _temporalCompression);
            int offset = frameOffset;
            _runner.Run(_chunk.AsMemory(0, c * chunk.Count * plane), [1, c, chunk.Count, LatentHeight, LatentWidth], (_, values, shape) =>
            {
                if (shape[2] != expected)
                    throw new InvalidDataException($"VAE decoder chunk of {chunk.Count} latent frames gave {shape[2]} frames, expected {expected}");
                sink(values, offset, expected);
            });
            frameOffset += expected;
        }
        _runner.Reset();
    }

    /// <inheritdoc />
    public void Dispose() => _runner.Dispose();
}
