using Prometheus;
using Tora.Core.Generations;
using Tora.Core.Workers;

namespace Tora.Api.Observability;

/// <summary>
/// Prometheus gauges read from the database at scrape time: generations per queue and status (the queue depth is
/// <c>status="queued"</c>) and live workers. Job durations, step times and failures are exported by the workers.
/// </summary>
public static class QueueMetrics
{
    private static readonly Gauge Generations = Metrics.CreateGauge("tora_generations", "Generations per queue and status.", "queue", "status");
    private static readonly Gauge QueueDepth = Metrics.CreateGauge("tora_queue_depth", "Generations waiting for a worker, per queue.", "queue");
    private static readonly Gauge Workers = Metrics.CreateGauge("tora_workers", "Workers with a recent heartbeat, per model and readiness.", "model", "ready");

    /// <summary>Registers the scrape-time callback.</summary>
    public static void Register(IServiceProvider services)
    {
        var store = services.GetRequiredService<GenerationStore>();
        var registry = services.GetRequiredService<WorkerRegistry>();
        Metrics.DefaultRegistry.AddBeforeCollectCallback(async ct =>
        {
            var counts = await store.CountByQueueAndStatusAsync(ct);
            foreach (var ((queue, status), n) in counts)
            {
                Generations.WithLabels(queue, status).Set(n);
                if (status == GenerationStatus.Queued) QueueDepth.WithLabels(queue).Set(n);
            }
            foreach (var queue in counts.Keys.Select(k => k.Queue).Distinct())
                if (!counts.ContainsKey((queue, GenerationStatus.Queued))) QueueDepth.WithLabels(queue).Set(0);
            var live = await registry.LiveAsync(ct);
            foreach (var model in live.Select(w => w.Model).Distinct())
            {
                Workers.WithLabels(model, "true").Set(live.Count(w => w.Model == model && w.Ready));
                Workers.WithLabels(model, "false").Set(live.Count(w => w.Model == model && !w.Ready));
            }
        });
    }
}
