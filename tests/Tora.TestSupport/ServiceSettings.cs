using System.Globalization;

namespace Tora.TestSupport;

/// <summary>One model of a test service (<c>Tora:Models:N:…</c>).</summary>
public sealed record ModelSettings(string Name, int NumFrames, int Width, int Height, int Steps)
{
    /// <summary>Frame counts a request may ask for (none: only <see cref="NumFrames"/>).</summary>
    public int[] AllowedNumFrames { get; init; } = [];

    /// <summary>Sizes (<c>WxH</c>) a request may ask for (none: only the default).</summary>
    public string[] AllowedSizes { get; init; } = [];

    /// <summary>The most steps a request may ask for (null: the service's default).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Whether the model takes a first frame (image-to-video).</summary>
    public bool AcceptsFirstFrame { get; init; }

    /// <summary>Writes the model as entry <paramref name="index"/> of <c>Tora:Models</c>.</summary>
    public void WriteTo(IDictionary<string, string?> settings, int index)
    {
        var p = $"Tora:Models:{index}:";
        settings[p + "Name"] = Name;
        settings[p + "NumFrames"] = Text(NumFrames);
        settings[p + "Width"] = Text(Width);
        settings[p + "Height"] = Text(Height);
        settings[p + "Steps"] = Text(Steps);
        for (var i = 0; i < AllowedNumFrames.Length; i++) settings[$"{p}AllowedNumFrames:{i}"] = Text(AllowedNumFrames[i]);
        for (var i = 0; i < AllowedSizes.Length; i++) settings[$"{p}AllowedSizes:{i}"] = AllowedSizes[i];
        if (MaxSteps is { } max) settings[p + "MaxSteps"] = Text(max);
        if (AcceptsFirstFrame) settings[p + "AcceptsFirstFrame"] = "true";
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The settings every test service starts from: its database, its filesystem blob root, its models.</summary>
public static class ServiceSettings
{
    /// <summary>
    /// <c>ConnectionStrings:Tora</c>, <c>Tora:Storage:Root</c>, the models in order, and warnings-only logging; a suite
    /// adds what its tests need (limits, webhooks, workers).
    /// </summary>
    public static Dictionary<string, string?> For(string connectionString, string blobRoot, IReadOnlyList<ModelSettings> models)
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tora"] = connectionString,
            ["Tora:Storage:Root"] = blobRoot,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        for (var i = 0; i < models.Count; i++) models[i].WriteTo(settings, i);
        return settings;
    }
}
