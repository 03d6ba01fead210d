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
            errors.Add(TrajectoryError.InvalidSyntax($"/trajectories/{index}/points/{points.Count}",
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
/// Reads the API's trajectory format from a file: <c>{"trajectories":[{"points":[[x,y],…],"space":"…","frames":[…]}]}</c>,
/// or a bare list of such trajectory objects, or one trajectory object. The objects are <see cref="TrajectorySpec"/>
/// records, read by System.Text.Json as the API reads them and checked by the same <see cref="TrajectorySpec.ToTrajectories"/>.
/// </summary>
public static class TrajectoryJsonReader
{
    private static readonly JsonSerializerOptions Json = new()
    {
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
    };

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
            return TrajectoryParseResult.Fail([TrajectoryError.InvalidSyntax("", $"not valid JSON: {e.Message}")]);
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
                var (one, error) = Read<TrajectorySpec>(root, "");
                if (error is not null) return TrajectoryParseResult.Fail([error]);
                // The one object is the document itself: its errors point at "/points/…", not "/0/points/…".
                var r = TrajectorySpec.ToTrajectories([one], "");
                return r.Success ? r : TrajectoryParseResult.Fail([.. r.Errors.Select(e => e with { Pointer = e.Pointer[2..] })]);
            }
            return TrajectoryParseResult.Fail([TrajectoryError.InvalidValue("",
                "expected an object with \"trajectories\", a list of trajectories or one trajectory object")]);
        }
    }

    /// <summary>Reads a <c>.json</c> file.</summary>
    public static TrajectoryParseResult ReadFile(string path) => Parse(File.ReadAllText(path));

    /// <summary>
    /// Parses a JSON array of trajectory objects; <paramref name="pointer"/> is that array's JSON pointer, the
    /// prefix of every error.
    /// </summary>
    public static TrajectoryParseResult ParseList(JsonElement array, string pointer = "/trajectories")
    {
        if (array.ValueKind != JsonValueKind.Array)
            return TrajectoryParseResult.Fail([TrajectoryError.InvalidValue(pointer, "trajectories must be a list")]);
        var (specs, error) = Read<List<TrajectorySpec?>>(array, pointer);
        return error is not null ? TrajectoryParseResult.Fail([error]) : TrajectorySpec.ToTrajectories(specs, pointer);
    }

    private static (T? Value, TrajectoryError? Error) Read<T>(JsonElement element, string pointer)
    {
        try
        {
            return (element.Deserialize<T>(Json), null);
        }
        catch (JsonException e)
        {
            // Wrong JSON types (a string for a number, a fraction for a frame index, an object for a point).
            var at = pointer + JsonPointer.FromPath(e.Path);
            return (default, TrajectoryError.InvalidValue(at, $"the value at '{at}' has the wrong type"));
        }
    }
}
