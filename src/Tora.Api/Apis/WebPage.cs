namespace Tora.Api.Apis;

/// <summary>
/// The web page at <c>/</c>: one self-contained HTML file embedded in the assembly (so it is served the same from a
/// build, a publish or a container), anonymous; its script calls the v1 API with the key the user enters.
/// </summary>
public static class WebPage
{
    private static readonly Lazy<string> Html = new(() =>
    {
        using var stream = typeof(WebPage).Assembly.GetManifestResourceStream("Tora.Api.Web.index.html")
            ?? throw new InvalidOperationException("the web page is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary>Maps <c>GET /</c>.</summary>
    public static void MapWebPage(this IEndpointRouteBuilder app) =>
        app.MapGet("/", () => TypedResults.Content(Html.Value, "text/html; charset=utf-8")).AllowAnonymous().ExcludeFromDescription();
}
