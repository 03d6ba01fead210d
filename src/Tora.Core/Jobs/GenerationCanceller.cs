using Hangfire;
using Tora.Core.Generations;

namespace Tora.Core.Jobs;

/// <summary>What a cancel did.</summary>
public enum CancelOutcome
{
    /// <summary>No such generation (for this tenant).</summary>
    NotFound,
    /// <summary>It had already finished.</summary>
    AlreadyFinished,
    /// <summary>It was queued and is now cancelled; it never starts.</summary>
    Cancelled,
    /// <summary>It is running; the worker stops it between denoising steps and marks it cancelled.</summary>
    Stopping,
}

/// <summary>
/// Cancels generations for the API's cancel endpoint and for <c>cancel_after</c> deadlines: a queued row is marked
/// cancelled in one statement (its job, if any, is deleted and would find the row terminal anyway); for a running
/// row its Hangfire job is deleted, which cancels the job's token within the worker's cancellation check
/// interval, and the pipeline stops between steps (the worker records <c>cancelled</c>).
/// </summary>
public sealed class GenerationCanceller(GenerationStore store, IBackgroundJobClient jobs)
{
    /// <summary>Cancels one generation; <paramref name="tenant"/> null means any tenant (deadlines).</summary>
    public async Task<CancelOutcome> CancelAsync(Guid id, string? tenant, string code, string message, CancellationToken ct)
    {
        var result = await store.RequestCancelAsync(id, tenant, code, message, ct);
        if (result is not { } r)
        {
            var row = tenant is null ? await store.GetAnyAsync(id, ct) : await store.GetAsync(tenant, id, ct);
            return row is null ? CancelOutcome.NotFound : CancelOutcome.AlreadyFinished;
        }
        if (r.JobId is not null) jobs.Delete(r.JobId);
        return r.PreviousStatus == GenerationStatus.Queued ? CancelOutcome.Cancelled : CancelOutcome.Stopping;
    }
}
