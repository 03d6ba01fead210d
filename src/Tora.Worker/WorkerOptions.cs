using Tora.Inference.Pipeline;

namespace Tora.Worker;

/// <summary>One worker process's settings. Bound from <see cref="Section"/>.</summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string Section = "Tora:Worker";

    /// <summary>The model this worker serves (one of <c>Tora:Models</c>); its queue is <c>gen-&lt;model&gt;</c>.</summary>
    public string Model { get; set; } = "tora-t2v";

    /// <summary>The model package folder (made by <c>tora model build</c>); environment <c>TORA_MODEL_PACKAGE</c> also works.</summary>
    public string? ModelPackage { get; set; }

    /// <summary>The GPU this process owns (one process per GPU, docs/architecture.md §4). Alternatively set <c>CUDA_VISIBLE_DEVICES</c> and keep 0.</summary>
    public int DeviceIndex { get; set; }

    /// <summary>Load the pipeline's graphs stage by stage and release them after each job's stage (small GPUs); off keeps every graph resident (speed).</summary>
    public bool LowMemory { get; set; }

    /// <summary>
    /// VAE tiling (docs/vae-tiling.md): <c>auto</c> (default: diffusers' half-frame tiles in low-memory mode where they
    /// cover the frame exactly), <c>on</c> (half-frame tiles), <c>off</c>, or a tile size <c>HxW</c> in pixels. A tile
    /// size that does not cover the package's frame makes the worker not ready, saying why.
    /// </summary>
    public VaeTilingChoice VaeTiling { get; set; } = VaeTilingChoice.Auto;

    /// <summary>A unique name (default <c>host:pid:device</c>), shown in heartbeats and the Hangfire dashboard.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// Port of this worker's own HTTP endpoint: <c>/metrics</c> (Prometheus: job durations, step times, failures),
    /// <c>/health/live</c> and <c>/health/ready</c>; 0 turns it off.
    /// </summary>
    public int MetricsPort { get; set; }

    /// <summary>Folder for per-job scratch files (default: the system temp folder).</summary>
    public string? ScratchRoot { get; set; }

    /// <summary>How often the worker announces itself.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a job fetched by a worker that stopped heartbeating (killed, crashed) stays invisible before a live
    /// worker takes it again. Hangfire's sliding invisibility keeps a live worker's long job invisible however long it
    /// runs, so this only bounds the recovery time after a crash; short values cost more keep-alive queries.
    /// </summary>
    public TimeSpan JobInvisibilityTimeout { get; set; } = Tora.Core.Jobs.HangfireSetup.DefaultInvisibilityTimeout;

    /// <summary>
    /// How long a job waits for an unavailable blob store (S3 unreachable, filesystem root not writable) to read its
    /// first frame or to store its finished video, retrying with growing pauses while the generation shows phase
    /// <c>waiting_for_storage</c>. Past it the generation fails with <c>storage_unavailable</c>. The pipeline never
    /// runs again for a storage outage: the video waits on the worker's scratch disk.
    /// </summary>
    public TimeSpan StorageRetryWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The model package path, from configuration or <c>TORA_MODEL_PACKAGE</c>.</summary>
    public string? ResolvedModelPackage =>
        !string.IsNullOrWhiteSpace(ModelPackage) ? ModelPackage : Environment.GetEnvironmentVariable("TORA_MODEL_PACKAGE") is { Length: > 0 } p ? p : null;

    /// <summary>The worker name in effect.</summary>
    public string ResolvedName => Name ?? $"{Environment.MachineName.ToLowerInvariant()}:{Environment.ProcessId}:gpu{DeviceIndex}";
}
