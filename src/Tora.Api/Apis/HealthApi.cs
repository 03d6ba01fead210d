using Npgsql;
using Tora.Api.OpenApi;
using Tora.Core.Blobs;
using Tora.Core.Workers;

namespace Tora.Api.Apis;

/// <summary><c>/health/live</c> (the process answers) and <c>/health/ready</c> (database, storage, a ready worker).</summary>
public static class HealthApi
{
    /// <summary>Maps the routes (anonymous: load balancers and orchestrators call them).</summary>
    public static RouteGroupBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/health").WithTags("Health").AllowAnonymous();
        api.MapGet("/live", () => TypedResults.Ok(new HealthReport("live", []))).WithOperation("Live", "The process is up");
        api.MapGet("/ready", Ready).WithOperation("Ready", "Database, blob storage and at least one worker with a usable model")
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
        return api;
    }

    /// <summary>Readiness: database, blob storage and a ready worker; 200 when all pass, 503 with the reasons otherwise.</summary>
    public static async Task<IResult> Ready(NpgsqlDataSource db, IBlobStore blobs, WorkerRegistry workers, CancellationToken ct)
    {
        var checks = new List<HealthCheck>();
        IReadOnlyList<WorkerInfo>? live = null;
        try
        {
            await using var cmd = db.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(ct);
            checks.Add(new HealthCheck("database", true, "PostgreSQL answers"));
            live = await workers.LiveAsync(ct);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            checks.Add(new HealthCheck("database", false, $"PostgreSQL is unreachable: {e.Message}"));
        }
        var blobError = await blobs.CheckAsync(ct);
        checks.Add(new HealthCheck("storage", blobError is null, blobError ?? "blob store is writable"));
        if (live is not null)
        {
            var ready = live.Where(w => w.Ready).ToList();
            checks.Add(ready.Count > 0
                ? new HealthCheck("workers", true, $"{ready.Count} of {live.Count} live workers ready: {string.Join("; ", ready.Select(w => $"{w.Name} ({w.Model}): {w.Detail}"))}")
                : new HealthCheck("workers", false, live.Count == 0
                    ? "no worker has sent a heartbeat in the last 30 s; start one (see README)"
                    : "no worker can run jobs: " + string.Join("; ", live.Select(w => $"{w.Name} ({w.Model}): {w.Detail}"))));
        }
        var ok = checks.All(c => c.Ok);
        var report = new HealthReport(ok ? "ready" : "not_ready", checks);
        return ok ? TypedResults.Ok(report) : TypedResults.Json(report, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}

/// <summary>Health answer.</summary>
public sealed record HealthReport(
    string Status,
    IReadOnlyList<HealthCheck> Checks);

/// <summary>One check.</summary>
public sealed record HealthCheck(
    string Name,
    bool Ok,
    string Detail);
