using Tora.Motion.Trajectories;

namespace Tora.Cli;

/// <summary>
/// Trajectory files given on the command line: <c>.txt</c> as the original's (one <c>x,y</c> per line on the
/// 256 × 256 canvas) or <c>.json</c> as the API's, read and then validated for one video by the same
/// validator the API uses. Any problem is a <see cref="CliException"/> naming the file and the first error.
/// </summary>
internal static class TrajectoryFiles
{
    public static IReadOnlyList<Trajectory> Load(string file, VideoGeometry geometry)
    {
        if (!File.Exists(file)) throw new CliException($"{file}: no such file");
        var extension = Path.GetExtension(file).ToLowerInvariant();
        TrajectoryParseResult parsed;
        try
        {
            parsed = extension switch
            {
                ".txt" => TrajectoryTextReader.ReadFile(file),
                ".json" => TrajectoryJsonReader.ReadFile(file),
                _ => throw new CliException($"{file}: unknown trajectory file type '{extension}' (expected .txt or .json)"),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{file}: {e.Message}");
        }
        if (!parsed.Success) throw new CliException($"{file}: {new TrajectoryValidationException(parsed.Errors).Message}");
        if (parsed.Trajectories.Count == 0) throw new CliException($"{file}: no trajectories");
        var errors = TrajectoryValidator.Validate(parsed.Trajectories, geometry);
        if (errors.Count > 0) throw new CliException($"{file}: {new TrajectoryValidationException(errors).Message}");
        return parsed.Trajectories;
    }
}
