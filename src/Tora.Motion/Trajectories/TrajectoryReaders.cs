using System.Globalization;
using System.Text.Json;

namespace Tora.Motion.Trajectories;

/// <summary>Trajectories read from a document, or the problems that stopped them being read.</summary>
/// <param name="Trajectories">What was read (empty when <paramref name="Errors"/> is not).</param>
/// <param name="Errors">Syntax and shape problems; semantic checks are <see cref="TrajectoryValidator"/>'s job.</param>
public sealed record TrajectoryParseResult(IReadOnlyList<Trajectory> Trajectories, IReadOnlyList<TrajectoryError> Errors)
{
    /// <summary>True when nothing went wrong.</summary>
    public bool Success => Errors.Count == 0;

    internal static TrajectoryParseResult Fail(List<TrajectoryError> errors) => new([], errors);
}

/// <summary>
/// Reads the original's trajectory files (<c>sat/trajs/*.txt</c>, docs/model.md §1.1): one <c>x,y</c> or
/// <c>x, y</c> point per line on the 256 × 256 canvas. Unlike the original, blank lines (a trailing empty
/// line) are skipped instead of crashing; a non-integer value is accepted and truncated later.
/// </summary>
public static class TrajectoryTextReader
{
    /// <summary>Parses the text of one file as trajectory number <paramref name="index"/> (used in error pointers).</summary>
    public static TrajectoryParseResult Parse(string text, int index = 0)
    {
        var points = new List<TrajectoryPoint>();
        var errors = new List<TrajectoryError>();
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var parts = line.Split(',');
            if (parts.Length == 2 && TryNumber(parts[0], out var x) && TryNumber(parts[1], out var y))
            {
                points.Add(new TrajectoryPoint(x, y));
                continue;
            }
            errors.Add(new($"/trajectories/{index}/points/{points.Count}", TrajectoryErrorCodes.InvalidSyntax,
                $"line {lineNumber}: expected 'x,y', got '{Shorten(line)}'"));
            points.Add(default); // keep later point indices aligned with their lines
        }
        return errors.Count > 0
            ? TrajectoryParseResult.Fail(errors)
            : new([new Trajectory(points, CoordinateSpace.Canvas256)], errors);
    }

    /// <summary>Reads a <c>.txt</c> file.</summary>
    public static TrajectoryParseResult ReadFile(string path, int index = 0) => Parse(File.ReadAllText(path), index);

    private static bool TryNumber(string s, out double value) =>
        double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    internal static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";
}

/// <summary>
/// Reads the API's trajectory format: <c>{"trajectories":[{"points":[[x,y],…],"space":"…","frames":[…]}]}</c>,
/// or a bare list of such trajectory objects, or one trajectory object. <c>space</c> defaults to
/// <c>normalized</c>; <c>frames</c> is optional.
/// </summary>
public static class TrajectoryJsonReader
{
    /// <summary>The space assumed when a trajectory object has no <c>space</c>.</summary>
    public const CoordinateSpace DefaultSpace = CoordinateSpace.Normalized;

