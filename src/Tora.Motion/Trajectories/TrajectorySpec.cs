using System.Text.Json.Serialization;

namespace Tora.Motion.Trajectories;

/// <summary>One trajectory: points in a coordinate space, optionally pinned to frames.</summary>
/// <remarks>
/// The one wire form of a trajectory: an item of a generation or preview request, of a stored and echoed
/// generation input, and of the CLI's JSON files (<c>{"points": [[x, y], …], "space": "…", "frames": […]}</c>).
/// Every member may be missing or null so that bad input reaches <see cref="ToTrajectories"/> and is reported
/// with a JSON pointer instead of failing deserialisation.
/// </remarks>
public sealed record TrajectorySpec
{
    /// <summary>Points as <c>[x, y]</c> pairs (1 to 2,048), spread over the video or pinned by <c>frames</c>.</summary>
    [JsonPropertyName("points")] public IReadOnlyList<double[]?>? Points { get; init; }

    /// <summary><c>normalized</c> (0 ≤ v ≤ 1), <c>canvas256</c> (0 ≤ v &lt; 256, the original demo canvas) or <c>pixels</c> (0 ≤ x &lt; width, 0 ≤ y &lt; height). Default <c>normalized</c>.</summary>
    [JsonPropertyName("space")] public string? Space { get; init; }

    /// <summary>Optional frame index per point, strictly increasing, within the video.</summary>
    [JsonPropertyName("frames")] public IReadOnlyList<int>? Frames { get; init; }

    /// <summary>The wire form of a trajectory (its space always named).</summary>
    public static TrajectorySpec From(Trajectory t) => new()
    {
        Points = t.Points.Select(p => new[] { p.X, p.Y }).ToArray(),
        Space = CoordinateSpaces.Name(t.Space),
        Frames = t.Frames?.ToArray(),
    };

    /// <summary>
    /// The shape check from wire records to trajectories: every item an object with points, every point a pair,
    /// a known space. Errors carry JSON pointers under <paramref name="pointer"/>; whether the trajectories fit a
    /// video is <see cref="TrajectoryValidator"/>'s question.
    /// </summary>
    public static TrajectoryParseResult ToTrajectories(IReadOnlyList<TrajectorySpec?>? specs, string pointer = "/trajectories")
    {
        if (specs is null) return new([], []);
        var errors = new List<TrajectoryError>();
        var result = new List<Trajectory>(specs.Count);
        for (var t = 0; t < specs.Count; t++)
        {
            var at = $"{pointer}/{t}";
            if (specs[t] is not { } item)
            {
                errors.Add(TrajectoryError.InvalidValue(at, "a trajectory must be an object with points"));
                continue;
            }
            var space = CoordinateSpaces.Default;
            if (item.Space is not null && !CoordinateSpaces.TryParse(item.Space, out space))
            {
                errors.Add(TrajectoryError.UnknownSpace($"{at}/space", item.Space));
                continue;
            }
            if (item.Points is null)
            {
                errors.Add(TrajectoryError.InvalidValue($"{at}/points", "points is required: a list of [x, y] pairs"));
                continue;
            }
            var points = new List<TrajectoryPoint>(item.Points.Count);
            var ok = true;
            for (var i = 0; i < item.Points.Count; i++)
            {
                if (item.Points[i] is [var x, var y]) points.Add(new TrajectoryPoint(x, y));
                else
                {
                    errors.Add(TrajectoryError.InvalidValue($"{at}/points/{i}", "a point is an array [x, y] of two numbers"));
                    ok = false;
                }
            }
            if (ok) result.Add(new Trajectory(points, space, item.Frames?.ToArray()));
        }
        return errors.Count > 0 ? TrajectoryParseResult.Fail(errors) : new(result, errors);
    }
}
