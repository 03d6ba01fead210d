namespace Tora.Worker;

/// <summary>
/// What this worker process knows about its own health, from its heartbeat loop: when it last announced itself
/// and whether its model can run. Served on the metrics port (<see cref="WorkerStatusServer"/>) so that a
/// container health check probes the worker itself, not the API.
/// </summary>
public sealed class WorkerHealth(TimeProvider clock)
{
    private readonly DateTimeOffset _started = clock.GetUtcNow();
    private DateTimeOffset? _lastHeartbeat;
    private string _lastError = "no heartbeat sent yet";
    private bool _modelReady;
    private string _modelDetail = "model not loaded yet";
    private readonly Lock _gate = new();

    /// <summary>A heartbeat reached the database; <paramref name="ready"/> and <paramref name="detail"/> are what it announced.</summary>
    public void HeartbeatSucceeded(bool ready, string detail)
    {
        lock (_gate) { _lastHeartbeat = clock.GetUtcNow(); _modelReady = ready; _modelDetail = detail; }
    }

    /// <summary>A heartbeat failed (database unreachable, ...).</summary>
    public void HeartbeatFailed(string error)
    {
        lock (_gate) _lastError = error;
    }

    /// <summary>
    /// Live: the heartbeat loop announced this worker within <paramref name="staleAfter"/> (counted from the process
    /// start before the first heartbeat). A worker that cannot reach its database cannot take jobs, so it is not live.
    /// </summary>
    public WorkerHealthReport Live(TimeSpan staleAfter)
    {
        lock (_gate)
        {
            var since = _lastHeartbeat ?? _started;
            var age = clock.GetUtcNow() - since;
            if (age <= staleAfter)
                return new WorkerHealthReport("live", true, _lastHeartbeat is null ? "starting" : $"last heartbeat {age.TotalSeconds:0.#} s ago");
            return new WorkerHealthReport("not_live", false, $"no heartbeat for {age.TotalSeconds:0} s: {_lastError}");
        }
    }

    /// <summary>Ready: live, and the model package is loaded and can run jobs.</summary>
    public WorkerHealthReport Ready(TimeSpan staleAfter)
    {
        var live = Live(staleAfter);
        if (!live.Ok) return live with { Status = "not_ready" };
        lock (_gate)
        {
            return _lastHeartbeat is not null && _modelReady
                ? new WorkerHealthReport("ready", true, _modelDetail)
                : new WorkerHealthReport("not_ready", false, _modelDetail);
        }
    }
}

/// <summary>A worker health answer: <c>status</c> (<c>live</c>, <c>not_live</c>, <c>ready</c>, <c>not_ready</c>) and why.</summary>
public sealed record WorkerHealthReport(
    [property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status,
    [property: System.Text.Json.Serialization.JsonIgnore] bool Ok,
    [property: System.Text.Json.Serialization.JsonPropertyName("detail")] string Detail);
