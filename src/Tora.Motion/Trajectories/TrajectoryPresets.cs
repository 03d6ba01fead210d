using System.Collections.Frozen;

namespace Tora.Motion.Trajectories;

/// <summary>A named example trajectory shipped with the original (<c>sat/trajs/&lt;name&gt;.txt</c>).</summary>
/// <param name="Name">Preset name, e.g. <c>coaster</c>.</param>
/// <param name="Trajectory">The points on the 256 × 256 canvas, as in the file.</param>
public sealed record TrajectoryPreset(string Name, Trajectory Trajectory);

/// <summary>
/// The nine example trajectories of the original (circle, coaster, dance, infinity, pause, sawtooth, shake,
/// spiral, wave; docs/model.md §1.1), embedded in this assembly so the API and CLI can serve them.
/// </summary>
public static class TrajectoryPresets
{
    /// <summary>The preset names in alphabetical order.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["circle", "coaster", "dance", "infinity", "pause", "sawtooth", "shake", "spiral", "wave"];

    private static readonly Lazy<FrozenDictionary<string, TrajectoryPreset>> All = new(Load);

    /// <summary>Every preset, in <see cref="Names"/> order.</summary>
    public static IReadOnlyList<TrajectoryPreset> List => Names.Select(n => All.Value[n]).ToArray();

    /// <summary>The preset called <paramref name="name"/> (case-insensitive), or false.</summary>
    public static bool TryGet(string name, out TrajectoryPreset preset) =>
        All.Value.TryGetValue(name.ToLowerInvariant(), out preset!);

    /// <summary>The preset called <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> for an unknown name.</summary>
    public static TrajectoryPreset Get(string name) =>
        TryGet(name, out var p) ? p : throw new KeyNotFoundException($"no trajectory preset '{name}' (known: {string.Join(", ", Names)})");

    /// <summary>The original text of a preset's <c>.txt</c> file.</summary>
    public static string GetText(string name)
    {
        if (!Names.Contains(name.ToLowerInvariant()))
            throw new KeyNotFoundException($"no trajectory preset '{name}' (known: {string.Join(", ", Names)})");
        var resource = $"Tora.Motion.Trajectories.Presets.{name.ToLowerInvariant()}.txt";
        using var stream = typeof(TrajectoryPresets).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded resource {resource} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static FrozenDictionary<string, TrajectoryPreset> Load()
    {
        var d = new Dictionary<string, TrajectoryPreset>();
        foreach (var name in Names)
        {
            var parsed = TrajectoryTextReader.Parse(GetText(name));
            if (!parsed.Success) throw new InvalidOperationException($"embedded preset {name} is broken: {parsed.Errors[0]}");
            d[name] = new TrajectoryPreset(name, parsed.Trajectories[0]);
        }
        return d.ToFrozenDictionary();
    }
}
