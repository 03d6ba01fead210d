using System.Diagnostics;
using Hangfire.Server;
using Microsoft.Extensions.Options;
using Tora.Contracts;
using Tora.Core.Generations;
using Tora.Core.Jobs;
using Tora.Core.Observability;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// Runs one generation on this worker: claim the row for this Hangfire job, read its input as the pipeline's request,
/// run the pipeline with progress per step, publish the video, record the outcome. Safe to run twice: the claim lets
/// only the owning job (or its retry) run, and a finished row is never touched again.
/// </summary>
/// <remarks>
/// A blob store outage never re-runs the pipeline: reading the inputs and storing the finished video are retried
/// for <see cref="WorkerOptions.StorageRetryWindow"/> (phase <see cref="GenerationPhases.WaitingForStorage"/>), and then the
/// generation fails with <see cref="GenerationErrorCodes.StorageUnavailable"/> with whatever it stored removed.
/// </remarks>
public sealed class GenerationJob(
    GenerationStore store, StoredInputReader inputs, IVideoGenerator generator, VideoPublisher publisher, OutcomeRecorder outcomes,
    IOptions<WorkerOptions> options, ILogger<GenerationJob> logger)
    : IGenerationJob
{
    /// <inheritdoc />
    public async Task RunAsync(Guid generationId, PerformContext? context, CancellationToken cancellationToken)
    {
        var jobId = context?.BackgroundJob.Id ?? throw new InvalidOperationException("GenerationJob runs under Hangfire only");
        var retry = context.GetJobParameter<int?>("RetryCount") ?? 0;
        var g = await store.TryClaimAsync(generationId, jobId, options.Value.ResolvedName, cancellationToken);
        if (g is null)
        {
            logger.LogInformation("generation {Id}: nothing to do for job {Job} (deleted, finished, or owned by another job)", generationId, jobId);
            return;
        }
        // Continues the trace of the request that created the generation (ToraTracing; no-op when not tracing).
        using var run = ToraTracing.Source.StartActivity("generation.run", ActivityKind.Consumer, ToraTracing.ParentOf(g.TraceParent));
        run?.SetTag("tora.generation.id", g.Id.ToString());
        run?.SetTag("tora.tenant", g.Tenant);
        run?.SetTag("tora.model", g.Input.Model);
        run?.SetTag("tora.attempt", retry + 1);
        using var attempt = new JobAttempt(g, jobId, retry, options.Value, store, logger, run?.Context ?? default, cancellationToken);
        try
        {
            if (generator.Status is { Ready: false } status) throw new GenerationException(GenerationErrorCodes.ModelUnavailable, status.Detail);
            var request = await inputs.ReadAsync(attempt, attempt.Cancellation);
            var result = await generator.GenerateAsync(request, attempt.Progress, attempt.Cancellation);
            if (result.VideoPath is not { } video || !File.Exists(video))
                throw new InvalidOperationException($"the pipeline reported {result.VideoPath} but wrote no file there");
            var publishing = Stopwatch.StartNew();
            var stored = await publisher.PublishAsync(attempt, video, attempt.Cancellation);
            await outcomes.SucceededAsync(attempt, result, stored, publishing.Elapsed);
        }
        catch (Exception e)
        {
            if (!await outcomes.EndedAsync(attempt, e)) throw;
        }
    }
}
