using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Tora.Core.Generations;

using Tora.Motion.Trajectories;

namespace Tora.Api.Generations;

/// <summary>The body of <c>POST /v1/generations</c> (JSON, or the <c>request</c> part of a multipart form).</summary>
public sealed record CreateGenerationRequest
{
    /// <summary>Model name (default: the first model of <c>GET /v1/models</c>).</summary>
    [JsonPropertyName("model")] public string? Model { get; init; }
    /// <summary>What the video shows (required, at most 2,000 characters).</summary>
    [JsonPropertyName("prompt")] public string? Prompt { get; init; }
    /// <summary>What it should not show.</summary>
    [JsonPropertyName("negative_prompt")] public string? NegativePrompt { get; init; }
    /// <summary>Motion trajectories (at most 16).</summary>
    [JsonPropertyName("trajectories")] public List<TrajectorySpec?>? Trajectories { get; init; }
    /// <summary>First frame as a data URI (<c>data:image/png;base64,…</c>), for image-to-video models.</summary>
    [JsonPropertyName("image")] public string? Image { get; init; }
    /// <summary>Frames (default and allowed values come from the model).</summary>
    [JsonPropertyName("num_frames")] public int? NumFrames { get; init; }
    /// <summary>Width in pixels (allowed sizes come from the model).</summary>
    [JsonPropertyName("width")] public int? Width { get; init; }
    /// <summary>Height in pixels.</summary>
    [JsonPropertyName("height")] public int? Height { get; init; }
    /// <summary>Denoising steps (default 50).</summary>
    [JsonPropertyName("steps")] public int? Steps { get; init; }
    /// <summary>Classifier-free guidance scale (default 6).</summary>
    [JsonPropertyName("guidance_scale")] public double? GuidanceScale { get; init; }
    /// <summary>CogVideoX's dynamic guidance schedule (default true).</summary>
    [JsonPropertyName("dynamic_cfg")] public bool? DynamicCfg { get; init; }
    /// <summary>Seed, 0 to 2^53 (random when absent; always echoed).</summary>
    [JsonPropertyName("seed")] public long? Seed { get; init; }
    /// <summary>Frames per second of the MP4 (default 8).</summary>
    [JsonPropertyName("fps")] public int? Fps { get; init; }
    /// <summary>Draw the trajectories over the video.</summary>
    [JsonPropertyName("overlay_trajectory")] public bool? OverlayTrajectory { get; init; }
    /// <summary>Motion strength and step window (defaults 1, 0, 1).</summary>
    [JsonPropertyName("motion")] public MotionRequest? Motion { get; init; }
    /// <summary>Your own key/value pairs, echoed (at most 16; keys 64, values 512 characters).</summary>
    [JsonPropertyName("metadata")] public Dictionary<string, string?>? Metadata { get; init; }
    /// <summary>Send signed webhooks (Standard Webhooks) for this generation's status changes.</summary>
    [JsonPropertyName("webhook")] public WebhookRequest? Webhook { get; init; }
    /// <summary>Cancel the generation if it has not finished this many seconds after acceptance (1–86,400).</summary>
    [JsonPropertyName("cancel_after")] public int? CancelAfter { get; init; }
    /// <summary>Seconds after finishing at which the files are deleted and the record marked expired (default 7 days; 60 s to 30 days unless the server is configured otherwise).</summary>
    [JsonPropertyName("expires_after")] public int? ExpiresAfter { get; init; }
}

/// <summary>How strongly and during which steps the motion input guides the generation.</summary>
public sealed record MotionRequest
{
    /// <summary>Multiplier of the Trajectory Extractor's features before the fusers use them, 0–10 (default 1; 0 still runs the fusers on zero features).</summary>
    [JsonPropertyName("strength"), Range(0.0, 10.0)] public double? Strength { get; init; }
    /// <summary>At step i of n, guidance applies when start ≤ i/n ≤ end; 0–1 (default 0).</summary>
    [JsonPropertyName("start"), Range(0.0, 1.0)] public double? Start { get; init; }
    /// <summary>End of the window, start–1 (default 1).</summary>
    [JsonPropertyName("end"), Range(0.0, 1.0)] public double? End { get; init; }
}

/// <summary>Where to send a generation's webhooks.</summary>
public sealed record WebhookRequest
{
    /// <summary>Absolute http(s) URL; private and loopback targets are refused unless the server allows them.</summary>
    [JsonPropertyName("url")] public string? Url { get; init; }
    /// <summary>Event types (default: all of <c>generation.queued</c>, <c>generation.running</c>, <c>generation.succeeded</c>, <c>generation.failed</c>, <c>generation.cancelled</c>).</summary>
    [JsonPropertyName("events")] public List<string?>? Events { get; init; }
}

