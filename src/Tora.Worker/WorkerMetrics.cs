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
}
