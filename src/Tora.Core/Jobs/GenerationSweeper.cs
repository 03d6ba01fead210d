using Microsoft.Extensions.Logging;
using Tora.Contracts;
using Tora.Core.Generations;

namespace Tora.Core.Jobs;

/// <summary>
/// Enforces <c>cancel_after</c> deadlines once a second, and finishes cancels whose worker died before confirming.
/// Cancelling is idempotent, so several API instances can run it side by side.
/// </summary>
public sealed class GenerationSweeper(GenerationStore store, GenerationCanceller canceller, ILogger<GenerationSweeper> logger) : PollingService(logger)
{
    /// <summary>How often deadlines are checked.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How long a running job may take to confirm a cancel before it is marked cancelled anyway.</summary>
    public static readonly TimeSpan CancelGrace = TimeSpan.FromMinutes(2);

    /// <inheritdoc />
    protected override string Activity => "sweeping deadlines";

    /// <inheritdoc />
    protected override TimeSpan RetryDelay => TimeSpan.FromSeconds(5);

    /// <inheritdoc />
    protected override Task RunPassAsync(CancellationToken ct) => SweepAsync(ct);

    /// <inheritdoc />
    protected override Task WaitAsync(CancellationToken ct) => Task.Delay(Interval, ct);

    /// <summary>One pass.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        foreach (var id in await store.PastDeadlineAsync(100, ct))
            await canceller.CancelAsync(id, null, GenerationErrorCodes.DeadlineExceeded, "cancel_after passed before the generation finished", ct);
        await store.ForceCancelStaleAsync(CancelGrace, ct);
    }
}
