using System.Collections.Frozen;

namespace Tora.Api.Apis;

/// <summary>
/// The web page: <c>/</c> is <c>Web/index.html</c> and <c>/web/{file}</c> its modules and stylesheet, all embedded in
/// the assembly (so they are served the same from a build, a publish or a container, with no CDN), anonymous; the
/// script calls the v1 API with the key the user enters.
/// </summary>
public static class WebPage
{
    private const string Prefix = "Tora.Api.Web.";

    private static readonly Lazy<FrozenDictionary<string, byte[]>> Files = new(() =>
    {
        var assembly = typeof(WebPage).Assembly;
        return assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).ToFrozenDictionary(
            n => n[Prefix.Length..],
            n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                return copy.ToArray();
            }, StringComparer.Ordinal);
    });

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        ".png" => "image/png",
        _ => "application/octet-stream",
    };

    private static IResult Serve(string name) =>
        Files.Value.TryGetValue(name, out var bytes) ? TypedResults.Bytes(bytes, ContentType(name)) : TypedResults.NotFound();

    /// <summary>Maps <c>GET /</c> and <c>GET /web/{file}</c>.</summary>
    public static void MapWebPage(this IEndpointRouteBuilder app)
    {
        if (!Files.Value.ContainsKey("index.html")) throw new InvalidOperationException("the web page is missing from the build");
        app.MapGet("/", () => Serve("index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/web/{file}", (string file) => Serve(file)).AllowAnonymous().ExcludeFromDescription();
    }
}
