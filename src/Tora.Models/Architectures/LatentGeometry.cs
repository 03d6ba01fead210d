namespace Tora.Models.Architectures;

/// <summary>The fixed latent geometry a package's graphs are compiled for (static shapes; docs/model.md §6.2); the video in
/// pixels is Tora.Motion's <c>VideoGeometry</c>, and the manifest records both as <c>PackageGeometry</c>.</summary>
/// <param name="LatentFrames">Latent frames T (13 for 49 video frames).</param>
/// <param name="LatentHeight">Latent height H (60 for 480 px).</param>
/// <param name="LatentWidth">Latent width W (90 for 720 px).</param>
/// <param name="PatchSize">Spatial patch size p (2).</param>
public sealed record LatentGeometry(int LatentFrames, int LatentHeight, int LatentWidth, int PatchSize = 2)
{
    /// <summary>Patch rows h = H / p.</summary>
    public int PatchRows => LatentHeight / PatchSize;

    /// <summary>Patch columns w = W / p.</summary>
    public int PatchColumns => LatentWidth / PatchSize;

    /// <summary>Video tokens T·h·w.</summary>
    public int VideoTokens => LatentFrames * PatchRows * PatchColumns;

    /// <summary>The training geometry of a transformer config (sample_frames is the pixel frame count, docs/model.md §4.2).</summary>
    public static LatentGeometry FromConfig(Checkpoints.ToraTransformerConfig c) =>
        Validate(new LatentGeometry((c.SampleFrames - 1) / c.TemporalCompressionRatio + 1, c.SampleHeight, c.SampleWidth, c.PatchSize));

    /// <summary>Checks that the latents divide into whole patches.</summary>
    /// <exception cref="ArgumentException">They do not.</exception>
    public static LatentGeometry Validate(LatentGeometry g)
    {
        if (g.LatentFrames <= 0 || g.LatentHeight <= 0 || g.LatentWidth <= 0 || g.PatchSize <= 0)
            throw new ArgumentException($"invalid latent geometry {g}");
        if (g.LatentHeight % g.PatchSize != 0 || g.LatentWidth % g.PatchSize != 0)
            throw new ArgumentException($"latent size {g.LatentHeight}x{g.LatentWidth} is not a multiple of the patch size {g.PatchSize}");
        return g;
    }
}
