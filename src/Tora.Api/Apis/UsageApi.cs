using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Tora.Api.Auth;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core.Generations;

namespace Tora.Api.Apis;

/// <summary>Usage of one tenant, one model, one UTC day (the day the generations were accepted).</summary>
/// <param name="Tenant">The tenant.</param>
/// <param name="Day">The UTC day (<c>yyyy-MM-dd</c>).</param>
/// <param name="Model">The model.</param>
/// <param name="Generations">Generations by current status (every status, zero included).</param>
/// <param name="GpuSeconds">Worker time (recorded per run, else its running time).</param>
/// <param name="GpuSecondsByPhase">Worker time of succeeded runs by pipeline phase (<c>denoise</c>, <c>vae_decode</c>, <c>store</c>, …).</param>
/// <param name="VideoSeconds">Seconds of video produced (frames / fps).</param>
public sealed record UsageResource(
    string Tenant,
    string Day,
    string Model,
    IReadOnlyDictionary<string, long> Generations,
    double GpuSeconds,
    IReadOnlyDictionary<string, double> GpuSecondsByPhase,
    double VideoSeconds);

/// <summary>Usage over a time range, by day and model.</summary>
/// <param name="From">Start of the range (inclusive).</param>
/// <param name="To">End of the range (exclusive).</param>
/// <param name="Data">One row per tenant, day and model with any generation, by day.</param>
public sealed record UsageReport(
    DateTimeOffset From,
    DateTimeOffset To,
    IReadOnlyList<UsageResource> Data)
{
    /// <summary>Always <c>usage</c>.</summary>
    public string Object => "usage";
}

/// <summary>Usage: generations by status, worker (GPU) seconds by phase and seconds of video, by day and model.</summary>
public static class UsageApi
{
    /// <summary>The default range: the last 30 days.</summary>
    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(30);

    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/usage", Mine).WithTags("Usage").RequireAuthorization()
            .WithOperation("GetUsage", "Your tenant's usage by day and model: generations by status, GPU seconds by phase, seconds of video")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status422UnprocessableEntity);
        app.MapGet("/v1/admin/usage", All).WithTags("Usage").RequireAuthorization(ToraApiHosting.AdminPolicy)
            .WithOperation("GetAllUsage", "Every tenant's usage by day and model (admin keys only)")
            .ProducesProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden, StatusCodes.Status422UnprocessableEntity);
        return app;
    }

    /// <summary>The caller's usage.</summary>
    /// <param name="from">Start (RFC 3339 date-time or <c>yyyy-MM-dd</c>, UTC; default: 30 days before <paramref name="to"/>).</param>
    /// <param name="to">End, exclusive (default: now).</param>
    /// <param name="user">The caller.</param>
    /// <param name="usage">The usage store.</param>
    /// <param name="ct">Request aborted.</param>
    public static Task<Results<Ok<UsageReport>, ProblemHttpResult>> Mine(string? from, string? to, ClaimsPrincipal user, UsageStore usage, CancellationToken ct) =>
        ReportAsync(user.Tenant(), from, to, usage, ct);

    /// <summary>Every tenant's usage, or one tenant's.</summary>
    /// <param name="from">Start (RFC 3339 date-time or <c>yyyy-MM-dd</c>, UTC; default: 30 days before <paramref name="to"/>).</param>
    /// <param name="to">End, exclusive (default: now).</param>
    /// <param name="tenant">Only this tenant (default: all).</param>
    /// <param name="usage">The usage store.</param>
    /// <param name="ct">Request aborted.</param>
    public static Task<Results<Ok<UsageReport>, ProblemHttpResult>> All(string? from, string? to, string? tenant, UsageStore usage, CancellationToken ct) =>
        ReportAsync(tenant, from, to, usage, ct);

    private static async Task<Results<Ok<UsageReport>, ProblemHttpResult>> ReportAsync(
        string? tenant, string? fromText, string? toText, UsageStore usage, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var to = Parse(toText, "/to", errors) ?? DateTimeOffset.UtcNow;
        // A 'to' within the default range of the earliest time has no earlier default: start at the earliest.
        var from = Parse(fromText, "/from", errors)
            ?? (to - DateTimeOffset.MinValue < DefaultRange ? DateTimeOffset.MinValue : to - DefaultRange);
        if (errors.Count == 0 && from >= to) errors.Add(new("/from", "invalid_range", "from must be before to"));
        if (errors.Count > 0) return ApiProblem.Validation(errors);
        var rows = await usage.ReadAsync(tenant, from, to, ct);
        return TypedResults.Ok(new UsageReport(from, to, rows.Select(r => new UsageResource(
            r.Tenant, r.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), r.Model,
            GenerationStatus.All.ToDictionary(s => s, s => r.Generations.GetValueOrDefault(s)),
            r.GpuSeconds, r.GpuSecondsByPhase, r.VideoSeconds)).ToList()));
    }

    private static DateTimeOffset? Parse(string? text, string pointer, List<FieldError> errors)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            return new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            return t.ToUniversalTime(); // PostgreSQL's timestamptz takes UTC only
        errors.Add(new(pointer, "invalid_time", $"{pointer[1..]} must be an RFC 3339 date-time or a date (yyyy-MM-dd)"));
        return null;
    }
}
