using Hangfire;
using Hangfire.Server;

namespace Tora.Core.Jobs;

/// <summary>
/// The job contract between the API (which creates jobs) and the workers (which implement it). Hangfire stores
/// the interface type and the generation id only; each worker process resolves its own implementation.
/// </summary>
public interface IGenerationJob
{
    /// <summary>Retries after the first attempt.</summary>
    const int MaxRetries = 2;

    /// <summary>Runs one generation. Hangfire supplies <paramref name="context"/> and <paramref name="cancellationToken"/> at run time.</summary>
    /// <remarks>
    /// Retries fit GPU work: few (a job holds a GPU for minutes), spaced out (a transient fault such as a driver
    /// reset needs time), and only for unexpected exceptions; deterministic failures (bad package, unsupported size)
    /// are recorded as failed by the job itself and never thrown (docs/architecture.md §4). After the last retry the job
    /// records the generation as failed itself, so Hangfire's failed state needs no mapping.
    /// </remarks>
    [AutomaticRetry(Attempts = MaxRetries, DelaysInSeconds = [15, 60], OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    Task RunAsync(Guid generationId, PerformContext? context, CancellationToken cancellationToken);
}
