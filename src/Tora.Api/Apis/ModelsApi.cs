using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tora.Api.OpenApi;
using Tora.Core;
using Tora.Core.Workers;

namespace Tora.Api.Apis;

/// <summary><c>GET /v1/models</c>: the models offered, their defaults and limits, and whether a worker serves them.</summary>
public static class ModelsApi
{
    /// <summary>Maps the routes.</summary>
    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/models").WithTags("Models").RequireAuthorization();
        api.MapGet("/", ListModels).WithOperation("ListModels", "Models, their defaults and allowed values, and their workers");
        return api;
    }

    /// <summary>The models offered, their defaults and allowed values, and whether a worker serves them.</summary>
    public static async Task<Ok<ModelList>> ListModels(IOptions<ModelCatalogOptions> catalog, WorkerRegistry workers, CancellationToken ct)
    {
        var live = await workers.LiveAsync(ct);
        var models = catalog.Value.Effective.Select(m =>
        {
            var mine = live.Where(w => w.Model == m.Name).ToList();
            var ready = mine.Count(w => w.Ready);
            var detail = ready > 0 ? mine.First(w => w.Ready).Detail
                : mine.Count > 0 ? mine[0].Detail
                : "no worker is running for this model";
            return new ModelResource(m.Name, m.Description,
                new ModelDefaults(m.NumFrames, m.Width, m.Height, m.Steps, 6.0, true, 8),
                new ModelLimits(m.FrameChoices, m.SizeChoices.Select(s => $"{s.Width}x{s.Height}").ToList(), m.MaxSteps, m.AcceptsFirstFrame),
                new ModelWorkers(mine.Count, ready, ready > 0 ? "ready" : "unavailable", WithoutServerPaths(detail)));
        }).ToList();
        return TypedResults.Ok(new ModelList(models));
    }

    private static readonly System.Text.RegularExpressions.Regex PathToken = new(@"[^\s'""(),;]*[/\\][^\s'""(),;]*",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// A worker's detail as every tenant may see it: the worker reports where its model package lies (operators read
    /// that in <c>/health/ready</c> and the worker log), but the server's file system is none of a tenant's business.
    /// </summary>
    public static string WithoutServerPaths(string detail) => PathToken.Replace(detail, "<server path>");
}

/// <summary>The models.</summary>
/// <param name="Data">Models; the first is the default.</param>
public sealed record ModelList(IReadOnlyList<ModelResource> Data)
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object => "list";
}

/// <summary>One model.</summary>
public sealed record ModelResource(
    string Id,
    string Description,
    ModelDefaults Defaults,
    ModelLimits Limits,
    ModelWorkers Workers);

/// <summary>Defaults applied when a field is absent.</summary>
public sealed record ModelDefaults(
    int NumFrames,
    int Width,
    int Height,
    int Steps,
    double GuidanceScale,
    bool DynamicCfg,
    int Fps);

/// <summary>Allowed values.</summary>
public sealed record ModelLimits(
    IReadOnlyList<int> NumFrames,
    IReadOnlyList<string> Sizes,
    int MaxSteps,
    bool AcceptsFirstFrame);

/// <summary>Workers serving the model.</summary>
public sealed record ModelWorkers(
    int Online,
    int Ready,
    string Status,
    string Detail);