    /// <summary>Parses a JSON document.</summary>
    public static TrajectoryParseResult Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            return TrajectoryParseResult.Fail([new("", TrajectoryErrorCodes.InvalidSyntax, $"not valid JSON: {e.Message}")]);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("trajectories", out var list))
                return ParseList(list, "/trajectories");
            if (root.ValueKind == JsonValueKind.Array)
                return ParseList(root, "");
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("points", out _))
            {
                var errors = new List<TrajectoryError>();
                var t = ParseTrajectory(root, "", errors);
                return errors.Count > 0 ? TrajectoryParseResult.Fail(errors) : new([t!], errors);
            }
            return TrajectoryParseResult.Fail([new("", TrajectoryErrorCodes.InvalidValue,
                "expected an object with \"trajectories\", a list of trajectories or one trajectory object")]);
        }
    }

    /// <summary>Reads a <c>.json</c> file.</summary>
    public static TrajectoryParseResult ReadFile(string path) => Parse(File.ReadAllText(path));

    /// <summary>
    /// Parses a JSON array of trajectory objects, e.g. the <c>trajectories</c> field of an API request;
    /// <paramref name="pointer"/> is that array's JSON pointer, the prefix of every error.
    /// </summary>
    public static TrajectoryParseResult ParseList(JsonElement array, string pointer = "/trajectories")
    {
        var errors = new List<TrajectoryError>();
        if (array.ValueKind != JsonValueKind.Array)
            return TrajectoryParseResult.Fail([new(pointer, TrajectoryErrorCodes.InvalidValue, "trajectories must be a list")]);
        var result = new List<Trajectory>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var t = ParseTrajectory(item, $"{pointer}/{i}", errors);
            if (t is not null) result.Add(t);
            i++;
        }
        return errors.Count > 0 ? TrajectoryParseResult.Fail(errors) : new(result, errors);
    }

    private static Trajectory? ParseTrajectory(JsonElement item, string at, List<TrajectoryError> errors)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(at, TrajectoryErrorCodes.InvalidValue, "a trajectory must be an object with \"points\""));
            return null;
        }
        var before = errors.Count;
        var space = DefaultSpace;
        if (item.TryGetProperty("space", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            var name = s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (!TryParseSpace(name, out space))
            {
                errors.Add(new($"{at}/space", TrajectoryErrorCodes.UnknownSpace,
                    $"space must be \"normalized\", \"canvas256\" or \"pixels\", got {Shorten(s)}"));
            }
        }
        var points = new List<TrajectoryPoint>();
        if (!item.TryGetProperty("points", out var pts) || pts.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new($"{at}/points", TrajectoryErrorCodes.InvalidValue, "points must be a list of [x, y] pairs"));
        }
        else
        {
            var j = 0;
            foreach (var p in pts.EnumerateArray())
            {
                if (p.ValueKind == JsonValueKind.Array && p.GetArrayLength() == 2
                    && p[0].ValueKind == JsonValueKind.Number && p[1].ValueKind == JsonValueKind.Number
                    && p[0].TryGetDouble(out var x) && p[1].TryGetDouble(out var y))
                {
                    // An overflowing literal such as 1e400 arrives as ±infinity; the validator reports it.
                    points.Add(new TrajectoryPoint(x, y));
                }
                else
                {
                    errors.Add(new($"{at}/points/{j}", TrajectoryErrorCodes.InvalidValue, $"a point must be [x, y] with two numbers, got {Shorten(p)}"));
                }
                j++;
            }
        }
        List<int>? frames = null;
        if (item.TryGetProperty("frames", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            if (f.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new($"{at}/frames", TrajectoryErrorCodes.InvalidValue, "frames must be a list of integer frame indices"));
            }
            else
            {
                frames = [];
                var j = 0;
                foreach (var v in f.EnumerateArray())
                {
                    if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var k)) frames.Add(k);
                    else errors.Add(new($"{at}/frames/{j}", TrajectoryErrorCodes.InvalidValue, $"a frame index must be an integer, got {Shorten(v)}"));
                    j++;
                }
            }
        }
        return errors.Count > before ? null : new Trajectory(points, space, frames);
    }

    /// <summary>Parses a wire name of <see cref="CoordinateSpace"/> (case-insensitive).</summary>
    public static bool TryParseSpace(string? name, out CoordinateSpace space)
    {
        switch (name?.ToLowerInvariant())
        {
            case "normalized": space = CoordinateSpace.Normalized; return true;
            case "canvas256": space = CoordinateSpace.Canvas256; return true;
            case "pixels": space = CoordinateSpace.Pixels; return true;
            default: space = DefaultSpace; return false;
        }
    }

    private static string Shorten(JsonElement e) => TrajectoryTextReader.Shorten(e.GetRawText());
}
