using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Package;

namespace Tora.Inference.Vae;

/// <summary>The posterior of a VAE encode: mean and log-variance, each [1, C, T, h, w] float32.</summary>
/// <param name="Mean">Posterior mean.</param>
/// <param name="LogVar">Posterior log-variance as the encoder emits it (not clamped).</param>
/// <param name="Channels">Latent channels C.</param>
/// <param name="Frames">Latent frames T.</param>
/// <param name="Height">Latent height h.</param>
/// <param name="Width">Latent width w.</param>
public sealed record VaePosterior(float[] Mean, float[] LogVar, int Channels, int Frames, int Height, int Width)
{
    /// <summary>
    /// <c>(mean + exp(0.5 · clamp(logvar, −30, 20)) · noise) · scale</c> in float32 as diffusers'
    /// <c>DiagonalGaussianDistribution.sample</c> followed by the pipeline's scaling (docs/model.md §2.4),
    /// written in <paramref name="layout"/>.
    /// </summary>
    /// <param name="noise">Standard normal draws [1, C, T, h, w] from the pipeline's noise source.</param>
    /// <param name="scalingFactor">The VAE's scaling factor (0.7).</param>
    /// <param name="layout">Axis order of the result ([1, T, C, h, w] is what the Tora transformer takes).</param>
    public float[] Sample(ReadOnlySpan<float> noise, double scalingFactor, FrameLayout layout)
    {
        if (noise.Length != Mean.Length)
            throw new ArgumentException($"noise holds {noise.Length} values, the posterior {Mean.Length}", nameof(noise));
        float scale = (float)scalingFactor;
        int plane = Height * Width;
        var result = new float[Mean.Length];
        for (int c = 0; c < Channels; c++)
            for (int t = 0; t < Frames; t++)
            {
                int src = (c * Frames + t) * plane;
                int dst = layout == FrameLayout.ChannelsFirst ? src : (t * Channels + c) * plane;
                for (int p = 0; p < plane; p++)
                {
                    float std = MathF.Exp(0.5f * Math.Clamp(LogVar[src + p], -30f, 20f));
                    result[dst + p] = (Mean[src + p] + std * noise[src + p]) * scale;
                }
            }
        return result;
    }
}

/// <summary>
/// Encodes video into the VAE posterior with the <c>vae_encoder</c> chunk graph as diffusers does
/// (docs/model.md §4.3): frames in batches of 8 with the remainder in the first (49 → 9, 8, 8, 8, 8, 8; an
/// image is one batch of 1), the causal caches carried between batches on the session's device, GroupNorm
/// statistics per batch; with <see cref="Tiling"/>, tile by tile as diffusers' <c>tiled_encode</c>
/// (<see cref="VaeTiling"/>). One instance encodes one clip at a time (not thread-safe).
/// </summary>
public sealed class VaeEncoder : IDisposable
{
    private readonly ChunkedClipRunner _clips;
    private readonly VaeTilePlan? _tiles;

