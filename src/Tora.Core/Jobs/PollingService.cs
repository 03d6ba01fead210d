using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Tora.Core.Jobs;

/// <summary>
/// The one shape of the service's background loops (the generation and webhook outbox dispatchers, the deadline
/// sweeper): run a pass, wait, run again. A failed pass (a database outage, say) is logged and the loop goes on
/// after <see cref="RetryDelay"/>, so every loop recovers without a process restart; shutdown ends it quietly.
/// </summary>
/// <param name="logger">Where failed passes are reported.</param>
public abstract class PollingService(ILogger logger) : BackgroundService
{
    /// <summary>What a pass does, for the log line of a failed one (for example <c>dispatching generations</c>).</summary>
    protected abstract string Activity { get; }

    /// <summary>How long the loop pauses after a failed pass.</summary>
    protected virtual TimeSpan RetryDelay => TimeSpan.FromSeconds(1);

    /// <summary>One pass of work.</summary>
    protected abstract Task RunPassAsync(CancellationToken ct);

    /// <summary>Waits until the next pass is due.</summary>
    protected abstract Task WaitAsync(CancellationToken ct);

    /// <inheritdoc />
    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunPassAsync(stoppingToken);
                await WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "{Activity} failed; retrying in {Seconds:0.#} s", Activity, RetryDelay.TotalSeconds);
                await Task.Delay(RetryDelay, stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }
}
