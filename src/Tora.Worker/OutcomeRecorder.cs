using System.Diagnostics;
using Tora.Contracts;
using Tora.Core.Blobs;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.Core.Jobs;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// Records how a job attempt ended, on the row, in the metrics and in the log: succeeded (timings, reproducibility),
/// failed with a stable code, cancelled, handed back to the queue by a stopping worker, or left to Hangfire's retry.
/// Outcome writes ride out a short database outage (<see cref="OutcomePatience"/>) so finished work is not computed
/// again; what a failed or cancelled attempt stored is removed.
/// </summary>
public sealed class OutcomeRecorder(GenerationStore store, VideoPublisher publisher, IHostApplicationLifetime lifetime, ILogger<OutcomeRecorder> logger)
{
    /// <summary>How long a job that has finished its work keeps trying to record the outcome while the database is unreachable.</summary>
    public static readonly TimeSpan OutcomePatience = TimeSpan.FromSeconds(60);

    /// <summary>Records <c>succeeded</c> with the stored files, the timings and the reproducibility block.</summary>
    public async Task SucceededAsync(JobAttempt attempt, GenerationResult result, StoredVideo stored, TimeSpan storeTime)
    {
        var g = attempt.Generation;
        var timings = result.PhaseMilliseconds.ToDictionary(p => p.Key + "_ms", p => Math.Round(p.Value, 1));
        timings["store_ms"] = Math.Round(storeTime.TotalMilliseconds, 1);
        timings["worker_ms"] = Math.Round(attempt.Clock.Elapsed.TotalMilliseconds, 1);
        var repro = new ReproducibilityInfo(result.ModelPackageHash, result.Scheduler, result.OnnxRuntimeVersion, result.ExecutionProvider,
            g.Input.Seed, attempt.Worker, g.Input.Motion);
        if (!await ThroughOutageAsync(g.Id, "recording the result",
                () => store.CompleteAsync(g.Id, attempt.JobId, stored, timings, repro, CancellationToken.None), attempt.HostCancellation))
        {
            // Deleted while running: its files must not outlive it.
            await publisher.RemoveAsync(g, [stored.VideoKey, stored.ThumbnailKey]);
        }
        WorkerMetrics.JobSeconds.WithLabels(g.Input.Model, "succeeded").Observe(attempt.Clock.Elapsed.TotalSeconds);
        WorkerMetrics.RecordUsage(g.Tenant, g.Input.Model, GenerationStatus.Succeeded, timings["worker_ms"] / 1000, timings,
            (double)result.Geometry.Frames / result.Fps);
        logger.LogInformation("generation {Id} succeeded in {Seconds:F1} s ({Frames} frames)", g.Id, attempt.Clock.Elapsed.TotalSeconds, result.Geometry.Frames);
    }

