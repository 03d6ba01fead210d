namespace Tora.Motion.Trajectories;

/// <summary>
/// Turns a trajectory's key points into exactly one position per video frame, then into video pixels
/// (docs/model.md §1.2; the deliberate differences are docs/model.md §7's).
/// </summary>
/// <remarks>
/// Rules, in the trajectory's own coordinate space (canvas256 and pixels coordinates are truncated to integers
/// first, like the original's <c>int()</c> when it reads a file):
/// <list type="bullet">
/// <item>With per-point frames: frame <c>i</c> between pinned frames <c>a &lt; i &lt; b</c> is
/// <c>p_a + (i−a)/(b−a)·(p_b−p_a)</c>; before the first pinned frame the object waits at the first point, after
/// the last one at the last point.</item>
/// <item>One point: a static object, the same position in every frame (zero motion).</item>
/// <item>2..F points: exactly the original's <c>process_points</c>: the <c>F−n</c> missing points are spread over
/// the <c>n−1</c> segments, <c>⌊(F−n)/(n−1)⌋</c> each and one more for the first <c>(F−n) mod (n−1)</c>; inserted
/// point <c>j</c> of <c>m</c> is <c>p0 + j/(m+1)·(p1−p0)</c>.</item>
/// <item>More than F points: frame <c>i</c> takes the point at fractional index <c>s = i·(n−1)/(F−1)</c>,
/// linearly interpolated between its neighbours (the original drops the tail instead, docs/model.md §9.5).</item>
/// </list>
/// Interpolated canvas256/pixels coordinates are truncated toward zero as Python's <c>int()</c> does; normalized
/// coordinates stay fractional until the mapping to pixels.
/// </remarks>
public static class TrajectoryResampler
{
    /// <summary>Resamples to <paramref name="frames"/> points in the trajectory's own space (no validation).</summary>
    public static TrajectoryPoint[] ResampleInSpace(Trajectory trajectory, int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        var n = trajectory.Points.Count;
        if (n == 0) throw new ArgumentException("a trajectory needs at least one point", nameof(trajectory));
        var truncate = trajectory.Space != CoordinateSpace.Normalized;
        var p = new TrajectoryPoint[n];
        for (var i = 0; i < n; i++)
        {
            var q = trajectory.Points[i];
            p[i] = truncate ? new TrajectoryPoint(Math.Truncate(q.X), Math.Truncate(q.Y)) : q;
        }

        var result = new TrajectoryPoint[frames];
        if (trajectory.Frames is { } pinned)
            ResamplePinned(p, pinned, result, truncate);
        else if (n == 1)
            Array.Fill(result, p[0]);
        else if (n <= frames)
            ProcessPoints(p, result, truncate);
        else
            ResampleEvenly(p, result, truncate);
        return result;
    }

    /// <summary>Resamples and maps to video pixels of <paramref name="geometry"/> (no validation: see <see cref="ToVideo(IReadOnlyList{Trajectory}, VideoGeometry, TrajectoryLimits?)"/>).</summary>
    public static PixelPoint[] ToVideo(Trajectory trajectory, VideoGeometry geometry)
    {
        var points = ResampleInSpace(trajectory, geometry.Frames);
        var result = new PixelPoint[points.Length];
        for (var i = 0; i < points.Length; i++) result[i] = ToPixel(points[i], trajectory.Space, geometry);
        return result;
    }

    /// <summary>
    /// Validates, resamples and maps every trajectory to video pixels: one array of F points per trajectory.
    /// </summary>
    /// <exception cref="TrajectoryValidationException">The trajectories are invalid; the errors are in the exception.</exception>
    public static PixelPoint[][] ToVideo(IReadOnlyList<Trajectory> trajectories, VideoGeometry geometry, TrajectoryLimits? limits = null)
    {
        geometry.EnsureValid();
        var errors = TrajectoryValidator.Validate(trajectories, geometry, limits);
        if (errors.Count > 0) throw new TrajectoryValidationException(errors);
        return trajectories.Select(t => ToVideo(t, geometry)).ToArray();
    }

    /// <summary>Maps one resampled point to a video pixel (see <see cref="CoordinateSpace"/> for each rule).</summary>
    public static PixelPoint ToPixel(TrajectoryPoint p, CoordinateSpace space, VideoGeometry geometry) => space switch
    {
        // int(W·x/256): x is a non-negative integer here, so the float division then truncation is integer division.
        CoordinateSpace.Canvas256 => new((int)((long)geometry.Width * (long)p.X / 256), (int)((long)geometry.Height * (long)p.Y / 256)),
        CoordinateSpace.Pixels => new((int)p.X, (int)p.Y),
        CoordinateSpace.Normalized => new(Math.Min(geometry.Width - 1, (int)(geometry.Width * p.X)), Math.Min(geometry.Height - 1, (int)(geometry.Height * p.Y))),
        _ => throw new ArgumentOutOfRangeException(nameof(space), space, null),
    };

    // The original's process_points for 2 ≤ n ≤ F (n == F returns the input unchanged).
    private static void ProcessPoints(TrajectoryPoint[] p, TrajectoryPoint[] result, bool truncate)
    {
        var n = p.Length;
        var segments = n - 1;
        var missing = result.Length - n;
        var each = missing / segments;
        var extra = missing % segments;
        var o = 0;
        for (var s = 0; s < segments; s++)
        {
            var m = each + (s < extra ? 1 : 0);
            result[o++] = p[s];
            for (var j = 1; j <= m; j++)
                result[o++] = Lerp(p[s], p[s + 1], (double)j / (m + 1), truncate);
        }
        result[o] = p[n - 1];
    }

    // More points than frames: even resampling over the whole path (docs/model.md §7).
    private static void ResampleEvenly(TrajectoryPoint[] p, TrajectoryPoint[] result, bool truncate)
    {
        var n = p.Length;
        var f = result.Length;
        if (f == 1)
        {
            result[0] = p[0];
            return;
        }
        for (var i = 0; i < f; i++)
        {
            var s = (double)((long)i * (n - 1)) / (f - 1);
            var k = (int)s;
            if (k >= n - 1)
            {
                result[i] = p[n - 1];
                continue;
            }
            result[i] = Lerp(p[k], p[k + 1], s - k, truncate);
        }
    }

    private static void ResamplePinned(TrajectoryPoint[] p, IReadOnlyList<int> pinned, TrajectoryPoint[] result, bool truncate)
    {
        var last = p.Length - 1;
        var seg = 0;
        for (var i = 0; i < result.Length; i++)
        {
            if (i <= pinned[0]) { result[i] = p[0]; continue; }
            if (i >= pinned[last]) { result[i] = p[last]; continue; }
            while (pinned[seg + 1] <= i) seg++;
            var a = pinned[seg];
            var b = pinned[seg + 1];
            result[i] = i == a ? p[seg] : Lerp(p[seg], p[seg + 1], (double)(i - a) / (b - a), truncate);
        }
    }

    // x0 + t·(x1 − x0) in double, then int() (truncation toward zero) for the integer spaces, as the original.
    private static TrajectoryPoint Lerp(TrajectoryPoint a, TrajectoryPoint b, double t, bool truncate)
    {
        var x = a.X + t * (b.X - a.X);
        var y = a.Y + t * (b.Y - a.Y);
        return truncate ? new TrajectoryPoint(Math.Truncate(x), Math.Truncate(y)) : new TrajectoryPoint(x, y);
    }
}