/// <summary>A generation as the API shows it.</summary>
public sealed record GenerationResource
{
    /// <summary>Id.</summary>
    [JsonPropertyName("id")] public required Guid Id { get; init; }
    /// <summary>Always <c>generation</c>.</summary>
    [JsonPropertyName("object")] public string Object => "generation";
    /// <summary><c>queued</c>, <c>running</c>, <c>succeeded</c>, <c>failed</c>, <c>cancelled</c> or <c>expired</c>.</summary>
    [JsonPropertyName("status")] public required string Status { get; init; }
    /// <summary>Model.</summary>
    [JsonPropertyName("model")] public required string Model { get; init; }
    /// <summary>Progress of the denoising loop.</summary>
    [JsonPropertyName("progress")] public required ProgressResource Progress { get; init; }
    /// <summary>Generations of the same model ahead of this one (queued only).</summary>
    [JsonPropertyName("queue_position")] public int? QueuePosition { get; init; }
    /// <summary>The resolved input (defaults filled in, seed included).</summary>
    [JsonPropertyName("input")] public required GenerationInput Input { get; init; }
    /// <summary>Why it failed.</summary>
    [JsonPropertyName("error")] public ErrorResource? Error { get; init; }
    /// <summary>Milliseconds: <c>queued</c>, <c>running</c>, <c>total</c> and per pipeline phase.</summary>
    [JsonPropertyName("timings")] public IReadOnlyDictionary<string, double>? Timings { get; init; }
    /// <summary>Links to the files (when succeeded).</summary>
    [JsonPropertyName("urls")] public required UrlsResource Urls { get; init; }
    /// <summary>How the video was made (model package hash, scheduler, ONNX Runtime version and provider, seed).</summary>
    [JsonPropertyName("reproducibility")] public ReproducibilityInfo? Reproducibility { get; init; }
    /// <summary>Attempts started by workers.</summary>
    [JsonPropertyName("attempts")] public int Attempts { get; init; }
    /// <summary>When accepted.</summary>
    [JsonPropertyName("created_at")] public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>When a worker started it.</summary>
    [JsonPropertyName("started_at")] public DateTimeOffset? StartedAt { get; init; }
    /// <summary>When it finished.</summary>
    [JsonPropertyName("finished_at")] public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>When its files expire (null: kept).</summary>
    [JsonPropertyName("expires_at")] public DateTimeOffset? ExpiresAt { get; init; }
}

/// <summary>Progress.</summary>
/// <param name="Phase">Current phase: <c>starting</c>, the pipeline's phases (e.g. <c>denoise</c>), <c>storing</c> while the video is written to the blob store, <c>waiting_for_storage</c> while the blob store is unavailable (the worker retries), <c>done</c>.</param>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps in all.</param>
/// <param name="Percent">0–100.</param>
/// <param name="EtaSeconds">Estimated seconds left (running only, after the first step).</param>
public sealed record ProgressResource(
    [property: JsonPropertyName("phase")] string? Phase,
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("total_steps")] int TotalSteps,
    [property: JsonPropertyName("percent")] double Percent,
    [property: JsonPropertyName("eta_seconds")] double? EtaSeconds);

/// <summary>Why a generation failed.</summary>
/// <param name="Code">Stable code (e.g. <c>model_unavailable</c>; <c>storage_unavailable</c> when the blob store stayed unavailable for the worker's storage window).</param>
/// <param name="Message">Human-readable message.</param>
public sealed record ErrorResource(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("message")] string Message);

/// <summary>Links.</summary>
/// <param name="Self">This resource.</param>
/// <param name="Video">The MP4 (when succeeded).</param>
/// <param name="Thumbnail">The thumbnail JPEG (when succeeded).</param>
public sealed record UrlsResource(
    [property: JsonPropertyName("self")] string Self,
    [property: JsonPropertyName("video")] string? Video,
    [property: JsonPropertyName("thumbnail")] string? Thumbnail);

/// <summary>A page of generations.</summary>
/// <param name="Data">Newest first.</param>
/// <param name="HasMore">Whether older generations follow.</param>
/// <param name="NextCursor">Pass as <c>after</c> to get the next page.</param>
public sealed record GenerationPage(
    [property: JsonPropertyName("data")] IReadOnlyList<GenerationResource> Data,
    [property: JsonPropertyName("has_more")] bool HasMore,
    [property: JsonPropertyName("next_cursor")] string? NextCursor)
{
    /// <summary>Always <c>list</c>.</summary>
    [JsonPropertyName("object")] public string Object => "list";
}

/// <summary>Maps records to resources.</summary>
public static class GenerationMapping
{
    /// <summary>The resource of a record.</summary>
    public static GenerationResource ToResource(this Generation g, int? queuePosition = null, DateTimeOffset? now = null)
    {
        var self = $"/v1/generations/{g.Id}";
        var succeeded = g.Status == GenerationStatus.Succeeded;
        double? eta = null;
        if (g.Status == GenerationStatus.Running && g.Step > 0 && g.StartedAt is { } started)
        {
            var elapsed = ((now ?? DateTimeOffset.UtcNow) - started).TotalSeconds;
            eta = Math.Round(elapsed / g.Step * (g.TotalSteps - g.Step), 1);
        }
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
            Progress = new ProgressResource(g.Phase, g.Step, g.TotalSteps,
                g.TotalSteps == 0 ? 0 : Math.Round(100.0 * g.Step / g.TotalSteps, 1), eta),
            QueuePosition = g.Status == GenerationStatus.Queued ? queuePosition : null,
            Input = g.Input,
            Error = g.ErrorCode is null ? null : new ErrorResource(g.ErrorCode, g.ErrorMessage ?? ""),
            Timings = timings.Count == 0 ? null : timings,
            Urls = new UrlsResource(self, succeeded ? self + "/video" : null, succeeded ? self + "/thumbnail" : null),
            Reproducibility = g.Reproducibility,
            Attempts = g.Attempts,
            CreatedAt = g.CreatedAt,
            StartedAt = g.StartedAt,
            FinishedAt = g.FinishedAt,
            ExpiresAt = g.ExpiresAt,
        };
    }
}
