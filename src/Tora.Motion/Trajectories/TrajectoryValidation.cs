using System.Globalization;

namespace Tora.Motion.Trajectories;

/// <summary>
/// One problem with a trajectory request, as data: the API turns a list of these into a 422 response.
/// </summary>
/// <param name="Pointer">JSON pointer (RFC 6901) of the offending value, e.g. <c>/trajectories/0/points/3</c>.</param>
/// <param name="Code">Stable machine-readable code (see <see cref="TrajectoryErrorCodes"/>).</param>
/// <param name="Message">Human-readable explanation.</param>
public sealed record TrajectoryError(string Pointer, string Code, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Pointer}: {Message} ({Code})";
}

/// <summary>The stable codes of <see cref="TrajectoryError"/>.</summary>
public static class TrajectoryErrorCodes
{
    /// <summary>The document is not valid JSON, or not a valid trajectory file.</summary>
    public const string InvalidSyntax = "invalid_syntax";
    /// <summary>A value has the wrong JSON type or shape (e.g. a point that is not <c>[x, y]</c>).</summary>
    public const string InvalidValue = "invalid_value";
    /// <summary>The <c>space</c> is not one of <c>normalized</c>, <c>canvas256</c>, <c>pixels</c>.</summary>
    public const string UnknownSpace = "unknown_space";
    /// <summary>More trajectories than <see cref="TrajectoryLimits.MaxTrajectories"/>.</summary>
    public const string TooManyTrajectories = "too_many_trajectories";
    /// <summary>A trajectory without points.</summary>
    public const string EmptyTrajectory = "empty_trajectory";
    /// <summary>More points than <see cref="TrajectoryLimits.MaxPointsPerTrajectory"/>.</summary>
    public const string TooManyPoints = "too_many_points";
    /// <summary>A coordinate is NaN or infinite.</summary>
    public const string PointNotFinite = "point_not_finite";
    /// <summary>A point lies outside its coordinate space's canvas.</summary>
    public const string PointOutsideCanvas = "point_outside_canvas";
    /// <summary><c>frames</c> does not have one entry per point.</summary>
    public const string FramesLengthMismatch = "frames_length_mismatch";
    /// <summary>A frame index is outside 0..F−1.</summary>
    public const string FrameOutOfRange = "frame_out_of_range";
    /// <summary>A frame index is not greater than the one before it.</summary>
    public const string FramesNotIncreasing = "frames_not_increasing";
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
            return TrajectoryParseResult.Fail([new("/trajectories", TrajectoryErrorCodes.TooManyTrajectories, $"at most {limits.MaxTrajectories} trajectories are allowed")]);
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
        {
            errors.Add(new("/trajectories", TrajectoryErrorCodes.TooManyTrajectories,
                $"{trajectories.Count} trajectories given, at most {limits.MaxTrajectories} allowed"));
        }
        for (var i = 0; i < trajectories.Count; i++)
            ValidateOne(trajectories[i], i, geometry, limits, errors);
        return errors;
    }

    private static void ValidateOne(Trajectory t, int index, VideoGeometry geometry, TrajectoryLimits limits, List<TrajectoryError> errors)
    {
        var at = $"/trajectories/{index}";
        if (t.Points.Count == 0)
        {
            errors.Add(new($"{at}/points", TrajectoryErrorCodes.EmptyTrajectory, $"trajectory {index} has no points"));
            return;
        }
        if (t.Points.Count > limits.MaxPointsPerTrajectory)
        {
            errors.Add(new($"{at}/points", TrajectoryErrorCodes.TooManyPoints,
                $"trajectory {index} has {t.Points.Count} points, at most {limits.MaxPointsPerTrajectory} allowed"));
        }
        var (maxX, maxY, inclusive) = CanvasBounds(t.Space, geometry);
        for (var j = 0; j < t.Points.Count; j++)
        {
            var p = t.Points[j];
            if (!double.IsFinite(p.X) || !double.IsFinite(p.Y))
            {
                errors.Add(new($"{at}/points/{j}", TrajectoryErrorCodes.PointNotFinite,
                    $"trajectory {index} point {j} has a coordinate that is not a finite number"));
                continue;
            }
            var inside = p.X >= 0 && p.Y >= 0 && (inclusive ? p.X <= maxX && p.Y <= maxY : p.X < maxX && p.Y < maxY);
            if (!inside)
            {
                var range = inclusive ? $"0 ≤ x ≤ {F(maxX)}, 0 ≤ y ≤ {F(maxY)}" : $"0 ≤ x < {F(maxX)}, 0 ≤ y < {F(maxY)}";
                errors.Add(new($"{at}/points/{j}", TrajectoryErrorCodes.PointOutsideCanvas,
                    $"trajectory {index} point {j} ({F(p.X)}, {F(p.Y)}) is outside the {CoordinateSpaces.Name(t.Space)} canvas ({range})"));
            }
        }
        if (t.Frames is { } frames) ValidateFrames(frames, t.Points.Count, index, geometry, errors);
    }

    private static void ValidateFrames(IReadOnlyList<int> frames, int pointCount, int index, VideoGeometry geometry, List<TrajectoryError> errors)
    {
        var at = $"/trajectories/{index}/frames";
        if (frames.Count != pointCount)
        {
            errors.Add(new(at, TrajectoryErrorCodes.FramesLengthMismatch,
                $"trajectory {index} has {pointCount} points but {frames.Count} frame indices"));
        }
        for (var j = 0; j < frames.Count; j++)
        {
            if (frames[j] < 0 || frames[j] >= geometry.Frames)
            {
                errors.Add(new($"{at}/{j}", TrajectoryErrorCodes.FrameOutOfRange,
                    $"trajectory {index} frame index {j} is {frames[j]}, outside 0..{geometry.Frames - 1}"));
            }
            else if (j > 0 && frames[j] <= frames[j - 1])
            {
                errors.Add(new($"{at}/{j}", TrajectoryErrorCodes.FramesNotIncreasing,
                    $"trajectory {index} frame index {j} is {frames[j]}, not greater than the previous {frames[j - 1]}"));
            }
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
