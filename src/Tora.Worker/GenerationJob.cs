using System.Diagnostics;
using System.Security.Cryptography;
using FFMpegCore;
using Hangfire.Server;
using Microsoft.Extensions.Options;
using Tora.Core.Blobs;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.Core.Jobs;
using Tora.Core.Observability;
using Tora.Inference;
using Tora.Motion.Trajectories;
using Tora.Motion.Video;

namespace Tora.Worker;

/// <summary>
/// Runs one generation on this worker: claim the row for this Hangfire job, run the pipeline with progress per step,
/// store the MP4 and a thumbnail, record timings and the reproducibility block. Safe to run twice: the claim lets
/// only the owning job (or its retry) run, and a finished row is never touched again.
/// </summary>
/// <remarks>
/// A blob store outage never re-runs the pipeline: reading the first frame and storing the finished video are retried
/// for <see cref="WorkerOptions.StorageRetryWindow"/> (phase <see cref="GenerationPhases.WaitingForStorage"/>), and then the
/// generation fails with <see cref="BlobStoreUnavailableException.ErrorCode"/> with whatever it stored removed.
/// </remarks>
public sealed class GenerationJob(
    GenerationStore store, IBlobStore blobs, IVideoGenerator generator, IOptions<WorkerOptions> options,
    IHostApplicationLifetime lifetime, ILogger<GenerationJob> logger)
    : IGenerationJob
{
    /// <inheritdoc />
    public async Task RunAsync(Guid generationId, PerformContext? context, CancellationToken cancellationToken)
    {
        var jobId = context?.BackgroundJob.Id ?? throw new InvalidOperationException("GenerationJob runs under Hangfire only");
        var retry = context.GetJobParameter<int?>("RetryCount") ?? 0;
        var worker = options.Value.ResolvedName;
        var g = await store.TryClaimAsync(generationId, jobId, worker, cancellationToken);
        if (g is null)
        {
            logger.LogInformation("generation {Id}: nothing to do for job {Job} (deleted, finished, or owned by another job)", generationId, jobId);
            return;
        }
        var model = g.Input.Model;
        // Continues the trace of the request that created the generation (ToraTracing; no-op when not tracing).
        using var run = ToraTracing.Source.StartActivity("generation.run", ActivityKind.Consumer, ToraTracing.ParentOf(g.TraceParent));
        run?.SetTag("tora.generation.id", g.Id.ToString());
        run?.SetTag("tora.tenant", g.Tenant);
        run?.SetTag("tora.model", model);
        run?.SetTag("tora.attempt", retry + 1);
        var total = Stopwatch.StartNew();
        var scratch = Path.Combine(options.Value.ScratchRoot ?? Path.GetTempPath(), $"tora-job-{generationId:N}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        // Cancelled when a progress report learns that the client asked to cancel (stops at the next step).
        using var clientCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var progress = new StoreProgress(store, g.Id, jobId, model, clientCancel, logger, run?.Context ?? default);
        var storage = new BlobStoreRetry(options.Value.StorageRetryWindow);
        // Keys this attempt may have written (added before each put: a put that timed out may still have landed).
        var pieces = new List<string>();
        try
        {
            var status = generator.Status;
            if (!status.Ready) throw new GenerationException(GenerationErrorCodes.ModelUnavailable, status.Detail);

            var request = await BuildRequestAsync(g, Path.Combine(scratch, "video.mp4"), storage, progress, clientCancel.Token);
            var result = await generator.GenerateAsync(request, progress, clientCancel.Token);
            if (!File.Exists(result.VideoPath))
                throw new InvalidOperationException($"the pipeline reported {result.VideoPath} but wrote no file there");

            var store0 = Stopwatch.StartNew();
            var thumbnail = Path.Combine(scratch, "thumbnail.jpg");
            await WriteThumbnailAsync(result.VideoPath, thumbnail, cancellationToken);
            var video = await DescribeAsync(result.VideoPath, cancellationToken);
            progress.Report(new GenerationProgress(GenerationPhases.Storing, g.TotalSteps, g.TotalSteps));
            var stored = await storage.RunAsync(ct => UploadAsync(g, video, result.VideoPath, thumbnail, pieces, ct),
                (e, attempt) => WaitingForStorage(g, progress, e, attempt, g.TotalSteps), clientCancel.Token);
            var timings = result.PhaseMilliseconds.ToDictionary(p => p.Key + "_ms", p => Math.Round(p.Value, 1));
            timings["store_ms"] = Math.Round(store0.Elapsed.TotalMilliseconds, 1);
            timings["worker_ms"] = Math.Round(total.Elapsed.TotalMilliseconds, 1);
            var repro = new ReproducibilityInfo(result.ModelPackageHash, result.Scheduler, result.OnnxRuntimeVersion, result.ExecutionProvider,
                g.Input.Seed, worker, g.Input.Motion);
            if (!await ThroughOutageAsync(g.Id, "recording the result", () => store.CompleteAsync(g.Id, jobId, stored, timings, repro, CancellationToken.None), cancellationToken))
            {
                // Deleted while running: its files must not outlive it.
                foreach (var key in new[] { stored.VideoKey, stored.ThumbnailKey }) await blobs.DeleteAsync(key, CancellationToken.None);
            }
            WorkerMetrics.JobSeconds.WithLabels(model, "succeeded").Observe(total.Elapsed.TotalSeconds);
            WorkerMetrics.RecordUsage(g.Tenant, model, GenerationStatus.Succeeded, timings["worker_ms"] / 1000, timings,
                (double)result.Geometry.Frames / result.Fps);
            logger.LogInformation("generation {Id} succeeded in {Seconds:F1} s ({Frames} frames)", g.Id, total.Elapsed.TotalSeconds, result.Geometry.Frames);
        }
        catch (GenerationException e)
        {
            await FailAsync(g, jobId, e.Code, e.Message, total);
        }
        catch (BlobStoreUnavailableException e)
        {
            // The window passed (or was zero): fail with the stable code rather than a job retry that would run the
            // whole pipeline again against a store that is still down.
            await RemovePiecesAsync(g, pieces);
            await FailAsync(g, jobId, BlobStoreUnavailableException.ErrorCode,
                $"the blob store stayed unavailable for {storage.Window.TotalSeconds:0.#} s; last error: {e.Message}", total);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // Worker shutdown (SIGTERM): Hangfire puts the job back in its queue at once when a job rethrows the
            // cancellation during shutdown (no wait for the invisibility timeout), and the same job id claims the row
            // again on a live worker. The row goes back to queued first, with a status event, so clients see the
            // job waiting for a worker rather than running on one that is gone (issue 11, fault 6).
            logger.LogWarning("generation {Id}: worker stopping; job {Job} handed back to the queue", g.Id, jobId);
            await HandBackAsync(g.Id, jobId);
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || clientCancel.IsCancellationRequested)
        {
            // The job was deleted (dashboard, or the API's cancel): the pipeline stopped between steps.
            WorkerMetrics.JobSeconds.WithLabels(model, "cancelled").Observe(total.Elapsed.TotalSeconds);
            WorkerMetrics.RecordUsage(g.Tenant, model, GenerationStatus.Cancelled, total.Elapsed.TotalSeconds);
            logger.LogInformation("generation {Id}: job {Job} cancelled between steps", g.Id, jobId);
            await RemovePiecesAsync(g, pieces);
            await store.CancelAsync(g.Id, jobId, CancellationToken.None);
        }
        catch (Exception e) when (retry >= IGenerationJob.MaxRetries)
        {
            logger.LogError(e, "generation {Id} failed on its last attempt", g.Id);
            await RemovePiecesAsync(g, pieces);
            await FailAsync(g, jobId, GenerationErrorCodes.InternalError, $"the worker failed {retry + 1} times; last error: {e.Message}", total);
        }
        catch (Exception e)
        {
            // Hangfire retries the job later (IGenerationJob's retry policy); meanwhile clients see it queued again.
            logger.LogWarning(e, "generation {Id}: attempt {Attempt} failed; it will be retried", g.Id, retry + 1);
            WorkerMetrics.Failures.WithLabels(model, "retryable").Inc();
            await store.RequeueForRetryAsync(g.Id, jobId, CancellationToken.None);
            throw;
        }
        finally
        {
            progress.EndPhase();
            try { Directory.Delete(scratch, recursive: true); } catch (IOException) { /* best effort */ }
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

    private async Task FailAsync(Generation g, string jobId, string code, string message, Stopwatch total)
    {
        Activity.Current?.SetStatus(ActivityStatusCode.Error, code);
        WorkerMetrics.Failures.WithLabels(g.Input.Model, code).Inc();
        WorkerMetrics.JobSeconds.WithLabels(g.Input.Model, "failed").Observe(total.Elapsed.TotalSeconds);
        WorkerMetrics.RecordUsage(g.Tenant, g.Input.Model, GenerationStatus.Failed, total.Elapsed.TotalSeconds);
        logger.LogWarning("generation {Id} failed: {Code}: {Message}", g.Id, code, message);
        await ThroughOutageAsync(g.Id, "recording the failure", () => store.FailAsync(g.Id, jobId, code, message, CancellationToken.None), CancellationToken.None);
    }

    /// <summary>How long a job that has finished its work keeps trying to record the outcome while the database is unreachable.</summary>
    public static readonly TimeSpan OutcomePatience = TimeSpan.FromSeconds(60);

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

    private async Task<GenerationRequest> BuildRequestAsync(Generation g, string outputPath, BlobStoreRetry storage,
        IProgress<GenerationProgress> progress, CancellationToken ct)
    {
        byte[]? firstFrame = null;
        if (g.FirstFrameKey is { } key)
        {
            firstFrame = await storage.RunAsync(c => ReadFirstFrameAsync(key, c), (e, attempt) => WaitingForStorage(g, progress, e, attempt, 0), ct)
                ?? throw new GenerationException(GenerationErrorCodes.InputMissing, "the first-frame image is missing from blob storage");
        }
        byte[]? flowVideo = null;
        if (g.FlowVideoKey is { } flowKey)
        {
            var mp4 = await storage.RunAsync(c => ReadFirstFrameAsync(flowKey, c), (e, attempt) => WaitingForStorage(g, progress, e, attempt, 0), ct)
                ?? throw new GenerationException(GenerationErrorCodes.InputMissing, "the flow video is missing from blob storage");
            flowVideo = await DecodeFlowVideoAsync(mp4, g.Input, ct);
        }
        var i = g.Input;
        return new GenerationRequest
        {
            Prompt = i.Prompt,
            NegativePrompt = i.NegativePrompt,
            Trajectories = StoredTrajectories(i),
            FirstFrame = firstFrame,
            FlowVideo = flowVideo,
            Geometry = new VideoGeometry(i.NumFrames, i.Height, i.Width),
            Steps = i.Steps,
            GuidanceScale = i.GuidanceScale,
            DynamicCfg = i.DynamicCfg,
            Seed = i.Seed,
            Fps = i.Fps,
            OverlayTrajectory = i.OverlayTrajectory,
            Motion = i.Motion,
            OutputPath = outputPath,
        };
    }

    /// <summary>The stored flow-video MP4 as RGB <c>[F, H, W, 3]</c>; the API checked it, so a failure here is a broken blob.</summary>
    private static async Task<byte[]> DecodeFlowVideoAsync(byte[] mp4, GenerationInput input, CancellationToken ct)
    {
        try
        {
            var video = await Mp4Reader.ReadAsync(mp4, ct);
            return FlowVideoInput.FromVideo(video, new VideoGeometry(input.NumFrames, input.Height, input.Width), "flow_video");
        }
        catch (Exception e) when (e is VideoDecodingException or FlowVideoInputException)
        {
            throw new GenerationException(GenerationErrorCodes.InvalidInput, $"the stored flow video cannot be used: {e.Message}");
        }
    }

    /// <summary>The stored trajectories through the same parser and validator that accepted them.</summary>
    private static IReadOnlyList<Trajectory> StoredTrajectories(GenerationInput i)
    {
        var r = TrajectoryValidator.Resolve(i.Trajectories, new VideoGeometry(i.NumFrames, i.Height, i.Width));
        return r.Success ? r.Trajectories : throw new InvalidOperationException($"the stored trajectories are invalid: {r.Errors[0]}");
    }

    private async Task<byte[]?> ReadFirstFrameAsync(string key, CancellationToken ct)
    {
        await using var blob = await blobs.OpenReadAsync(key, ct);
        if (blob is null) return null;
        using var ms = new MemoryStream((int)blob.Length);
        await blob.Content.CopyToAsync(ms, ct);
        return ms.ToArray();
    }

    /// <summary>Shows the wait on the generation (and learns of a client's cancel meanwhile), and logs it.</summary>
    private void WaitingForStorage(Generation g, IProgress<GenerationProgress> progress, BlobStoreUnavailableException e, int attempt, int step)
    {
        progress.Report(new GenerationProgress(GenerationPhases.WaitingForStorage, step, g.TotalSteps));
        if (attempt == 1) logger.LogWarning("generation {Id}: blob store unavailable, waiting up to {Window}: {Message}", g.Id, options.Value.StorageRetryWindow, e.Message);
        else logger.LogInformation("generation {Id}: blob store still unavailable (attempt {Attempt}): {Message}", g.Id, attempt, e.Message);
    }

    /// <summary>Deletes what a failed or cancelled attempt may have stored, so a generation without a result owns no blobs.</summary>
    private async Task RemovePiecesAsync(Generation g, IReadOnlyList<string> pieces)
    {
        foreach (var key in pieces)
        {
            try
            {
                await blobs.DeleteAsync(key, CancellationToken.None);
            }
            catch (BlobStoreUnavailableException e)
            {
                logger.LogWarning("generation {Id}: could not remove {Key} while the blob store is unavailable: {Message}", g.Id, key, e.Message);
            }
        }
    }

    private static async Task WriteThumbnailAsync(string video, string thumbnail, CancellationToken ct)
    {
        var ok = await FFMpegArguments.FromFileInput(video)
            .OutputToFile(thumbnail, overwrite: true, o => o.WithCustomArgument("-frames:v 1 -q:v 3"))
            .CancellableThrough(ct)
            .ProcessAsynchronously(throwOnError: false);
        if (!ok.Success || !File.Exists(thumbnail))
            throw new InvalidOperationException($"ffmpeg could not extract a thumbnail: {ok.StandardError}");
    }

    /// <summary>The video's size and strong ETag (quoted SHA-256 prefix), computed once however often the upload is tried.</summary>
    private static async Task<(long Bytes, string Etag)> DescribeAsync(string video, CancellationToken ct)
    {
        await using var stream = File.OpenRead(video);
        return (stream.Length, "\"" + Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct))[..32] + "\"");
    }

    /// <summary>Puts the video and the thumbnail (each put replaces the object whole, so a retry simply writes both again).</summary>
    private async Task<StoredVideo> UploadAsync(Generation g, (long Bytes, string Etag) described, string video, string thumbnail,
        List<string> pieces, CancellationToken ct)
    {
        var videoKey = BlobKeys.For(g.Tenant, g.Id, "video.mp4");
        var thumbKey = BlobKeys.For(g.Tenant, g.Id, "thumbnail.jpg");
        if (!pieces.Contains(videoKey)) pieces.Add(videoKey);
        await blobs.PutFileAsync(videoKey, video, "video/mp4", ct);
        if (!pieces.Contains(thumbKey)) pieces.Add(thumbKey);
        await blobs.PutFileAsync(thumbKey, thumbnail, "image/jpeg", ct);
        return new StoredVideo(videoKey, described.Etag, described.Bytes, thumbKey);
    }

    /// <summary>
    /// Writes each report to the row synchronously, in order (reports come once per step, seconds apart on a GPU).
    /// Progress is advisory: while the database is unreachable reports are skipped (for <see cref="OutagePause"/> after a
    /// failure, so a down server costs no connect attempt per step) and the run goes on — a restart of PostgreSQL must
    /// not throw away minutes of GPU work.
    /// </summary>
    private sealed class StoreProgress(
        GenerationStore store, Guid id, string jobId, string model, CancellationTokenSource clientCancel, ILogger logger, ActivityContext run)
        : IProgress<GenerationProgress>
    {
        private static readonly TimeSpan OutagePause = TimeSpan.FromSeconds(2);
        private readonly Stopwatch _step = Stopwatch.StartNew();
        private long _quietUntil;
        private string? _phase;
        private DateTimeOffset _phaseStart;
        private int _phaseSteps;

        /// <summary>Ends the current phase's span (a phase is a span of the run: the denoising loop is one).</summary>
        public void EndPhase()
        {
            if (_phase is null) return;
            ToraTracing.RecordSpan(_phase, run, _phaseStart, DateTimeOffset.UtcNow, ("tora.steps", _phaseSteps));
            _phase = null;
        }

        public void Report(GenerationProgress value)
        {
            if (value.Phase != _phase && run != default)
            {
                EndPhase();
                (_phase, _phaseStart, _phaseSteps) = (value.Phase, DateTimeOffset.UtcNow, 0);
            }
            if (value.Phase == _phase) _phaseSteps = value.Step;
            if (value.Phase == GenerationPhases.Denoise && value.Step > 0) WorkerMetrics.StepSeconds.WithLabels(model).Observe(_step.Elapsed.TotalSeconds);
            _step.Restart();
            if (Environment.TickCount64 < _quietUntil) return;
            try
            {
                if (store.ReportProgress(id, jobId, value.Phase, value.Step)) clientCancel.Cancel();
            }
            catch (Exception e) when (DatabaseOutage.IsOutage(e))
            {
                logger.LogWarning("generation {Id}: progress not recorded, database unavailable ({Error}); the run goes on", id, e.GetBaseException().Message);
                _quietUntil = Environment.TickCount64 + (long)OutagePause.TotalMilliseconds;
            }
        }
    }
}
