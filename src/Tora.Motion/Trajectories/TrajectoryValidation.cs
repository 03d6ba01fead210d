using System.Globalization;

namespace Tora.Motion.Trajectories;

/// <summary>
/// One problem with a trajectory request, as data: the API turns a list of these into a 422 response. Every kind of
/// problem is made by one factory below, which writes its stable <see cref="Code"/> once, next to the message it
/// always carries; the codes are listed in the folder's README.
/// </summary>
/// <param name="Pointer">JSON pointer (RFC 6901) of the offending value, e.g. <c>/trajectories/0/points/3</c>.</param>
/// <param name="Code">Stable machine-readable code, e.g. <c>point_outside_canvas</c>.</param>
/// <param name="Message">Human-readable explanation.</param>
public sealed record TrajectoryError(string Pointer, string Code, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Pointer}: {Message} ({Code})";

    /// <summary><c>invalid_syntax</c>: the document is not valid JSON, or a line of a text file is not <c>x,y</c>.</summary>
    internal static TrajectoryError InvalidSyntax(string pointer, string message) => new(pointer, "invalid_syntax", message);

    /// <summary><c>invalid_value</c>: a value has the wrong JSON type or shape (e.g. a point that is not <c>[x, y]</c>).</summary>
    internal static TrajectoryError InvalidValue(string pointer, string message) => new(pointer, "invalid_value", message);

    /// <summary><c>unknown_space</c>: the <c>space</c> is not one of <see cref="CoordinateSpaces.Names"/>.</summary>
    internal static TrajectoryError UnknownSpace(string pointer, string given) =>
        new(pointer, "unknown_space", $"space must be one of {CoordinateSpaces.Names}, got '{TrajectoryTextReader.Shorten(given)}'");

    /// <summary><c>too_many_trajectories</c>: more than <see cref="TrajectoryLimits.MaxTrajectories"/>.</summary>
    internal static TrajectoryError TooManyTrajectories(int count, int max) =>
        new("/trajectories", "too_many_trajectories", $"{count} trajectories given, at most {max} allowed");

    /// <summary><c>empty_trajectory</c>: a trajectory without points.</summary>
    internal static TrajectoryError EmptyTrajectory(int index) =>
        new($"/trajectories/{index}/points", "empty_trajectory", $"trajectory {index} has no points");

    /// <summary><c>too_many_points</c>: more than <see cref="TrajectoryLimits.MaxPointsPerTrajectory"/>.</summary>
    internal static TrajectoryError TooManyPoints(int index, int count, int max) =>
        new($"/trajectories/{index}/points", "too_many_points", $"trajectory {index} has {count} points, at most {max} allowed");

    /// <summary><c>point_not_finite</c>: a coordinate is NaN or infinite.</summary>
    internal static TrajectoryError PointNotFinite(int index, int point) =>
        new($"/trajectories/{index}/points/{point}", "point_not_finite", $"trajectory {index} point {point} has a coordinate that is not a finite number");

    /// <summary><c>point_outside_canvas</c>: a point lies outside its coordinate space's canvas (<paramref name="range"/> says which).</summary>
    internal static TrajectoryError PointOutsideCanvas(int index, int point, string coordinates, string space, string range) =>
        new($"/trajectories/{index}/points/{point}", "point_outside_canvas",
            $"trajectory {index} point {point} ({coordinates}) is outside the {space} canvas ({range})");

    /// <summary><c>frames_length_mismatch</c>: <c>frames</c> does not have one entry per point.</summary>
    internal static TrajectoryError FramesLengthMismatch(int index, int points, int frames) =>
        new($"/trajectories/{index}/frames", "frames_length_mismatch", $"trajectory {index} has {points} points but {frames} frame indices");

    /// <summary><c>frame_out_of_range</c>: a frame index is outside 0..F−1.</summary>
    internal static TrajectoryError FrameOutOfRange(int index, int entry, int frame, int frameCount) =>
        new($"/trajectories/{index}/frames/{entry}", "frame_out_of_range", $"trajectory {index} frame index {entry} is {frame}, outside 0..{frameCount - 1}");

    /// <summary><c>frames_not_increasing</c>: a frame index is not greater than the one before it.</summary>
    internal static TrajectoryError FramesNotIncreasing(int index, int entry, int frame, int previous) =>
        new($"/trajectories/{index}/frames/{entry}", "frames_not_increasing",
            $"trajectory {index} frame index {entry} is {frame}, not greater than the previous {previous}");
}

/// <summary>Configurable limits on trajectory requests.</summary>
public sealed record TrajectoryLimits
{
    /// <summary>Most trajectories in one request (each adds a moving object to the one flow field).</summary>
    public int MaxTrajectories { get; init; } = 16;

    /// <summary>Most points in one trajectory (longer paths are resampled to the frame count anyway).</summary>
    public int MaxPointsPerTrajectory { get; init; } = 2048;

    /// <summary>The defaults.</summary>
    public static TrajectoryLimits Default { get; } = new();
}

