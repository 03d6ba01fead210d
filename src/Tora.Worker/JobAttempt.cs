using System.Diagnostics;
using Tora.Contracts;
using Tora.Core.Blobs;
using Tora.Core.Generations;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// One attempt of a generation job on this worker, after its row was claimed: the row, the attempt's clock, scratch
/// folder, progress writer and cancellation (the host's, or the client's cancel learnt from a progress report), the
/// blob store retry window, and the blob keys the attempt may have written. Disposing it ends the progress span and
/// removes the scratch folder.
/// </summary>
public sealed class JobAttempt : IDisposable
{
    private readonly CancellationTokenSource _clientCancel;
    private readonly StoreProgress _progress;
    private readonly List<string> _writtenKeys = [];
    private readonly ILogger _logger;

    internal JobAttempt(Generation generation, string jobId, int retry, WorkerOptions options, GenerationStore store, ILogger logger,
        ActivityContext run, CancellationToken hostCancellation)
    {
        Generation = generation;
        JobId = jobId;
        Retry = retry;
        Worker = options.ResolvedName;
        HostCancellation = hostCancellation;
        Storage = new BlobStoreRetry(options.StorageRetryWindow);
        _logger = logger;
        Scratch = Path.Combine(options.ScratchRoot ?? Path.GetTempPath(), $"tora-job-{generation.Id:N}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Scratch);
        _clientCancel = CancellationTokenSource.CreateLinkedTokenSource(hostCancellation);
        _progress = new StoreProgress(store, generation.Id, jobId, generation.Input.Model, _clientCancel, logger, run);
    }

    /// <summary>The claimed generation.</summary>
    public Generation Generation { get; }

    /// <summary>The Hangfire job id that owns the row.</summary>
    public string JobId { get; }

    /// <summary>Retries before this attempt (0 on the first).</summary>
    public int Retry { get; }

    /// <summary>This worker's name (recorded in the reproducibility block).</summary>
    public string Worker { get; }

    /// <summary>Time since the attempt began.</summary>
    public Stopwatch Clock { get; } = Stopwatch.StartNew();

    /// <summary>The attempt's private folder (removed on dispose).</summary>
    public string Scratch { get; }

    /// <summary>Where the pipeline writes the MP4.</summary>
    public string VideoPath => Path.Combine(Scratch, "video.mp4");

    /// <summary>Progress reports, written to the row (a client's cancel is noticed there).</summary>
    public IProgress<GenerationProgress> Progress => _progress;

    /// <summary>Cancelled by the host (job deleted, worker stopping) or by a client's cancel.</summary>
    public CancellationToken Cancellation => _clientCancel.Token;

    /// <summary>The host's token alone (Hangfire: job deleted, worker stopping).</summary>
    public CancellationToken HostCancellation { get; }

    /// <summary>Whether the attempt was cancelled, by the host or by a client.</summary>
    public bool IsCancelled => HostCancellation.IsCancellationRequested || _clientCancel.IsCancellationRequested;

    /// <summary>Retries blob store operations through an outage for the configured window.</summary>
    public BlobStoreRetry Storage { get; }

    /// <summary>Blob keys this attempt may have written (added before each put: a put that timed out may still have landed).</summary>
    public IReadOnlyList<string> WrittenKeys => _writtenKeys;

    /// <summary>Notes <paramref name="key"/> as possibly written, before the put.</summary>
    public void Writing(string key)
    {
        if (!_writtenKeys.Contains(key)) _writtenKeys.Add(key);
    }

    /// <summary>Shows a blob store wait on the generation (and learns of a client's cancel meanwhile), and logs it.</summary>
    public void WaitingForStorage(BlobStoreUnavailableException e, int attempt, int step)
    {
        Progress.Report(new GenerationProgress(GenerationPhases.WaitingForStorage, step, Generation.TotalSteps));
        if (attempt == 1) _logger.LogWarning("generation {Id}: blob store unavailable, waiting up to {Window}: {Message}", Generation.Id, Storage.Window, e.Message);
        else _logger.LogInformation("generation {Id}: blob store still unavailable (attempt {Attempt}): {Message}", Generation.Id, attempt, e.Message);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _progress.EndPhase();
        try { Directory.Delete(Scratch, recursive: true); } catch (IOException) { /* best effort */ }
        _clientCancel.Dispose();
    }
}
