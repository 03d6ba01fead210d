namespace Tora.Motion.Trajectories;

/// <summary>
/// A reusable VAE-input buffer (float <c>[1, 3, F, H, W]</c>) for one video size that remembers which windows the
/// last <see cref="FlowVideo.WriteVaeInput(FlowVideoBuffer)"/> coloured. The next write then only whitens those
/// windows and colours the new ones instead of rewriting all 3·F·H·W values: a worker that pools one buffer
/// per video size pays a few milliseconds per job instead of a 200 MB memory fill.
/// </summary>
/// <remarks>
/// The buffer only knows what it wrote itself: code that writes into <see cref="Data"/> must call
/// <see cref="Invalidate"/>, after which the next write is a full one. Not thread-safe.
/// </remarks>
public sealed class FlowVideoBuffer
{
    /// <summary>Allocates a buffer for videos of <paramref name="geometry"/>.</summary>
    public FlowVideoBuffer(VideoGeometry geometry)
    {
        geometry.EnsureValid();
        Geometry = geometry;
        Data = new float[3L * geometry.Frames * geometry.FramePixels];
    }

    /// <summary>The video size this buffer holds.</summary>
    public VideoGeometry Geometry { get; }

    /// <summary>The values, <c>[1, 3, F, H, W]</c>: read them (e.g. as the VAE encoder's input), or call <see cref="Invalidate"/> after writing.</summary>
    public float[] Data { get; }

    /// <summary>Per frame, the windows that are not white; null when the content is unknown.</summary>
    internal WindowRect[][]? Coloured { get; set; }

    /// <summary>Forgets what the buffer holds, so the next write rewrites every value.</summary>
    public void Invalidate() => Coloured = null;
}

/// <summary>A rectangle of pixels: columns <c>X0..X0+Width−1</c>, rows <c>Y0..Y0+Height−1</c>.</summary>
internal readonly record struct WindowRect(int X0, int Y0, int Width, int Height);