    /// <summary>
    /// Records the outcome of an attempt that threw <paramref name="error"/>. Returns false when the job must rethrow
    /// it to Hangfire: a stopping worker hands the job back (it runs again at once elsewhere), and an unexpected error
    /// before the last retry is retried later (<see cref="IGenerationJob.MaxRetries"/>).
    /// </summary>
    public async Task<bool> EndedAsync(JobAttempt attempt, Exception error)
    {
        var g = attempt.Generation;
        switch (error)
        {
            case GenerationException e:
                await FailAsync(attempt, e.Code, e.Message);
                return true;
            case BlobStoreUnavailableException e:
                // The window passed (or was zero): fail with the stable code rather than a job retry that would run the
                // whole pipeline again against a store that is still down.
                await publisher.RemoveAsync(g, attempt.WrittenKeys);
                await FailAsync(attempt, GenerationErrorCodes.StorageUnavailable,
                    $"the blob store stayed unavailable for {attempt.Storage.Window.TotalSeconds:0.#} s; last error: {e.Message}");
                return true;
            case OperationCanceledException when attempt.HostCancellation.IsCancellationRequested && lifetime.ApplicationStopping.IsCancellationRequested:
                // Worker shutdown (SIGTERM): Hangfire puts the job back in its queue at once when a job rethrows the
                // cancellation during shutdown (no wait for the invisibility timeout), and the same job id claims the row
                // again on a live worker. The row goes back to queued first, with a status event, so clients see the
                // job waiting for a worker rather than running on one that is gone (docs/reliability.md).
                logger.LogWarning("generation {Id}: worker stopping; job {Job} handed back to the queue", g.Id, attempt.JobId);
                await HandBackAsync(g.Id, attempt.JobId);
                return false;
            case OperationCanceledException when attempt.IsCancelled:
                // The job was deleted (dashboard, or the API's cancel): the pipeline stopped between steps.
                WorkerMetrics.JobSeconds.WithLabels(g.Input.Model, "cancelled").Observe(attempt.Clock.Elapsed.TotalSeconds);
                WorkerMetrics.RecordUsage(g.Tenant, g.Input.Model, GenerationStatus.Cancelled, attempt.Clock.Elapsed.TotalSeconds);
                logger.LogInformation("generation {Id}: job {Job} cancelled between steps", g.Id, attempt.JobId);
                await publisher.RemoveAsync(g, attempt.WrittenKeys);
                await store.CancelAsync(g.Id, attempt.JobId, CancellationToken.None);
                return true;
            case var e when attempt.Retry >= IGenerationJob.MaxRetries:
                logger.LogError(e, "generation {Id} failed on its last attempt", g.Id);
                await publisher.RemoveAsync(g, attempt.WrittenKeys);
                await FailAsync(attempt, GenerationErrorCodes.InternalError, $"the worker failed {attempt.Retry + 1} times; last error: {e.Message}");
                return true;
            case var e:
                // Hangfire retries the job later (IGenerationJob's retry policy); meanwhile clients see it queued again.
                logger.LogWarning(e, "generation {Id}: attempt {Attempt} failed; it will be retried", g.Id, attempt.Retry + 1);
                WorkerMetrics.Failures.WithLabels(g.Input.Model, "retryable").Inc();
                await store.RequeueForRetryAsync(g.Id, attempt.JobId, CancellationToken.None);
                return false;
        }
    }

    private async Task HandBackAsync(Guid id, string jobId)
    {
        // Bounded: the host gives the whole shutdown 45 s. If the database is unreachable the row stays running under
        // this job id, which the job's next run claims just the same.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await store.HandBackAsync(id, jobId, timeout.Token);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            logger.LogWarning(e, "generation {Id}: could not mark it queued again; its job runs again all the same", id);
        }
    }

    private async Task FailAsync(JobAttempt attempt, string code, string message)
    {
        var g = attempt.Generation;
        Activity.Current?.SetStatus(ActivityStatusCode.Error, code);
        WorkerMetrics.Failures.WithLabels(g.Input.Model, code).Inc();
        WorkerMetrics.JobSeconds.WithLabels(g.Input.Model, "failed").Observe(attempt.Clock.Elapsed.TotalSeconds);
        WorkerMetrics.RecordUsage(g.Tenant, g.Input.Model, GenerationStatus.Failed, attempt.Clock.Elapsed.TotalSeconds);
        logger.LogWarning("generation {Id} failed: {Code}: {Message}", g.Id, code, message);
        await ThroughOutageAsync(g.Id, "recording the failure", () => store.FailAsync(g.Id, attempt.JobId, code, message, CancellationToken.None), CancellationToken.None);
    }

    /// <summary>
    /// Runs an idempotent write of the job's outcome, retrying it while the database is unreachable (a restart takes
    /// seconds) for up to <see cref="OutcomePatience"/>: the finished video is kept instead of being thrown away and
    /// computed again by a Hangfire retry. After that the error goes to Hangfire's retry like any other.
    /// </summary>
    private async Task<T> ThroughOutageAsync<T>(Guid id, string what, Func<Task<T>> write, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + OutcomePatience;
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                return await write();
            }
            catch (Exception e) when (DatabaseOutage.IsOutage(e) && DateTime.UtcNow + delay < deadline)
            {
                logger.LogWarning("generation {Id}: database unavailable while {What} ({Error}); retrying in {Delay} ms", id, what,
                    e.GetBaseException().Message, (int)delay.TotalMilliseconds);
                await Task.Delay(delay, ct);
            }
        }
    }
}
