using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;
using Tora.Core.Database;

namespace Tora.Api.Problems;

/// <summary>
/// The one place where a request that failed because PostgreSQL is unavailable (<see cref="DatabaseOutage"/>) becomes
/// <c>503 database_unavailable</c> with <c>Retry-After</c>, whichever endpoint or middleware it came from — the API-key
/// lookup of authentication included, so a client is never told 401 (its key is fine) or 500 (nothing is broken in the
/// request). Nothing was accepted: every 2xx is sent only after its commit, so a retry is safe (a create with the same
/// Idempotency-Key replays the generation if the commit did happen and only its answer was lost).
/// </summary>
public sealed class DatabaseUnavailableHandler(NpgsqlDataSource dataSource, ILogger<DatabaseUnavailableHandler> logger) : IExceptionHandler
{
    /// <inheritdoc />
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!DatabaseOutage.IsOutage(exception)) return false;
        logger.LogWarning("{Method} {Path}: database unavailable, answered 503: {Error}", httpContext.Request.Method, httpContext.Request.Path,
            exception.GetBaseException().Message);
        // A restarted server leaves every idle pooled connection dead; dropping them now keeps the requests after the
        // restart from failing one by one on them.
        dataSource.Clear();
        var seconds = (int)DatabaseOutage.RetryAfter.TotalSeconds;
        httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await ApiProblem.Create(StatusCodes.Status503ServiceUnavailable, DatabaseOutage.Code, "The database is unavailable.",
            $"the service cannot reach its database right now; nothing was stored. Retry after {seconds} s " +
            "(a create with the same Idempotency-Key is never done twice)").ExecuteAsync(httpContext);
        return true;
    }
}
