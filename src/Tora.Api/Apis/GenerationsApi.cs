using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Tora.Api.Auth;
using Tora.Api.Generations;
using Tora.Api.Limits;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Contracts;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Core.Jobs;

namespace Tora.Api.Apis;

/// <summary><c>/v1/generations</c>: create, read, list, delete, and download the video and thumbnail.</summary>
public static class GenerationsApi
{
    /// <summary>Largest page.</summary>
    public const int MaxPageSize = 100;

    /// <summary>Maps the routes.</summary>
    public static RouteGroupBuilder MapGenerationsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1/generations").WithTags("Generations").RequireAuthorization();

        api.MapPost("/", CreateGeneration)
            .WithOperation("CreateGeneration", "Queue a video generation")
            .WithDescription("JSON (first frame as a data URI) or multipart/form-data (a 'request' JSON part, an 'image' file part, and a 'flow_video' MP4 part that replaces the trajectories as the motion input). " +
                             "Answers 202 with Location; poll the resource, stream its events, or get a webhook. Idempotency-Key (1-255 " +
                             "printable ASCII, remembered 24 h): a retry with the same payload replays the same generation " +
                             "(header Idempotent-Replayed: true), another payload answers 422, a retry while the first is in " +
                             "progress answers 409. Prefer: wait=N (N ≤ 60) holds the answer until the generation finishes " +
                             "(201 with the finished resource) or N seconds pass (202).")
            .Accepts<CreateGenerationRequest>("application/json", "multipart/form-data")
            .RequireTenantRateLimit()
            .Produces<GenerationResource>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status409Conflict,
                StatusCodes.Status410Gone, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType,
                StatusCodes.Status422UnprocessableEntity, StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/", ListGenerations)
            .WithOperation("ListGenerations", "List your generations, newest first (cursor pagination, optional status filter)")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        api.MapGet("/{id}", GetGeneration)
            .WithOperation("GetGeneration", "Read one generation: status, progress, queue position, timings, links");
        api.MapDelete("/{id}", DeleteGeneration)
            .WithOperation("DeleteGeneration", "Delete a generation that is not running, with its files")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapPost("/{id}/cancel", CancelGeneration)
            .WithOperation("CancelGeneration", "Cancel: a queued generation never starts (200, cancelled); a running one stops between denoising steps (202)")
            .ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        api.MapGet("/{id}/video", GetVideo)
            .WithOperation("GetGenerationVideo", "Download the MP4 (ETag, If-None-Match, Range → 206), or a 302 to a short-lived signed URL of the blob store")
            .Produces(StatusCodes.Status302Found)
            .ProducesProblem(StatusCodes.Status410Gone)
            .Produces(StatusCodes.Status200OK, contentType: "video/mp4")
            .Produces(StatusCodes.Status206PartialContent, contentType: "video/mp4")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        api.MapGet("/{id}/thumbnail", GetThumbnail)
            .WithOperation("GetGenerationThumbnail", "Download the thumbnail (JPEG of the first frame)")
            .Produces(StatusCodes.Status200OK, contentType: "image/jpeg")
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        return api;
    }

    /// <summary>Longest <c>Prefer: wait</c> honoured, in seconds.</summary>
    public const int MaxPreferWait = 60;

    /// <summary>What <see cref="CreateGeneration"/> needs besides the request, bound from the services (as one record, so the handler's signature stays short).</summary>
    /// <param name="Http">The request.</param>
    /// <param name="User">The caller.</param>
    /// <param name="Creator">The accept path.</param>
    public sealed record CreateServices(HttpRequest Http, ClaimsPrincipal User, GenerationCreator Creator);

    /// <summary>Queue a video generation: validates, stores the record and answers 202; a worker picks it up.</summary>
    // Idempotency-Key replays and Prefer: wait are described in WithDescription above (the served document).
    public static async Task<Results<Accepted<GenerationResource>, Created<GenerationResource>, ProblemHttpResult>> CreateGeneration(
        [AsParameters] CreateServices services, CancellationToken ct)
    {
        var http = services.Http;
        var (key, keyProblem) = IdempotencyKey.Read(http);
        if (keyProblem is not null) return keyProblem;
        var wait = PreferWait(http);
        var (request, image, flowVideo, problem) = await CreateRequestReader.ReadAsync(http, ct);
        if (problem is not null) return problem;
        var outcome = await services.Creator.CreateAsync(new GenerationSubmission(services.User.Tenant(), request!, image, flowVideo, key, wait), ct);
        var headers = http.HttpContext.Response.Headers;
        switch (outcome)
        {
            case CreateOutcome.Invalid invalid:
                return ApiProblem.Validation(invalid.Errors);
            case CreateOutcome.KeyInFlight:
                headers.RetryAfter = "1";
                return ApiProblem.Create(StatusCodes.Status409Conflict, "idempotency_key_in_flight", "A request with this Idempotency-Key is in progress.",
                    "retry after the first request has been answered");
            case CreateOutcome.KeyReused:
                return ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused", "The Idempotency-Key was used with another payload.",
                    "an Idempotency-Key identifies one request; use a new key for a different payload");
            case CreateOutcome.Replayed replayed:
                headers[IdempotencyKey.ReplayedHeader] = "true";
                if (replayed.Resource is null)
                    return ApiProblem.Create(StatusCodes.Status410Gone, "generation_deleted", "The generation of this Idempotency-Key was deleted.",
                        $"generation {replayed.Id} was created with this key and has since been deleted");
                return TypedResults.Accepted(replayed.Resource.Urls.Self, replayed.Resource);
            case CreateOutcome.TooManyQueued tooMany:
                headers.RetryAfter = "30";
                return ApiProblem.Create(StatusCodes.Status429TooManyRequests, "too_many_queued", "Too many queued generations.",
                    $"tenant {tooMany.Tenant} may have {tooMany.MaxQueued} generations queued; wait for some to start or cancel some");
            case CreateOutcome.Accepted accepted:
                if (accepted.WaitedSeconds > 0) headers["Preference-Applied"] = $"wait={accepted.WaitedSeconds}";
                return accepted.Finished
                    ? TypedResults.Created(accepted.Resource.Urls.Self, accepted.Resource)
                    : TypedResults.Accepted(accepted.Resource.Urls.Self, accepted.Resource);
            default:
                throw new InvalidOperationException($"unexpected outcome {outcome}");
        }
    }

    /// <summary>The <c>wait</c> preference of RFC 7240 (<c>Prefer: wait=N</c>), capped at <see cref="MaxPreferWait"/>; 0 when absent.</summary>
    public static int PreferWait(HttpRequest http)
    {
        foreach (var value in http.Headers["Prefer"])
        foreach (var part in (value ?? "").Split([',', ';'], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            if (part.StartsWith("wait=", StringComparison.OrdinalIgnoreCase) && int.TryParse(part.AsSpan(5).Trim('"'), out var n) && n > 0)
                return Math.Min(n, MaxPreferWait);
        return 0;
    }

    /// <summary>List your generations, newest first, with cursor pagination and an optional status filter.</summary>
    /// <param name="user">The caller.</param>
    /// <param name="store">The store.</param>
    /// <param name="status">Only generations with this status.</param>
    /// <param name="after">The <c>next_cursor</c> of the previous page.</param>
    /// <param name="limit">Page size, 1–100 (default 20).</param>
    /// <param name="ct">Cancellation.</param>
    public static async Task<Results<Ok<GenerationPage>, ProblemHttpResult>> ListGenerations(
        ClaimsPrincipal user, GenerationStore store, string? status, string? after, string? limit, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        if (status is not null && !GenerationStatus.All.Contains(status))
            errors.Add(FieldError.ForParameter("status", "not_allowed", $"status must be one of {string.Join(", ", GenerationStatus.All)}"));
        Guid? cursor = null;
        if (after is not null)
        {
            if (Guid.TryParse(after, out var g)) cursor = g;
            else errors.Add(FieldError.ForParameter("after", "invalid_cursor", "after must be a next_cursor value from a previous page"));
        }
        var pageSize = 20;
        if (limit is not null && (!int.TryParse(limit, out pageSize) || pageSize < 1 || pageSize > MaxPageSize))
            errors.Add(FieldError.ForParameter("limit", "out_of_range", $"limit must be an integer between 1 and {MaxPageSize}"));
        if (errors.Count > 0)
            return ApiProblem.Create(StatusCodes.Status400BadRequest, "invalid_query", "The query string is invalid.", errors[0].Detail, errors);

        var rows = await store.ListAsync(user.Tenant(), status, cursor, pageSize + 1, ct);
        var hasMore = rows.Count > pageSize;
        var page = rows.Take(pageSize).Select(r => r.ToResource()).ToList();
        return TypedResults.Ok(new GenerationPage(page, hasMore, hasMore ? page[^1].Id.ToString() : null));
    }

    /// <summary>Read one generation: status, progress, queue position, timings, links, reproducibility.</summary>
    public static async Task<Results<Ok<GenerationResource>, ProblemHttpResult>> GetGeneration(
        string id, ClaimsPrincipal user, GenerationStore store, CancellationToken ct)
    {
        if (await Find(id, user, store, ct) is not { } g) return ApiProblem.NotFound($"generation {id}");
        int? position = g.Status == GenerationStatus.Queued ? await store.QueuePositionAsync(g.Queue, g.Id, ct) : null;
        return TypedResults.Ok(g.ToResource(position));
    }

    /// <summary>Delete a generation that is not running, with its files.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteGeneration(
        string id, ClaimsPrincipal user, GenerationStore store, IBlobStore blobs, CancellationToken ct)
    {
        if (await Find(id, user, store, ct) is not { } g) return ApiProblem.NotFound($"generation {id}");
        if (g.Status == GenerationStatus.Running)
            return ApiProblem.Create(StatusCodes.Status409Conflict, "generation_running", "The generation is running.",
                "a running generation cannot be deleted; wait until it finishes");
        // Files first, record last: when the blob store is down this answers 503 storage_unavailable and keeps the
        // record, so the client's retry deletes both (the other order would leave files that nothing points to).
        foreach (var key in new[] { g.VideoKey, g.ThumbnailKey, g.FirstFrameKey, g.FlowVideoKey })
            if (key is not null) await blobs.DeleteAsync(key, ct);
        if (await store.DeleteAsync(user.Tenant(), g.Id, ct) is not { } deleted) return ApiProblem.NotFound($"generation {id}");
        // A worker that claimed a queued generation meanwhile may have stored files under keys read after ours.
        foreach (var key in new[] { deleted.VideoKey, deleted.ThumbnailKey, deleted.FirstFrameKey })
            if (key is not null && key != g.VideoKey && key != g.ThumbnailKey && key != g.FirstFrameKey) await blobs.DeleteAsync(key, ct);
        return TypedResults.NoContent();
    }

    /// <summary>Cancel a queued or running generation.</summary>
    public static async Task<Results<Ok<GenerationResource>, Accepted<GenerationResource>, ProblemHttpResult>> CancelGeneration(
        string id, ClaimsPrincipal user, GenerationStore store, GenerationCanceller canceller, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var guid)) return ApiProblem.NotFound($"generation {id}");
        var outcome = await canceller.CancelAsync(guid, user.Tenant(), GenerationErrorCodes.Cancelled, "cancelled by the client", ct);
        var g = await store.GetAsync(user.Tenant(), guid, ct);
        if (outcome == CancelOutcome.NotFound || g is null) return ApiProblem.NotFound($"generation {id}");
        return outcome switch
        {
            CancelOutcome.AlreadyFinished => ApiProblem.Create(StatusCodes.Status409Conflict, "not_cancellable", "The generation has finished.",
                $"generation {id} is {g.Status}; only queued or running generations can be cancelled"),
            CancelOutcome.Stopping when g.Status == GenerationStatus.Running => TypedResults.Accepted($"/v1/generations/{id}", g.ToResource()),
            _ => TypedResults.Ok(g.ToResource()),
        };
    }

    /// <summary>Download the MP4 (ETag and If-None-Match, Range requests answered with 206).</summary>
    /// <remarks>With a blob store that signs URLs (S3) the answer is a 302 to a short-lived signed URL instead, and the store serves Range and ETag.</remarks>
    public static async Task<Results<FileStreamHttpResult, RedirectHttpResult, ProblemHttpResult>> GetVideo(
        string id, ClaimsPrincipal user, GenerationStore store, IBlobStore blobs, CancellationToken ct)
    {
        if (blobs is ISignedUrlBlobStore { RedirectDownloads: true } signed)
        {
            if (await Find(id, user, store, ct) is not { } g) return ApiProblem.NotFound($"generation {id}");
            if (g.Status == GenerationStatus.Succeeded && g.VideoKey is { } key)
                return TypedResults.Redirect((await signed.GetDownloadUrlAsync(key, "video/mp4", ct)).AbsoluteUri);
        }
        return await ServeFile(id, user, store, blobs, g => g.VideoKey, "video/mp4", g => g.VideoEtag, ct) switch
        {
            { Result: FileStreamHttpResult file } => file,
            { Result: ProblemHttpResult problem } => problem,
            var other => throw new InvalidOperationException($"unexpected result {other.Result}"),
        };
    }

    /// <summary>Download the thumbnail (JPEG of the first frame).</summary>
    public static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> GetThumbnail(
        string id, ClaimsPrincipal user, GenerationStore store, IBlobStore blobs, CancellationToken ct) =>
        await ServeFile(id, user, store, blobs, g => g.ThumbnailKey, "image/jpeg", g => g.VideoEtag is null ? null : g.VideoEtag[..^1] + "-thumb\"", ct);

    private static async Task<Results<FileStreamHttpResult, ProblemHttpResult>> ServeFile(
        string id, ClaimsPrincipal user, GenerationStore store, IBlobStore blobs,
        Func<Generation, string?> key, string contentType, Func<Generation, string?> etag, CancellationToken ct)
    {
        if (await Find(id, user, store, ct) is not { } g) return ApiProblem.NotFound($"generation {id}");
        if (g.Status == GenerationStatus.Expired)
            return ApiProblem.Create(StatusCodes.Status410Gone, "expired", "The generation's files have expired.",
                $"generation {id} expired at {g.ExpiresAt:O}; its files were deleted");
        if (g.Status != GenerationStatus.Succeeded || key(g) is not { } blobKey)
            return ApiProblem.Create(StatusCodes.Status409Conflict, "not_ready", "The generation has no video.",
                $"generation {id} is {g.Status}; files exist only once it has succeeded");
        var blob = await blobs.OpenReadAsync(blobKey, ct);
        if (blob is null)
            return ApiProblem.Create(StatusCodes.Status410Gone, "file_gone", "The file is gone.", "the file was removed from storage");
        return TypedResults.Stream(blob.Content, contentType, lastModified: blob.LastModified,
            entityTag: etag(g) is { } e ? new EntityTagHeaderValue(e) : null, enableRangeProcessing: true);
    }

    private static async Task<Generation?> Find(string id, ClaimsPrincipal user, GenerationStore store, CancellationToken ct) =>
        Guid.TryParse(id, out var guid) ? await store.GetAsync(user.Tenant(), guid, ct) : null;
}
