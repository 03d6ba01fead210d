namespace Tora.Motion.Trajectories;

/// <summary>The coordinate space a trajectory's points are given in.</summary>
public enum CoordinateSpace
{
    /// <summary>
    /// 0..1 on both axes (x right, y down). Resampled in floating point without truncation; a point maps to the
    /// video pixel <c>min(W−1, ⌊W·x⌋)</c>, <c>min(H−1, ⌊H·y⌋)</c> — the canvas256 rule with <c>x/256</c> replaced
    /// by <c>x</c>, and 1.0 landing on the last pixel.
    /// </summary>
    Normalized,

    /// <summary>
    /// The original's 256 × 256 integer canvas (docs/model.md §1.1): valid values are 0 ≤ v &lt; 256, fractions are
    /// truncated toward zero on input like the original's <c>int()</c>, and a point maps to the video pixel
    /// <c>int(W·x/256)</c>, <c>int(H·y/256)</c> (docs/model.md §1.2 step 3).
    /// </summary>
    Canvas256,

    /// <summary>
    /// Video pixels of the output size (0 ≤ x &lt; W, 0 ≤ y &lt; H): fractions are truncated on input, resampling
    /// truncates like canvas256, and the mapping to the video is the identity.
    /// </summary>
    Pixels,
}

/// <summary>The wire names of <see cref="CoordinateSpace"/>, parsed and printed here only.</summary>
public static class CoordinateSpaces
{
    /// <summary>The space of a trajectory that names none.</summary>
    public const CoordinateSpace Default = CoordinateSpace.Normalized;

    /// <summary>Every wire name, for messages: <c>normalized, canvas256, pixels</c>.</summary>
    public const string Names = "normalized, canvas256, pixels";

    /// <summary>The wire name of a space: <c>normalized</c>, <c>canvas256</c> or <c>pixels</c>.</summary>
    public static string Name(CoordinateSpace space) => space switch
    {
        CoordinateSpace.Normalized => "normalized",
        CoordinateSpace.Canvas256 => "canvas256",
        CoordinateSpace.Pixels => "pixels",
        _ => throw new ArgumentOutOfRangeException(nameof(space), space, null),
    };

    /// <summary>Parses a wire name (case-insensitive); <see cref="Default"/> and false when it is none of them.</summary>
    public static bool TryParse(string? name, out CoordinateSpace space)
    {
        switch (name?.ToLowerInvariant())
        {
            case "normalized": space = CoordinateSpace.Normalized; return true;
            case "canvas256": space = CoordinateSpace.Canvas256; return true;
            case "pixels": space = CoordinateSpace.Pixels; return true;
            default: space = Default; return false;
        }
    }
}

/// <summary>One trajectory point in its trajectory's coordinate space.</summary>
/// <param name="X">Horizontal coordinate, growing to the right.</param>
/// <param name="Y">Vertical coordinate, growing downwards.</param>
public readonly record struct TrajectoryPoint(double X, double Y);

/// <summary>A point in video pixels (column <see cref="X"/>, row <see cref="Y"/>).</summary>
public readonly record struct PixelPoint(int X, int Y);

/// <summary>
/// One moving object's path: key positions in time order. Without <see cref="Frames"/>, the points are spread
/// over the video as the original's <c>process_points</c> does (docs/model.md §1.2); with it, point <c>i</c> is
/// pinned to video frame <c>Frames[i]</c> and positions in between are interpolated linearly.
/// </summary>
/// <param name="Points">The key positions; at least one.</param>
/// <param name="Space">The coordinate space of <paramref name="Points"/>.</param>
/// <param name="Frames">Optional strictly increasing frame index per point, each in 0..F−1.</param>
public sealed record Trajectory(IReadOnlyList<TrajectoryPoint> Points, CoordinateSpace Space = CoordinateSpace.Canvas256, IReadOnlyList<int>? Frames = null)
{
    /// <summary>A canvas256 trajectory from integer <c>(x, y)</c> pairs, as in the original's <c>.txt</c> files.</summary>
    public static Trajectory FromCanvas256(params (int X, int Y)[] points) =>
        new(points.Select(p => new TrajectoryPoint(p.X, p.Y)).ToArray(), CoordinateSpace.Canvas256);
}

/// <summary>The size of the flow video: frames, height and width in pixels.</summary>
/// <param name="Frames">Number of video frames F (49 for 13 latent frames).</param>
/// <param name="Height">Height H in pixels.</param>
/// <param name="Width">Width W in pixels.</param>
public readonly record struct VideoGeometry(int Frames, int Height, int Width)
{
    /// <summary>Tora's default: 49 frames at 480 × 720 (docs/model.md §1.2).</summary>
    public static VideoGeometry Default => new(49, 480, 720);

    /// <summary>Number of pixels of one frame.</summary>
    public int FramePixels => Height * Width;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless F ≥ 2 and H, W ≥ 1.</summary>
    public void EnsureValid()
    {
        if (Frames < 2) throw new ArgumentOutOfRangeException(nameof(Frames), Frames, "a flow video needs at least 2 frames");
        if (Height < 1 || Width < 1) throw new ArgumentOutOfRangeException(nameof(Height), $"{Height}x{Width}", "height and width must be positive");
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Frames}x{Height}x{Width}";
}
