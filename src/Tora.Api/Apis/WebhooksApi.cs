using System.Security.Claims;
using System.Text.Json;
using Hangfire;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Tora.Api.Auth;
using Tora.Api.Limits;
using Tora.Api.OpenApi;
using Tora.Api.Problems;
using Tora.Core.Generations;
using Tora.Core.Webhooks;

namespace Tora.Api.Apis;

/// <summary>A tenant's webhook signing secret(s).</summary>
/// <param name="Secret">The current secret (<c>whsec_…</c>): verify <c>webhook-signature</c> with it.</param>
/// <param name="PreviousSecret">The secret before the last rotation, still signing until <paramref name="PreviousSecretExpiresAt"/>.</param>
/// <param name="PreviousSecretExpiresAt">End of the rotation window.</param>
public sealed record WebhookSecretResource(
    string Secret,
    string? PreviousSecret,
    DateTimeOffset? PreviousSecretExpiresAt)
{
    /// <summary>Always <c>webhook_secret</c>.</summary>
    public string Object => "webhook_secret";
}

/// <summary>The body of <c>POST /v1/webhooks/test</c>.</summary>
public sealed record WebhookTestRequest
{
    /// <summary>The URL to send a signed <c>webhook.test</c> event to.</summary>
    public string? Url { get; init; }
}

/// <summary>What happened to a test delivery.</summary>
/// <param name="WebhookId">The <c>webhook-id</c> sent.</param>
/// <param name="Success">Whether the receiver answered 2xx.</param>
/// <param name="StatusCode">The receiver's status code.</param>
/// <param name="Error">Why no status came back (timeout, refused target, connection error).</param>
/// <param name="DurationMs">How long the attempt took.</param>
public sealed record WebhookTestResult(
    string WebhookId,
    bool Success,
    int? StatusCode,
    string? Error,
    double DurationMs);

/// <summary>One attempt in the delivery log; neither status code nor error while it is in flight.</summary>
/// <param name="Attempt">1-based.</param>
/// <param name="AttemptedAt">When.</param>
/// <param name="StatusCode">The receiver's status code.</param>
/// <param name="Error">Why no status came back (timeout, connection error, refused target, or interrupted: the process making it stopped).</param>
/// <param name="DurationMs">How long it took.</param>
public sealed record WebhookAttemptResource(
    int Attempt,
    DateTimeOffset AttemptedAt,
    int? StatusCode,
    string? Error,
    double DurationMs);

/// <summary>One webhook event of a generation and its deliveries.</summary>
/// <param name="Id">The event id; <c>webhook-id</c> is <c>msg_</c> + its 32 hex digits.</param>
/// <param name="WebhookId">The <c>webhook-id</c> header value (stable across retries).</param>
/// <param name="Type">Event type.</param>
/// <param name="Url">Target.</param>
/// <param name="State"><c>pending</c> (retries scheduled), <c>delivered</c> or <c>failed</c> (gave up).</param>
/// <param name="CreatedAt">When the status changed.</param>
/// <param name="NextAttemptAt">When the next retry runs (pending only).</param>
/// <param name="Payload">The exact JSON body sent.</param>
/// <param name="Attempts">Every HTTP attempt.</param>
public sealed record WebhookDeliveryResource(
    Guid Id,
    string WebhookId,
    string Type,
    string Url,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? NextAttemptAt,
    JsonElement Payload,
    IReadOnlyList<WebhookAttemptResource> Attempts);

/// <summary>The delivery log of a generation.</summary>
/// <param name="Data">Oldest first.</param>
public sealed record WebhookDeliveryList(IReadOnlyList<WebhookDeliveryResource> Data)
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object => "list";
}

