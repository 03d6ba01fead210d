using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tora.Core.Generations;

namespace Tora.Core.Jobs;

/// <summary>
/// Enforces <c>cancel_after</c> deadlines once a second, and finishes cancels whose worker died before confirming.
/// Cancelling is idempotent, so several API instances can run it side by side.
/// </summary>
public sealed class GenerationSweeper(GenerationStore store, GenerationCanceller canceller, ILogger<GenerationSweeper> logger) : BackgroundService
{
    /// <summary>How often deadlines are checked.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How long a running job may take to confirm a cancel before it is marked cancelled anyway.</summary>
    public static readonly TimeSpan CancelGrace = TimeSpan.FromMinutes(2);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
                await Task.Delay(Interval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "sweeping deadlines failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }

    /// <summary>One pass.</summary>
    public async Task SweepAsync(CancellationToken ct)
    {
        foreach (var id in await store.PastDeadlineAsync(100, ct))
            await canceller.CancelAsync(id, null, "deadline_exceeded", "cancel_after passed before the generation finished", ct);
        await store.ForceCancelStaleAsync(CancelGrace, ct);
    }
}
