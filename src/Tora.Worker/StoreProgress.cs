using System.Diagnostics;
using Tora.Contracts;
using Tora.Core.Database;
using Tora.Core.Generations;
using Tora.Core.Observability;
using Tora.Inference;

namespace Tora.Worker;

/// <summary>
/// Writes each report to the row synchronously, in order (reports come once per step, seconds apart on a GPU).
/// Progress is advisory: while the database is unreachable reports are skipped (for <see cref="OutagePause"/> after a
/// failure, so a down server costs no connect attempt per step) and the run goes on — a restart of PostgreSQL must
/// not throw away minutes of GPU work.
/// </summary>
internal sealed class StoreProgress(
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
