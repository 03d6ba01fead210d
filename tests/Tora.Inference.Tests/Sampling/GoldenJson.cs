using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Tora.Inference.Tests.Sampling;

/// <summary>Reads the golden JSON files, which hold Python's bare <c>Infinity</c>/<c>NaN</c> literals.</summary>
internal static partial class GoldenJson
{
    public static JsonElement Load(string path)
    {
        var text = File.ReadAllText(path);
        text = NonFinite().Replace(text, m => "\"" + m.Value + "\"");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    public static double Number(this JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => e.GetString() switch
        {
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var s => double.Parse(s!, CultureInfo.InvariantCulture),
        },
        _ => throw new InvalidDataException($"not a number: {e}"),
    };

    public static double[] Numbers(this JsonElement e) => e.EnumerateArray().Select(Number).ToArray();

    [GeneratedRegex(@"-?\bInfinity\b|\bNaN\b")]
    private static partial Regex NonFinite();
}
