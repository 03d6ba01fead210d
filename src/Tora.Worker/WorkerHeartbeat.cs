using Microsoft.Extensions.Options;
using Tora.Core;
using Tora.Core.Workers;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>Announces this worker and its model's readiness every few seconds (read by /health/ready and /v1/models).</summary>
public sealed class WorkerHeartbeat(WorkerRegistry registry, IVideoGenerator generator, WorkerHealth health, IOptions<WorkerOptions> options,
    ILogger<WorkerHeartbeat> logger)
    : BackgroundService
{
    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var started = DateTimeOffset.UtcNow;
        var status = generator.Status;
        logger.LogInformation("worker {Name} serves {Model} on queue {Queue}: {Ready} ({Detail})", o.ResolvedName, o.Model,
            ModelDefinition.QueueFor(o.Model), status.Ready ? "ready" : "NOT READY", status.Detail);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                status = generator.Status;
                await registry.HeartbeatAsync(new WorkerInfo(o.ResolvedName, o.Model, ModelDefinition.QueueFor(o.Model), status.Ready,
                    status.Detail, $"gpu{o.DeviceIndex}", started), started, stoppingToken);
                health.HeartbeatSucceeded(status.Ready, status.Detail);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                health.HeartbeatFailed(e.Message);
                logger.LogWarning(e, "heartbeat failed");
            }
            try { await Task.Delay(o.HeartbeatInterval, stoppingToken); } catch (OperationCanceledException) { break; }
        }
        try { await registry.RemoveAsync(o.ResolvedName, CancellationToken.None); } catch (Exception e) { logger.LogWarning(e, "could not remove heartbeat"); }
    }
}