/// <summary>Webhooks: the signing secret and its rotation, a test delivery, and each generation's delivery log with redelivery.</summary>
public static class WebhooksApi
{
    /// <summary>Maps the routes.</summary>
    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var hooks = app.MapGroup("/v1/webhooks").WithTags("Webhooks").RequireAuthorization();
        hooks.MapGet("/secret", GetSecret)
            .WithOperation("GetWebhookSecret", "Your webhook signing secret (created on first use)");
        hooks.MapPost("/secret/rotate", RotateSecret)
            .WithOperation("RotateWebhookSecret", "Replace the signing secret; the previous one keeps signing (a second signature) for a while");
        hooks.MapPost("/test", Test)
            .WithOperation("TestWebhook", "Send one signed webhook.test event to a URL now and report the receiver's answer")
            .RequireTenantRateLimit()
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        var deliveries = app.MapGroup("/v1/generations/{id}/webhook-deliveries").WithTags("Webhooks").RequireAuthorization();
        deliveries.MapGet("/", ListDeliveries)
            .WithOperation("ListWebhookDeliveries", "The webhook events of a generation with every delivery attempt");
        deliveries.MapPost("/{eventId}/redeliver", Redeliver)
            .WithOperation("RedeliverWebhook", "Send a delivered or failed event again (same webhook-id, fresh signature)");
        return app;
    }

    /// <summary>Your webhook signing secret.</summary>
    public static async Task<Ok<WebhookSecretResource>> GetSecret(ClaimsPrincipal user, WebhookStore store, CancellationToken ct) =>
        TypedResults.Ok(ToResource(await store.GetSecretsAsync(user.Tenant(), ct)));

    /// <summary>Rotate the signing secret.</summary>
    public static async Task<Ok<WebhookSecretResource>> RotateSecret(
        ClaimsPrincipal user, WebhookStore store, IOptions<WebhookOptions> options, CancellationToken ct) =>
        TypedResults.Ok(ToResource(await store.RotateAsync(user.Tenant(), options.Value.PreviousSecretLifetime, ct)));

    /// <summary>Send a test event.</summary>
    public static async Task<Results<Ok<WebhookTestResult>, ProblemHttpResult>> Test(
        WebhookTestRequest request, ClaimsPrincipal user, WebhookStore store, WebhookSender sender, WebhookTargetPolicy policy, CancellationToken ct)
    {
        if (request.Url is null) return ApiProblem.Validation([new FieldError("/url", "required", "url is required")]);
        if (policy.CheckUrl(request.Url) is { } why) return ApiProblem.Validation([new FieldError("/url", "webhook_target_refused", why)]);
        var id = "msg_" + GenerationIds.Next().ToString("N");
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            type = "webhook.test",
            timestamp = DateTimeOffset.UtcNow,
            data = new { tenant = user.Tenant() },
        });
        var r = await sender.SendAsync(request.Url, id, body, await store.GetSecretsAsync(user.Tenant(), ct), ct);
        return TypedResults.Ok(new WebhookTestResult(id, r.Success, r.StatusCode, r.Error, r.DurationMs));
    }

    /// <summary>The delivery log of a generation.</summary>
    public static async Task<Results<Ok<WebhookDeliveryList>, ProblemHttpResult>> ListDeliveries(
        string id, ClaimsPrincipal user, GenerationStore generations, WebhookStore store, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var gid) || await generations.GetAsync(user.Tenant(), gid, ct) is not { } g)
            return ApiProblem.NotFound($"generation {id}");
        var list = await store.ListForGenerationAsync(gid, ct);
        return TypedResults.Ok(new WebhookDeliveryList(list.Select(e => new WebhookDeliveryResource(
            e.Event.Id, e.Event.MessageId, e.Event.Type, e.Event.Url, e.Event.State, e.Event.CreatedAt, e.Event.NextAttemptAt,
            JsonSerializer.SerializeToElement(GenerationPayloads.Webhook(e.Event.Type, g, e.Event.CreatedAt), GenerationPayloads.Json),
            e.Attempts.Select(a => new WebhookAttemptResource(a.Attempt, a.AttemptedAt, a.StatusCode, a.Error, a.DurationMs)).ToList())).ToList()));
    }

    /// <summary>Redeliver one event.</summary>
    public static async Task<Results<Accepted, ProblemHttpResult>> Redeliver(
        string id, string eventId, ClaimsPrincipal user, GenerationStore generations, WebhookStore store, IBackgroundJobClient jobs, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var gid) || await generations.GetAsync(user.Tenant(), gid, ct) is null)
            return ApiProblem.NotFound($"generation {id}");
        if (!Guid.TryParse(eventId, out var eid) || await store.GetEventAsync(eid, ct) is not { } ev || ev.GenerationId != gid)
            return ApiProblem.NotFound($"webhook event {eventId}");
        if (await store.ReopenAsync(eid, ct) is not { } attempt)
            return ApiProblem.Create(StatusCodes.Status409Conflict, "delivery_pending", "The event is still being delivered.",
                "retries of this event are still scheduled; redeliver once it is delivered or failed");
        jobs.Enqueue<IWebhookDeliveryJob>(IWebhookDeliveryJob.Queue, j => j.DeliverAsync(eid, attempt, CancellationToken.None));
        return TypedResults.Accepted($"/v1/generations/{gid}/webhook-deliveries");
    }

    private static WebhookSecretResource ToResource(WebhookSecrets s)
    {
        var previousLive = s.Previous is not null && s.PreviousExpiresAt > DateTimeOffset.UtcNow;
        return new WebhookSecretResource(WebhookSigner.Format(s.Current),
            previousLive ? WebhookSigner.Format(s.Previous!) : null, previousLive ? s.PreviousExpiresAt : null);
    }
}
