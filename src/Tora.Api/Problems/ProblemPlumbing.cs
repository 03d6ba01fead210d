using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Tora.Contracts;
using Tora.Core.Blobs;

namespace Tora.Api.Problems;

/// <summary>
/// Makes every error the framework itself produces (unmatched routes, wrong methods, body too large, unhandled
/// exceptions) an <c>application/problem+json</c> with a stable <c>code</c>, so clients see one error shape.
/// </summary>
public static class ProblemPlumbing
{
    /// <summary>
    /// Registers problem details with codes derived from the status, and <see cref="DatabaseUnavailableHandler"/> so that a
    /// database outage answers 503 with Retry-After instead of 500.
    /// </summary>
    public static IServiceCollection AddToraProblems(this IServiceCollection services) =>
        services.AddExceptionHandler<DatabaseUnavailableHandler>().AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var problem = ctx.ProblemDetails;
            // One trace id on every problem, ours and the framework's alike: the W3C trace id of the request (what
            // traceparent carries and the logs record), never the connection-scoped TraceIdentifier.
            problem.Extensions.Remove("traceId");
            problem.Extensions["trace_id"] = TraceId();
            if (problem.Extensions.ContainsKey("code")) return;
            var exception = ctx.Exception ?? ctx.HttpContext.Features.Get<IExceptionHandlerFeature>()?.Error;
            if (exception is BlobStoreUnavailableException) { DescribeStorageOutage(ctx); return; }
            var (status, code, title) = exception switch
            {
                BadHttpRequestException { StatusCode: 413 } => (413, "payload_too_large", "The request body is too large."),
                BadHttpRequestException b => (b.StatusCode, "bad_request", "The request could not be read."),
                null => (problem.Status ?? 500, CodeFor(problem.Status ?? 500), problem.Title),
                _ => (500, "internal_error", "An unexpected error occurred."),
            };
            problem.Status = status;
            ctx.HttpContext.Response.StatusCode = status;
            problem.Title = title;
            problem.Type = ApiProblem.TypeFor(code);
            problem.Detail = exception is BadHttpRequestException bad ? bad.Message : problem.Detail ?? DetailFor(status, ctx.HttpContext.Request);
            problem.Extensions["code"] = code;
        });

    /// <summary>The W3C trace id (32 hex digits) of the current request.</summary>
    public static string TraceId() => (Activity.Current?.TraceId ?? ActivityTraceId.CreateRandom()).ToHexString();

    /// <summary>What a client should know about a status the framework answered by itself.</summary>
    private static string DetailFor(int status, HttpRequest request) => status switch
    {
        404 => $"no resource at {request.Path}",
        405 => $"{request.Method} is not allowed on {request.Path}; the Allow header lists the methods that are",
        415 => $"Content-Type '{request.ContentType ?? "(none)"}' is not accepted here; send application/json",
        401 => "send 'Authorization: Bearer <key>' with a valid API key",
        403 => "this key may not use this endpoint",
        _ => $"the request to {request.Path} failed with status {status}",
    };

    /// <summary>Seconds a client is asked to wait when the blob store is unavailable.</summary>
    public const int StorageRetryAfterSeconds = 10;

    /// <summary>
    /// A blob store outage (docs/reliability.md, blob store outage) is the service's temporary state, not a bug: 503 <c>storage_unavailable</c>
    /// with <c>Retry-After</c>, never a 500. The store's own message (paths, bucket) stays in the log.
    /// </summary>
    private static void DescribeStorageOutage(ProblemDetailsContext ctx)
    {
        var problem = ctx.ProblemDetails;
        problem.Status = StatusCodes.Status503ServiceUnavailable;
        ctx.HttpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        ctx.HttpContext.Response.Headers.RetryAfter = StorageRetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        problem.Title = "File storage is unavailable.";
        problem.Detail = $"the blob store cannot be reached or written right now; retry after {StorageRetryAfterSeconds} s";
        problem.Type = ApiProblem.TypeFor(GenerationErrorCodes.StorageUnavailable);
        problem.Extensions["code"] = GenerationErrorCodes.StorageUnavailable;
    }

    private static string CodeFor(int status) => status switch
    {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        503 => "unavailable",
        _ => status >= 500 ? "internal_error" : "client_error",
    };
}
