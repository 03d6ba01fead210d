using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Package;

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
/// (<see cref="VaeChunking"/>), the causal caches carried from chunk to chunk on the session's device; with
/// <see cref="Tiling"/>, tile by tile as diffusers' <c>tiled_decode</c> (<see cref="VaeTiling"/>).
/// One instance decodes one clip at a time (not thread-safe).
/// </summary>
public sealed class VaeDecoder : IDisposable
{
    private readonly ChunkedClipRunner _clips;
    private readonly float _inverseScale;
    private readonly VaeTilePlan? _tiles;

    /// <param name="session">The <c>vae_decoder</c> session (not owned: dispose it after this).</param>
    /// <param name="scalingFactor">The VAE's <c>scaling_factor</c> (0.7 for CogVideoX-5B).</param>
    /// <param name="latentHeight">Latent height of the clips (60 for 480 px).</param>
    /// <param name="latentWidth">Latent width (90 for 720 px).</param>
    /// <param name="temporalCompression">Video frames per latent frame after the first (4).</param>
    /// <param name="cacheMemory">Where the caches stay between chunks (null: CPU; pass the CUDA memory info with the CUDA provider).</param>
    /// <param name="tiling">Decode tile by tile (null: the whole frame at once).</param>
    /// <exception cref="InvalidDataException">The session is not a VAE decoder chunk graph.</exception>
    /// <exception cref="ArgumentException">The graph is built for another size, or the tiles do not cover the frame exactly.</exception>
    public VaeDecoder(InferenceSession session, double scalingFactor, int latentHeight, int latentWidth, int temporalCompression = 4,
        OrtMemoryInfo? cacheMemory = null, VaeTiling? tiling = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scalingFactor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(latentHeight);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(latentWidth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temporalCompression);
        var runner = new CausalChunkRunner(session, GraphNames.Vae.Latents, [GraphNames.Vae.Sample], cacheMemory);
        var latents = session.InputMetadata[GraphNames.Vae.Latents];
        var sample = session.OutputMetadata[GraphNames.Vae.Sample];
        if (latents.Dimensions.Length != 5 || sample.Dimensions.Length != 5 || latents.Dimensions[1] <= 0 || sample.Dimensions[1] <= 0)
            throw new InvalidDataException("VAE decoder graph must map [1, C, t, h, w] latents to [1, 3, f, H, W] frames with fixed C");
        VaeGraphSize.EnsureAccepts(latents, latentHeight, latentWidth);
        SpatialScale = VaeGraphSize.Scale(latents, sample);
        (LatentChannels, LatentHeight, LatentWidth) = ((int)latents.Dimensions[1], latentHeight, latentWidth);
        (Channels, Height, Width) = ((int)sample.Dimensions[1], latentHeight * SpatialScale, latentWidth * SpatialScale);
        if (tiling is not null)
        {
            VaeGraphSize.EnsureTileable(latents);
            tiling.EnsureCovers(Height, Width, SpatialScale);
            _tiles = tiling.PlanDecode(latentHeight, latentWidth, SpatialScale);
        }
        Tiling = tiling;
        // diffusers: `1 / scaling_factor * latents` — the Python float quotient, applied in float32.
        _inverseScale = (float)(1.0 / scalingFactor);
        _clips = new ChunkedClipRunner(runner, "VAE decoder", LatentChannels, LatentHeight, LatentWidth, VaeChunking.DecoderBatch,
            count => VaeChunking.DecodedFrames(count, temporalCompression));
    }

    /// <summary>Latent channels (16).</summary>
    public int LatentChannels { get; }

    /// <summary>Latent height the graph was built for.</summary>
    public int LatentHeight { get; }

    /// <summary>Latent width the graph was built for.</summary>
    public int LatentWidth { get; }

    /// <summary>Pixels per latent along each spatial axis (8).</summary>
    public int SpatialScale { get; }

    /// <summary>The tile size when decoding tile by tile; null: whole frames.</summary>
    public VaeTiling? Tiling { get; }

    /// <summary>Video channels (3).</summary>
    public int Channels { get; }

    /// <summary>Video height.</summary>
    public int Height { get; }

    /// <summary>Video width.</summary>
    public int Width { get; }

    /// <summary>Video frames decoded from <paramref name="latentFrames"/> latent frames (13 → 49).</summary>
    public int FramesFor(int latentFrames) => _clips.OutputFramesFor(latentFrames);

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
        if (_tiles is { IsTiled: true })
            return VideoFrames.ToUint8(DecodeToFloats(latents, latentFrames, layout, _inverseScale), Channels, FramesFor(latentFrames), Height, Width);
        int framePlane = Height * Width * Channels;
        var frames = new byte[(long)FramesFor(latentFrames) * framePlane];
        CheckLength(latents, latentFrames);
        _clips.Run(latents, latentFrames, layout, _inverseScale, new VaeTileSpan(0, LatentHeight, Height), new VaeTileSpan(0, LatentWidth, Width), (_, values, offset, count) =>
            VideoFrames.WriteUint8(values, Channels, count, Height, Width, frames.AsSpan(offset * framePlane, count * framePlane)));
        return frames;
    }

    private float[] DecodeToFloats(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout, float multiplier)
    {
        CheckLength(latents, latentFrames);
        if (_tiles is { IsTiled: true } tiles)
        {
            // Tiles are decoded one after another (each a clip of its own: frame chunks, fresh caches), so the
            // latents are copied once for the closure.
            var all = latents.ToArray();
            return VaeTileBlender.Assemble(tiles, Channels * FramesFor(latentFrames), (rows, cols) =>
                DecodeRegion(all, latentFrames, layout, multiplier, rows, cols));
        }
        return DecodeRegion(latents, latentFrames, layout, multiplier, new VaeTileSpan(0, LatentHeight, Height), new VaeTileSpan(0, LatentWidth, Width));
    }

    /// <summary>Decodes latent rows <paramref name="rows"/> × columns <paramref name="cols"/> into [C, F, rows·scale, cols·scale].</summary>
    private float[] DecodeRegion(ReadOnlySpan<float> latents, int latentFrames, FrameLayout layout, float multiplier, VaeTileSpan rows, VaeTileSpan cols)
    {
        int frames = FramesFor(latentFrames), framePlane = rows.OutputLength * cols.OutputLength;
        var output = new float[(long)Channels * frames * framePlane];
        _clips.Run(latents, latentFrames, layout, multiplier, rows, cols, (_, values, offset, count) =>
            ChunkedClipRunner.CopyIntoClip(values, Channels, count, framePlane, output, frames, offset));
        return output;
    }

    private void CheckLength(ReadOnlySpan<float> latents, int latentFrames)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(latentFrames);
        if (latents.Length != (long)LatentChannels * latentFrames * LatentHeight * LatentWidth)
            throw new ArgumentException($"latents hold {latents.Length} values; the decoder needs 1 x {latentFrames} x {LatentChannels} x {LatentHeight} x {LatentWidth}", nameof(latents));
    }

    /// <inheritdoc />
    public void Dispose() => _clips.Dispose();
}