/// <summary>
/// Checks trajectories before any maths runs and names every bad value; never throws for bad input.
/// </summary>
public static class TrajectoryValidator
{
    /// <summary>
    /// Wire records to valid trajectories for a video of <paramref name="geometry"/>: the count, then their shape
    /// (<see cref="TrajectorySpec.ToTrajectories"/>), then <see cref="Validate"/>. What the API's create and preview
    /// endpoints, the worker's stored input and the CLI's JSON files all go through.
    /// </summary>
    public static TrajectoryParseResult Resolve(IReadOnlyList<TrajectorySpec?>? specs, VideoGeometry geometry, TrajectoryLimits? limits = null)
    {
        limits ??= TrajectoryLimits.Default;
        if (specs is { Count: var n } && n > limits.MaxTrajectories)
            return TrajectoryParseResult.Fail([TrajectoryError.TooManyTrajectories(n, limits.MaxTrajectories)]);
        var parsed = TrajectorySpec.ToTrajectories(specs);
        if (!parsed.Success) return parsed;
        var errors = Validate(parsed.Trajectories, geometry, limits);
        return errors.Count > 0 ? TrajectoryParseResult.Fail([.. errors]) : parsed;
    }

    /// <summary>Returns every problem of <paramref name="trajectories"/> for a video of <paramref name="geometry"/>; empty when valid.</summary>
    /// <remarks>No trajectory at all is valid: it means motion guidance off (docs/model.md §7).</remarks>
    public static IReadOnlyList<TrajectoryError> Validate(IReadOnlyList<Trajectory> trajectories, VideoGeometry geometry, TrajectoryLimits? limits = null)
    {
        limits ??= TrajectoryLimits.Default;
        var errors = new List<TrajectoryError>();
        if (trajectories.Count > limits.MaxTrajectories)
            errors.Add(TrajectoryError.TooManyTrajectories(trajectories.Count, limits.MaxTrajectories));
        for (var i = 0; i < trajectories.Count; i++)
            ValidateOne(trajectories[i], i, geometry, limits, errors);
        return errors;
    }

    private static void ValidateOne(Trajectory t, int index, VideoGeometry geometry, TrajectoryLimits limits, List<TrajectoryError> errors)
    {
        if (t.Points.Count == 0)
        {
            errors.Add(TrajectoryError.EmptyTrajectory(index));
            return;
        }
        if (t.Points.Count > limits.MaxPointsPerTrajectory)
            errors.Add(TrajectoryError.TooManyPoints(index, t.Points.Count, limits.MaxPointsPerTrajectory));
        var (maxX, maxY, inclusive) = CanvasBounds(t.Space, geometry);
        for (var j = 0; j < t.Points.Count; j++)
        {
            var p = t.Points[j];
            if (!double.IsFinite(p.X) || !double.IsFinite(p.Y))
            {
                errors.Add(TrajectoryError.PointNotFinite(index, j));
                continue;
            }
            var inside = p.X >= 0 && p.Y >= 0 && (inclusive ? p.X <= maxX && p.Y <= maxY : p.X < maxX && p.Y < maxY);
            if (!inside)
            {
                var range = inclusive ? $"0 ≤ x ≤ {F(maxX)}, 0 ≤ y ≤ {F(maxY)}" : $"0 ≤ x < {F(maxX)}, 0 ≤ y < {F(maxY)}";
                errors.Add(TrajectoryError.PointOutsideCanvas(index, j, $"{F(p.X)}, {F(p.Y)}", CoordinateSpaces.Name(t.Space), range));
            }
        }
        if (t.Frames is { } frames) ValidateFrames(frames, t.Points.Count, index, geometry, errors);
    }

    private static void ValidateFrames(IReadOnlyList<int> frames, int pointCount, int index, VideoGeometry geometry, List<TrajectoryError> errors)
    {
        if (frames.Count != pointCount)
            errors.Add(TrajectoryError.FramesLengthMismatch(index, pointCount, frames.Count));
        for (var j = 0; j < frames.Count; j++)
        {
            if (frames[j] < 0 || frames[j] >= geometry.Frames)
                errors.Add(TrajectoryError.FrameOutOfRange(index, j, frames[j], geometry.Frames));
            else if (j > 0 && frames[j] <= frames[j - 1])
                errors.Add(TrajectoryError.FramesNotIncreasing(index, j, frames[j], frames[j - 1]));
        }
    }

    /// <summary>Upper bounds of a space and whether they are inclusive (normalized: 0..1 inclusive).</summary>
    internal static (double MaxX, double MaxY, bool Inclusive) CanvasBounds(CoordinateSpace space, VideoGeometry geometry) => space switch
    {
        CoordinateSpace.Normalized => (1.0, 1.0, true),
        CoordinateSpace.Canvas256 => (256.0, 256.0, false),
        CoordinateSpace.Pixels => (geometry.Width, geometry.Height, false),
        _ => throw new ArgumentOutOfRangeException(nameof(space), space, null),
    };

    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}

/// <summary>Thrown by convenience entry points when trajectories are invalid; carries the errors as data.</summary>
public sealed class TrajectoryValidationException(IReadOnlyList<TrajectoryError> errors)
    : Exception(errors.Count == 0 ? "invalid trajectories" : errors[0] + (errors.Count > 1 ? $" (and {errors.Count - 1} more)" : ""))
{
    /// <summary>Every problem found.</summary>
    public IReadOnlyList<TrajectoryError> Errors { get; } = errors;
}