    /// <param name="session">The <c>vae_encoder</c> session (not owned).</param>
    /// <param name="height">Video height of the clips (a multiple of the spatial compression).</param>
    /// <param name="width">Video width (likewise).</param>
    /// <param name="temporalCompression">Video frames per latent frame after the first (4).</param>
    /// <param name="cacheMemory">Where the caches stay between batches (null: CPU).</param>
    /// <param name="tiling">Encode tile by tile (null: the whole frame at once).</param>
    /// <exception cref="InvalidDataException">The session is not a VAE encoder chunk graph.</exception>
    /// <exception cref="ArgumentException">A size the graph cannot take, or tiles that do not cover the frame exactly.</exception>
    public VaeEncoder(InferenceSession session, int height, int width, int temporalCompression = 4, OrtMemoryInfo? cacheMemory = null, VaeTiling? tiling = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temporalCompression);
        var runner = new CausalChunkRunner(session, GraphNames.Vae.Frames, [GraphNames.Vae.Mean, GraphNames.Vae.LogVar], cacheMemory);
        var frames = session.InputMetadata[GraphNames.Vae.Frames];
        var mean = session.OutputMetadata[GraphNames.Vae.Mean];
        if (frames.Dimensions.Length != 5 || mean.Dimensions.Length != 5 || frames.Dimensions[1] <= 0 || mean.Dimensions[1] <= 0)
            throw new InvalidDataException("VAE encoder graph must map [1, 3, f, H, W] frames to [1, C, t, h, w] moments with fixed C");
        VaeGraphSize.EnsureAccepts(frames, height, width);
        int scale = VaeGraphSize.Scale(mean, frames);
        if (height % scale != 0 || width % scale != 0)
            throw new ArgumentException($"the video size {height}x{width} is not a multiple of the VAE's {scale}");
        SpatialScale = scale;
        (Channels, Height, Width) = ((int)frames.Dimensions[1], height, width);
        (LatentChannels, LatentHeight, LatentWidth) = ((int)mean.Dimensions[1], height / scale, width / scale);
        if (tiling is not null)
        {
            VaeGraphSize.EnsureTileable(frames);
            tiling.EnsureCovers(height, width, scale);
            _tiles = tiling.PlanEncode(height, width, scale);
        }
        Tiling = tiling;
        _clips = new ChunkedClipRunner(runner, "VAE encoder", Channels, Height, Width, VaeChunking.EncoderBatch,
            count => VaeChunking.EncodedFrames(count, temporalCompression));
    }

    /// <summary>Pixels per latent along each spatial axis (8).</summary>
    public int SpatialScale { get; }

    /// <summary>The tile size when encoding tile by tile; null: whole frames.</summary>
    public VaeTiling? Tiling { get; }

    /// <summary>Video channels (3).</summary>
    public int Channels { get; }

    /// <summary>Video height the graph was built for.</summary>
    public int Height { get; }

    /// <summary>Video width the graph was built for.</summary>
    public int Width { get; }

    /// <summary>Latent channels (16).</summary>
    public int LatentChannels { get; }

    /// <summary>Latent height.</summary>
    public int LatentHeight { get; }

    /// <summary>Latent width.</summary>
    public int LatentWidth { get; }

    /// <summary>Latent frames encoded from <paramref name="frames"/> video frames (49 → 13, 1 → 1).</summary>
    public int LatentFramesFor(int frames) => _clips.OutputFramesFor(frames);

    /// <summary>Encodes video frames in [−1, 1] into the posterior.</summary>
    /// <param name="video">[1, F, C, H, W] or [1, C, F, H, W] per <paramref name="layout"/>.</param>
    /// <param name="frames">F.</param>
    /// <param name="layout">Axis order of <paramref name="video"/>.</param>
    /// <exception cref="ArgumentException">The video does not have the graph's shape.</exception>
    public VaePosterior Encode(ReadOnlySpan<float> video, int frames, FrameLayout layout)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(frames);
        if (video.Length != (long)Channels * frames * Height * Width)
            throw new ArgumentException($"video holds {video.Length} values; the encoder needs 1 x {frames} x {Channels} x {Height} x {Width}", nameof(video));
        int latentFrames = LatentFramesFor(frames);
        float[] moments;
        if (_tiles is { IsTiled: true } tiles)
        {
            // diffusers blends the moments (mean ‖ logvar on channels) of the tiles: both halves alike.
            var all = video.ToArray();
            moments = VaeTileBlender.Assemble(tiles, 2 * LatentChannels * latentFrames, (rows, cols) => EncodeRegion(all, frames, layout, rows, cols));
        }
        else moments = EncodeRegion(video, frames, layout, new VaeTileSpan(0, Height, LatentHeight), new VaeTileSpan(0, Width, LatentWidth));
        int half = LatentChannels * latentFrames * LatentHeight * LatentWidth;
        return new VaePosterior(moments[..half], moments[half..], LatentChannels, latentFrames, LatentHeight, LatentWidth);
    }

    /// <summary>Encodes pixel rows <paramref name="rows"/> × columns <paramref name="cols"/> into the moments [2·C, T, rows/scale, cols/scale] (mean, then logvar).</summary>
    private float[] EncodeRegion(ReadOnlySpan<float> video, int frames, FrameLayout layout, VaeTileSpan rows, VaeTileSpan cols)
    {
        int latentFrames = LatentFramesFor(frames), latentPlane = rows.OutputLength * cols.OutputLength;
        var moments = new float[2L * LatentChannels * latentFrames * latentPlane];
        int half = LatentChannels * latentFrames * latentPlane; // output k (mean, logvar) fills half k
        _clips.Run(video, frames, layout, 1f, rows, cols, (k, values, offset, count) =>
            ChunkedClipRunner.CopyIntoClip(values, LatentChannels, count, latentPlane, moments.AsSpan(k * half, half), latentFrames, offset));
        return moments;
    }

    /// <inheritdoc />
    public void Dispose() => _clips.Dispose();
}
