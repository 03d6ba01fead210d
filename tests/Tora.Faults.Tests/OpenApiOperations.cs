using System.Text.RegularExpressions;

namespace Tora.Faults.Tests;

/// <summary>One operation of <c>openapi.yaml</c>: method and path template.</summary>
public sealed record OpenApiOperation(HttpMethod Method, string Path)
{
    /// <summary>The path with its <c>{name}</c> parameters filled by <paramref name="value"/>.</summary>
    public string Fill(Func<string, string> value) => Regex.Replace(Path, @"\{([^}]+)\}", m => value(m.Groups[1].Value));

    /// <inheritdoc />
    public override string ToString() => $"{Method} {Path}";
}

/// <summary>Reads the operations of the committed <c>openapi.yaml</c> (paths at indent 2, methods at indent 4).</summary>
public static partial class OpenApiOperations
{
    /// <summary>Every operation of the contract.</summary>
    public static IReadOnlyList<OpenApiOperation> All { get; } = Read(System.IO.Path.Combine(AppContext.BaseDirectory, "openapi.yaml"));

    private static List<OpenApiOperation> Read(string file)
    {
        var result = new List<OpenApiOperation>();
        string? path = null;
        var inPaths = false;
        foreach (var line in File.ReadLines(file))
        {
            if (line.Length > 0 && line[0] != ' ') { inPaths = line.StartsWith("paths:", StringComparison.Ordinal); path = null; continue; }
            if (!inPaths) continue;
            if (PathLine().Match(line) is { Success: true } p) { path = p.Groups[1].Value; continue; }
            if (path is not null && MethodLine().Match(line) is { Success: true } m)
                result.Add(new OpenApiOperation(new HttpMethod(m.Groups[1].Value.ToUpperInvariant()), path));
        }
        if (result.Count < 10) throw new InvalidOperationException($"only {result.Count} operations read from {file}");
        return result;
    }

    [GeneratedRegex(@"^  '?(/[^':]*)'?:\s*$")]
    private static partial Regex PathLine();

    [GeneratedRegex(@"^    (get|post|put|patch|delete):\s*$")]
    private static partial Regex MethodLine();
}
