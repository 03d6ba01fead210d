using System.Text.Json;
using System.Text.Json.Serialization;
using Tora.Motion.Trajectories;

namespace Tora.Core.Generations;

/// <summary>Life cycle of a generation (docs/architecture.md §5).</summary>
public static class GenerationStatus
{
    /// <summary>Accepted, waiting for a worker.</summary>
    public const string Queued = "queued";
    /// <summary>A worker is running it.</summary>
    public const string Running = "running";
    /// <summary>The video is stored.</summary>
    public const string Succeeded = "succeeded";
    /// <summary>It failed; <c>error</c> says why.</summary>
    public const string Failed = "failed";
    /// <summary>Cancelled by the client.</summary>
    public const string Cancelled = "cancelled";
    /// <summary>Its files expired.</summary>
    public const string Expired = "expired";

    /// <summary>All statuses.</summary>
    public static IReadOnlyList<string> All { get; } = [Queued, Running, Succeeded, Failed, Cancelled, Expired];

    /// <summary>True for statuses that never change again (except to expired).</summary>
    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled or Expired;
}

/// <summary>The resolved input of a generation: what the client asked for with every default filled in (seed included).</summary>
public sealed record GenerationInput
{
    /// <summary>The model.</summary>
    public required string Model { get; init; }
    /// <summary>The prompt.</summary>
    public required string Prompt { get; init; }
    /// <summary>The negative prompt.</summary>
    public string NegativePrompt { get; init; } = "";
    /// <summary>Trajectories.</summary>
    public IReadOnlyList<TrajectorySpec> Trajectories { get; init; } = [];
    /// <summary>Frames.</summary>
    public required int NumFrames { get; init; }
    /// <summary>Width in pixels.</summary>
    public required int Width { get; init; }
    /// <summary>Height in pixels.</summary>
    public required int Height { get; init; }
    /// <summary>Denoising steps.</summary>
    public required int Steps { get; init; }
    /// <summary>Guidance scale.</summary>
    public required double GuidanceScale { get; init; }
    /// <summary>Dynamic classifier-free guidance.</summary>
    public required bool DynamicCfg { get; init; }
    /// <summary>Seed (always resolved).</summary>
    public required long Seed { get; init; }
    /// <summary>Frames per second.</summary>
    public required int Fps { get; init; }
    /// <summary>Draw the trajectories over the video.</summary>
    public bool OverlayTrajectory { get; init; }
    /// <summary>Motion strength and step window (records made before they existed read as the defaults).</summary>
    public MotionControls Motion { get; init; } = MotionControls.Default;
    /// <summary>Whether a first frame was given.</summary>
    public bool HasFirstFrame { get; init; }
    /// <summary>Whether a flow video (multipart part <c>flow_video</c>) is the motion input instead of trajectories.</summary>
    public bool HasFlowVideo { get; init; }
    /// <summary>Client metadata, echoed.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>Where and for which events to send webhooks (none when null).</summary>
    public WebhookSpec? Webhook { get; init; }
    /// <summary>Seconds after acceptance at which the generation is cancelled if not finished (none when null).</summary>
    public int? CancelAfter { get; init; }
    /// <summary>Seconds after finishing at which the files are deleted and the record marked expired (always resolved for new requests).</summary>
    public int? ExpiresAfter { get; init; }
}

/// <summary>A request's webhook: the target URL and the events to send there.</summary>
/// <param name="Url">Absolute http(s) URL.</param>
/// <param name="Events">Event types, e.g. <c>generation.succeeded</c>.</param>
public sealed record WebhookSpec(
    string Url,
    IReadOnlyList<string> Events);

/// <summary>Reproducibility block as stored and served (<c>motion</c>: the strength and window the worker applied).</summary>
public sealed record ReproducibilityInfo(
    string ModelPackageHash,
    string Scheduler,
    [property: JsonPropertyName("onnxruntime_version")] string OnnxRuntimeVersion,
    string ExecutionProvider,
    long Seed,
    string Worker,
    MotionControls? Motion = null);

/// <summary>A generation record as read from the store.</summary>
public sealed record Generation
{
    /// <summary>Id (UUIDv7).</summary>
    public required Guid Id { get; init; }
    /// <summary>Owner.</summary>
    public required string Tenant { get; init; }
    /// <summary>Status (see <see cref="GenerationStatus"/>).</summary>
    public required string Status { get; init; }
    /// <summary>Hangfire queue.</summary>
    public required string Queue { get; init; }
    /// <summary>Resolved input.</summary>
    public required GenerationInput Input { get; init; }
    /// <summary>Blob key of the first frame, when given.</summary>
    public string? FirstFrameKey { get; init; }
    /// <summary>Blob key of the uploaded flow video (an MP4), when <see cref="GenerationInput.HasFlowVideo"/>.</summary>
    public string? FlowVideoKey => Input.HasFlowVideo ? FlowVideoKeyOf(Tenant, Id) : null;

    /// <summary>Where a generation's uploaded flow video is stored (derived from its id: no column of its own).</summary>
    public static string FlowVideoKeyOf(string tenant, Guid id) => Tora.Core.Blobs.BlobKeys.For(tenant, id, "flow-video.mp4");
    /// <summary>When accepted.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
    /// <summary>When a job was created for it.</summary>
    public DateTimeOffset? DispatchedAt { get; init; }
    /// <summary>The Hangfire job that owns it.</summary>
    public string? JobId { get; init; }
    /// <summary>When a worker started it (last attempt).</summary>
    public DateTimeOffset? StartedAt { get; init; }
    /// <summary>When it reached a terminal status.</summary>
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Current phase.</summary>
    public string? Phase { get; init; }
    /// <summary>Denoising steps done.</summary>
    public int Step { get; init; }
    /// <summary>Denoising steps in all.</summary>
    public int TotalSteps { get; init; }
    /// <summary>Attempts started.</summary>
    public int Attempts { get; init; }
    /// <summary>Worker that ran it.</summary>
    public string? Worker { get; init; }
    /// <summary>Stable error code when failed.</summary>
    public string? ErrorCode { get; init; }
    /// <summary>Error message when failed.</summary>
    public string? ErrorMessage { get; init; }
    /// <summary>Blob key of the MP4.</summary>
    public string? VideoKey { get; init; }
    /// <summary>Strong ETag of the MP4 (its SHA-256).</summary>
    public string? VideoEtag { get; init; }
    /// <summary>MP4 size.</summary>
    public long? VideoBytes { get; init; }
    /// <summary>Blob key of the thumbnail.</summary>
    public string? ThumbnailKey { get; init; }
    /// <summary>Milliseconds per phase and in total.</summary>
    public IReadOnlyDictionary<string, double>? Timings { get; init; }
    /// <summary>How it was made.</summary>
    public ReproducibilityInfo? Reproducibility { get; init; }
    /// <summary>When its files expire.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>The W3C traceparent of the request that created it (null when the API was not tracing).</summary>
    public string? TraceParent { get; init; }
}

/// <summary>The JSON settings for stored documents (snake_case, like the API).</summary>
public static class StoredJson
{
    /// <summary>Options used for jsonb columns.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
