using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tora.Core.Generations;

/// <summary>A generation as the API shows it.</summary>
public sealed record GenerationResource
{
    /// <summary>Id.</summary>
    public required Guid Id { get; init; }
    /// <summary>Always <c>generation</c>.</summary>
    public string Object => "generation";
    /// <summary><c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c>, <c>cancelled</c> or <c>expired</c>.</summary>
    public required string Status { get; init; }
    /// <summary>Model.</summary>
    public required string Model { get; init; }
    /// <summary>Progress of the denoising loop.</summary>
    public required ProgressResource Progress { get; init; }
    /// <summary>Generations of the same model ahead of this one (queued only). Null in the 202 answer of a create while the model's queue holds 1,000 or more queued generations; a GET always counts it.</summary>
    public int? QueuePosition { get; init; }
    /// <summary>The resolved input (defaults filled in, seed included).</summary>
    public required GenerationInput Input { get; init; }
    /// <summary>Why it failed.</summary>
    public ErrorResource? Error { get; init; }
    /// <summary>Milliseconds: <c>queued</c>, <c>running</c>, <c>total</c> and per pipeline phase.</summary>
    public IReadOnlyDictionary<string, double>? Timings { get; init; }
    /// <summary>Links to the files (when succeeded).</summary>
    public required UrlsResource Urls { get; init; }
    /// <summary>How the video was made (model package hash, scheduler, ONNX Runtime version and provider, seed).</summary>
    public ReproducibilityInfo? Reproducibility { get; init; }
    /// <summary>Attempts started by workers.</summary>
    public int Attempts { get; init; }
    /// <summary>When accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>When a worker started it.</summary>
    public DateTimeOffset? StartedAt { get; init; }
    /// <summary>When it finished.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>When its files expire (null: kept).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>Progress.</summary>
/// <param name="Phase">Current phase: <c>starting</c>, the pipeline's phases (e.g. <c>denoise</c>), <c>storing</c> while the video is written to the blob store, <c>waiting_for_storage</c> while the blob store is unavailable (the worker retries), <c>done</c>.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps in all.</param>
/// <param name="Percent">0–100.</param>
/// <param name="EtaSeconds">Estimated seconds left (running only, after the first step).</param>
public sealed record ProgressResource(
    string? Phase,
    int Step,
    int TotalSteps,
    double Percent,
    double? EtaSeconds);

/// <summary>Why a generation failed.</summary>
/// <param name="Code">Stable code (e.g. <c>model_unavailable</c>; <c>storage_unavailable</c> when the blob store stayed unavailable for the worker's storage window).</param>
/// <param name="Message">Human-readable message.</param>
public sealed record ErrorResource(
    string Code,
    string Message);

/// <summary>Links.</summary>
/// <param name="Self">This resource.</param>
/// <param name="Video">The MP4 (when succeeded).</param>
/// <param name="Thumbnail">The thumbnail JPEG (when succeeded).</param>
public sealed record UrlsResource(
    string Self,
    string? Video,
    string? Thumbnail);

/// <summary>A page of generations.</summary>
/// <param name="Data">Newest first.</param>
/// <param name="HasMore">Whether older generations follow.</param>
/// <param name="NextCursor">Pass as <c>after</c> to get the next page.</param>
public sealed record GenerationPage(
    IReadOnlyList<GenerationResource> Data,
    bool HasMore,
    string? NextCursor)
{
    /// <summary>Always <c>list</c>.</summary>
    public string Object => "list";
}

// The event and webhook records below are written by GenerationPayloads.Json, whose snake_case policy names their
// fields as the API's names the resource's above.

/// <summary>The data of an SSE <c>status</c> event: a status change.</summary>
/// <param name="Id">The generation.</param>
/// <param name="Status">The new status.</param>
/// <param name="Phase">The phase at that moment.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps in all.</param>
/// <param name="Attempts">Attempts started.</param>
/// <param name="Error">Why it failed or was cancelled (those statuses only).</param>
public sealed record GenerationStatusEvent(Guid Id, string Status, string? Phase, int Step, int TotalSteps, int Attempts, ErrorResource? Error);

/// <summary>The data of an SSE <c>progress</c> event: a new step or phase.</summary>
/// <param name="Id">The generation.</param>
/// <param name="Status">Its status.</param>
/// <param name="Phase">The phase.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps in all.</param>
/// <param name="Percent">0–100.</param>
/// <param name="EtaSeconds">Estimated seconds left at that moment.</param>
public sealed record GenerationProgressEvent(Guid Id, string Status, string? Phase, int Step, int TotalSteps, double Percent, double? EtaSeconds);

/// <summary>The data of an SSE <c>queue</c> event: the position of a queued generation.</summary>
/// <param name="Id">The generation.</param>
/// <param name="QueuePosition">Generations of the same model ahead of it.</param>
public sealed record GenerationQueueEvent(Guid Id, int QueuePosition);

/// <summary>The body of a generation webhook (Standard Webhooks), as signed and sent.</summary>
/// <param name="Type">The event type, <c>generation.&lt;status&gt;</c>.</param>
/// <param name="Timestamp">When the status changed (UTC, milliseconds).</param>
/// <param name="Data">The generation in short.</param>
public sealed record GenerationWebhook(string Type, string Timestamp, GenerationWebhookData Data);

/// <summary>The generation as a webhook shows it.</summary>
/// <param name="Id">Id.</param>
/// <param name="Status">The status the event reports.</param>
/// <param name="Model">Model.</param>
/// <param name="Error">Why it failed or was cancelled (those statuses only).</param>
/// <param name="Urls">Links.</param>
/// <param name="Metadata">The client's metadata, echoed.</param>
public sealed record GenerationWebhookData(Guid Id, string Status, string Model, ErrorResource? Error, UrlsResource Urls,
    IReadOnlyDictionary<string, string>? Metadata)
{
    /// <summary>Always <c>generation</c>.</summary>
    public string Object => "generation";
}

/// <summary>
/// The one mapper from a generation record to what clients read of it: the resource (<c>GET</c>, lists, the 201/202
/// answers), the SSE event data and the webhook body. Each field is computed here only (the ETA, the percentage, the
/// URLs, when an error shows); the database trigger records only which change happened and the row's state at that
/// moment (docs/architecture.md §6).
/// </summary>
public static class GenerationPayloads
{
    /// <summary>The SSE event type of a status change.</summary>
    public const string StatusEvent = "status";
    /// <summary>The SSE event type of a new step or phase.</summary>
    public const string ProgressEvent = "progress";
    /// <summary>The SSE event type of a queue position.</summary>
    public const string QueueEvent = "queue";

