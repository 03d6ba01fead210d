using Prometheus;

namespace Tora.Worker;

/// <summary>Prometheus metrics of a worker process (exported on <see cref="WorkerOptions.MetricsPort"/>).</summary>
public static class WorkerMetrics
{
    /// <summary>Wall time of whole jobs by outcome.</summary>
    public static readonly Histogram JobSeconds = Metrics.CreateHistogram("tora_job_duration_seconds", "Generation job wall time.",
        new HistogramConfiguration { LabelNames = ["model", "outcome"], Buckets = Histogram.ExponentialBuckets(0.5, 2, 14) });

    /// <summary>Time per denoising step.</summary>
    public static readonly Histogram StepSeconds = Metrics.CreateHistogram("tora_step_duration_seconds", "Denoising step wall time.",
        new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(0.01, 2, 14) });

    /// <summary>Failed jobs by error code.</summary>
    public static readonly Counter Failures = Metrics.CreateCounter("tora_job_failures_total", "Failed generation attempts by code.", "model", "code");

    /// <summary>Generations this worker finished, by tenant, model and outcome (the usage API's counts, as counters).</summary>
    public static readonly Counter TenantGenerations = Metrics.CreateCounter("tora_tenant_generations_total",
        "Generations finished by workers, by tenant, model and status.", "tenant", "model", "status");

    /// <summary>Worker time by tenant and model (the usage API's gpu_seconds).</summary>
    public static readonly Counter TenantGpuSeconds = Metrics.CreateCounter("tora_tenant_gpu_seconds_total",
        "Worker (GPU) time spent on generations, by tenant and model.", "tenant", "model");

    /// <summary>Worker time of succeeded runs by pipeline phase (the usage API's gpu_seconds_by_phase).</summary>
    public static readonly Counter TenantPhaseSeconds = Metrics.CreateCounter("tora_tenant_phase_gpu_seconds_total",
        "Worker (GPU) time of succeeded generations by tenant, model and pipeline phase.", "tenant", "model", "phase");

    /// <summary>Seconds of video produced by tenant and model (the usage API's video_seconds).</summary>
    public static readonly Counter TenantVideoSeconds = Metrics.CreateCounter("tora_tenant_video_seconds_total",
        "Seconds of video produced, by tenant and model.", "tenant", "model");

    /// <summary>Counts one finished run of a tenant's generation.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="model">The model.</param>
    /// <param name="status">succeeded, failed or cancelled.</param>
    /// <param name="workerSeconds">The run's worker time.</param>
    /// <param name="phaseMilliseconds">Phase times of a succeeded run (<c>phase_ms</c> keys, <c>worker_ms</c> excluded).</param>
    /// <param name="videoSeconds">Seconds of video produced.</param>
    public static void RecordUsage(string tenant, string model, string status, double workerSeconds,
        IReadOnlyDictionary<string, double>? phaseMilliseconds = null, double videoSeconds = 0)
    {
        TenantGenerations.WithLabels(tenant, model, status).Inc();
        TenantGpuSeconds.WithLabels(tenant, model).Inc(workerSeconds);
        foreach (var (key, ms) in phaseMilliseconds ?? new Dictionary<string, double>())
            if (key.EndsWith("_ms", StringComparison.Ordinal) && key != "worker_ms") TenantPhaseSeconds.WithLabels(tenant, model, key[..^3]).Inc(ms / 1000);
        if (videoSeconds > 0) TenantVideoSeconds.WithLabels(tenant, model).Inc(videoSeconds);
    }
}
