using System.ComponentModel.DataAnnotations;
using Tora.Motion.Trajectories;

namespace Tora.Api.Generations;

/// <summary>The body of <c>POST /v1/generations</c> (JSON, or the <c>request</c> part of a multipart form).</summary>
public sealed record CreateGenerationRequest
{
    /// <summary>Model name (default: the first model of <c>GET /v1/models</c>).</summary>
    public string? Model { get; init; }
    /// <summary>What the video shows (required, at most 2,000 characters).</summary>
    public string? Prompt { get; init; }
    /// <summary>What it should not show.</summary>
    public string? NegativePrompt { get; init; }
    /// <summary>Motion trajectories (at most 16).</summary>
    public List<TrajectorySpec?>? Trajectories { get; init; }
    /// <summary>First frame as a data URI (<c>data:image/png;base64,…</c>), for image-to-video models.</summary>
    public string? Image { get; init; }
    /// <summary>Frames (default and allowed values come from the model).</summary>
    public int? NumFrames { get; init; }
    /// <summary>Width in pixels (allowed sizes come from the model).</summary>
    public int? Width { get; init; }
    /// <summary>Height in pixels.</summary>
    public int? Height { get; init; }
    /// <summary>Denoising steps (default 50).</summary>
    public int? Steps { get; init; }
    /// <summary>Classifier-free guidance scale (default 6).</summary>
    public double? GuidanceScale { get; init; }
    /// <summary>CogVideoX's dynamic guidance schedule (default true).</summary>
    public bool? DynamicCfg { get; init; }
    /// <summary>Seed, 0 to 2^53 (random when absent; always echoed).</summary>
    public long? Seed { get; init; }
    /// <summary>Frames per second of the MP4 (default 8).</summary>
    public int? Fps { get; init; }
    /// <summary>Draw the trajectories over the video.</summary>
    public bool? OverlayTrajectory { get; init; }
    /// <summary>Motion strength and step window (defaults 1, 0, 1).</summary>
    public MotionRequest? Motion { get; init; }
    /// <summary>Your own key/value pairs, echoed (at most 16; keys 64, values 512 characters).</summary>
    public Dictionary<string, string?>? Metadata { get; init; }
    /// <summary>Send signed webhooks (Standard Webhooks) for this generation's status changes.</summary>
    public WebhookRequest? Webhook { get; init; }
    /// <summary>Cancel the generation if it has not finished this many seconds after acceptance (1–86,400).</summary>
    public int? CancelAfter { get; init; }
    /// <summary>Seconds after finishing at which the files are deleted and the record marked expired (default 7 days; 60 s to 30 days unless the server is configured otherwise).</summary>
    public int? ExpiresAfter { get; init; }
}

/// <summary>How strongly and during which steps the motion input guides the generation.</summary>
public sealed record MotionRequest
{
    /// <summary>Multiplier of the Trajectory Extractor's features before the fusers use them, 0–10 (default 1; 0 still runs the fusers on zero features).</summary>
    [Range(0.0, 10.0)] public double? Strength { get; init; }
    /// <summary>At step i of n, guidance applies when start ≤ i/n ≤ end; 0–1 (default 0).</summary>
    [Range(0.0, 1.0)] public double? Start { get; init; }
    /// <summary>End of the window, start–1 (default 1).</summary>
    [Range(0.0, 1.0)] public double? End { get; init; }
}

/// <summary>Where to send a generation's webhooks.</summary>
public sealed record WebhookRequest
{
    /// <summary>Absolute http(s) URL; private and loopback targets are refused unless the server allows them.</summary>
    public string? Url { get; init; }
    /// <summary>Event types (default: all of <c>generation.queued</c>, <c>generation.running</c>, <c>generation.succeeded</c>, <c>generation.failed</c>, <c>generation.cancelled</c>).</summary>
    public List<string?>? Events { get; init; }
}
