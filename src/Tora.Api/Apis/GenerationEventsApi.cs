using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tora.Api.Auth;
using Tora.Api.Generations;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core.Generations;

namespace Tora.Api.Apis;

/// <summary>
/// <c>GET /v1/generations/{id}/events</c>: the generation's event log as Server-Sent Events. Every status change and
/// denoising step is an event whose id is its position in the log, so a client that reconnects with
/// <c>Last-Event-ID</c> gets exactly the events it missed: no gap, no repeat. The stream ends after the terminal
/// status event, or when the instance stops: the client then reconnects (to any instance) with the last id it got.
/// </summary>
public static class GenerationEventsApi
{
    /// <summary>Maps the route.</summary>
    public static IEndpointRouteBuilder MapGenerationEventsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/generations/{id}/events", StreamEvents)
            .WithTags("Generations")
            .RequireAuthorization()
            .WithOperation("StreamGenerationEvents", "Server-Sent Events: status changes and per-step progress (ETA), queue position; resumable with Last-Event-ID")
            .WithDescription("Events: 'status' (data: id, status, phase, step, total_steps, attempts, error), 'progress' (data: id, status, " +
                             "phase, step, total_steps, percent, eta_seconds), and 'queue' (data: id, queue_position) while queued. 'queue' events carry no event id (they are not replayed on resume; a resumed stream sends the current position). " +
                             "Comment lines (': heartbeat') keep idle streams open. The stream closes after the terminal status, or when the serving instance shuts down: reconnect (to any instance) with Last-Event-ID.")
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        return app;
    }

    /// <summary>Stream a generation's events.</summary>
    /// <param name="id">The generation.</param>
    /// <param name="lastEventId">Resume after this event id (instead of the Last-Event-ID header, for clients that cannot set it).</param>
    /// <param name="http">The request.</param>
    /// <param name="user">The caller.</param>
    /// <param name="store">The store.</param>
    /// <param name="hub">Notifications.</param>
    /// <param name="options">Heartbeat settings.</param>
    /// <param name="lifetime">Ends open streams when the instance stops.</param>
    /// <param name="ct">Ends with the request.</param>
    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> StreamEvents(
        string id, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "last_event_id")] string? lastEventId, HttpContext http, ClaimsPrincipal user,
        GenerationStore store, GenerationEventHub hub, IOptions<EventStreamOptions> options, IHostApplicationLifetime lifetime,
        CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var gid) || await store.GetAsync(user.Tenant(), gid, ct) is not { } g)
            return ApiProblem.NotFound($"generation {id}");
        var resumeFrom = http.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } header ? header : lastEventId;
        long after = 0;
        if (resumeFrom is not null && (!long.TryParse(resumeFrom, out after) || after < 0))
            return ApiProblem.BadRequest("invalid_last_event_id", "Last-Event-ID must be the id of an event this stream sent");

        using var subscription = hub.Subscribe(gid); // before the first read, so nothing falls between read and wait
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.Body.FlushAsync(ct);
        var heartbeat = options.Value.HeartbeatInterval;
        // A stream ends by itself only at the terminal event, so a stopping instance (rolling restart, scale-in) would
        // hold every open stream until the host's shutdown timeout and then cut it. Instead the stream ends, between
        // two whole events, as soon as the instance starts stopping; the client reconnects after 'retry' with
        // Last-Event-ID, to any instance (they all read the same event log), and misses nothing (docs/reliability.md, scale-out).
        var stopping = lifetime.ApplicationStopping;
        using var waitCts = CancellationTokenSource.CreateLinkedTokenSource(ct, stopping);
        try
        {
            await WriteAsync(response, "retry: 2000\n\n", ct);
            var status = g.Status;
            if (status == GenerationStatus.Queued) await WriteQueuePositionAsync(response, store, g, ct);
            while (true)
            {
                var events = await store.ReadEventsAsync(g, after, 200, ct);
                foreach (var e in events)
                {
                    var data = JsonSerializer.Serialize(GenerationPayloads.EventData(e.Type, e.Generation, e.At), GenerationPayloads.Json);
                    await WriteAsync(response, $"id: {e.Seq}\nevent: {e.Type}\ndata: {data}\n\n", ct);
                    after = e.Seq;
                    if (e.Type == GenerationPayloads.StatusEvent) status = e.Generation.Status;
                }
                if (events.Count == 200) continue;
                if (GenerationStatus.IsTerminal(status) || stopping.IsCancellationRequested) return TypedResults.Empty;
                if (!await subscription.WaitAsync(heartbeat, waitCts.Token))
                {
                    await WriteAsync(response, ": heartbeat\n\n", ct);
                    if (status == GenerationStatus.Queued && await store.GetAsync(user.Tenant(), gid, ct) is { Status: GenerationStatus.Queued } now)
                        await WriteQueuePositionAsync(response, store, now, ct);
                    if (await store.GetAsync(user.Tenant(), gid, ct) is null) return TypedResults.Empty; // deleted
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested || stopping.IsCancellationRequested)
        {
            return TypedResults.Empty; // the client went away, or this instance is stopping (the client resumes elsewhere)
        }
    }

    private static async Task WriteQueuePositionAsync(HttpResponse response, GenerationStore store, Generation g, CancellationToken ct)
    {
        var data = JsonSerializer.Serialize(new GenerationQueueEvent(g.Id, await store.QueuePositionAsync(g.Queue, g.Id, ct)), GenerationPayloads.Json);
        await WriteAsync(response, $"event: {GenerationPayloads.QueueEvent}\ndata: {data}\n\n", ct);
    }

    private static async Task WriteAsync(HttpResponse response, string text, CancellationToken ct)
    {
        await response.Body.WriteAsync(Encoding.UTF8.GetBytes(text), ct);
        await response.Body.FlushAsync(ct);
    }
}