    /// <summary>How event data and webhook bodies are written: snake_case, nulls included.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The resource of a record (<paramref name="now"/>: the moment of the ETA, default the present).</summary>
    public static GenerationResource ToResource(this Generation g, int? queuePosition = null, DateTimeOffset? now = null)
    {
        var timings = new Dictionary<string, double>();
        if (g.StartedAt is { } s) timings["queued_ms"] = Math.Round((s - g.CreatedAt).TotalMilliseconds, 1);
        if (g.FinishedAt is { } f)
        {
            timings["total_ms"] = Math.Round((f - g.CreatedAt).TotalMilliseconds, 1);
            if (g.StartedAt is { } s2) timings["running_ms"] = Math.Round((f - s2).TotalMilliseconds, 1);
        }
        if (g.Timings is not null) foreach (var (k, v) in g.Timings) timings[k] = v;
        return new GenerationResource
        {
            Id = g.Id,
            Status = g.Status,
            Model = g.Input.Model,
            Progress = new ProgressResource(g.Phase, g.Step, g.TotalSteps, Percent(g), EtaSeconds(g, now ?? DateTimeOffset.UtcNow)),
            QueuePosition = g.Status == GenerationStatus.Queued ? queuePosition : null,
            Input = g.Input,
            Error = g.ErrorCode is null ? null : new ErrorResource(g.ErrorCode, g.ErrorMessage ?? ""),
            Timings = timings.Count == 0 ? null : timings,
            Urls = Urls(g.Id, g.Status),
            Reproducibility = g.Reproducibility,
            Attempts = g.Attempts,
            CreatedAt = g.CreatedAt,
            StartedAt = g.StartedAt,
            FinishedAt = g.FinishedAt,
            ExpiresAt = g.ExpiresAt,
        };
    }

    /// <summary>The data of an SSE event: <paramref name="g"/> is the generation as it was when the event happened, at <paramref name="at"/>.</summary>
    public static object EventData(string type, Generation g, DateTimeOffset at) => type switch
    {
        StatusEvent => new GenerationStatusEvent(g.Id, g.Status, g.Phase, g.Step, g.TotalSteps, g.Attempts, EventError(g.Status, g)),
        ProgressEvent => new GenerationProgressEvent(g.Id, g.Status, g.Phase, g.Step, g.TotalSteps, Percent(g), EtaSeconds(g, at)),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not an event of the generation log"),
    };

    /// <summary>The body of webhook event <paramref name="type"/> (<c>generation.&lt;status&gt;</c>) of <paramref name="g"/>, which happened at <paramref name="at"/>.</summary>
    public static GenerationWebhook Webhook(string type, Generation g, DateTimeOffset at)
    {
        var status = type.StartsWith(WebhookPrefix, StringComparison.Ordinal) ? type[WebhookPrefix.Length..]
            : throw new ArgumentOutOfRangeException(nameof(type), type, "not a generation event type");
        return new GenerationWebhook(type, at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            new GenerationWebhookData(g.Id, status, g.Input.Model, EventError(status, g), Urls(g.Id, status), g.Input.Metadata));
    }

    /// <summary>The webhook event type of a status (<c>generation.succeeded</c>).</summary>
    public static string WebhookType(string status) => WebhookPrefix + status;

    private const string WebhookPrefix = "generation.";

    /// <summary>The links: the resource itself, and its files once it succeeded.</summary>
    public static UrlsResource Urls(Guid id, string status)
    {
        var self = $"/v1/generations/{id}";
        var succeeded = status == GenerationStatus.Succeeded;
        return new UrlsResource(self, succeeded ? self + "/video" : null, succeeded ? self + "/thumbnail" : null);
    }

    private static double Percent(Generation g) => g.TotalSteps == 0 ? 0 : Math.Round(100.0 * g.Step / g.TotalSteps, 1);

    /// <summary>Seconds left at <paramref name="at"/>, from the mean step time so far (running, after the first step).</summary>
    private static double? EtaSeconds(Generation g, DateTimeOffset at)
    {
        if (g.Status != GenerationStatus.Running || g.Step <= 0 || g.Step > g.TotalSteps || g.StartedAt is not { } started) return null;
        return Math.Round((at - started).TotalSeconds / g.Step * (g.TotalSteps - g.Step), 1);
    }

    /// <summary>Events and webhooks show the error only with the status it explains (the resource shows it whenever there is one).</summary>
    private static ErrorResource? EventError(string status, Generation g) =>
        g.ErrorCode is null || status is not (GenerationStatus.Failed or GenerationStatus.Cancelled) ? null : new ErrorResource(g.ErrorCode, g.ErrorMessage ?? "");
}
