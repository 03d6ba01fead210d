using Tora.Worker;

namespace Tora.Worker.Tests;

/// <summary>The worker's own health (served on its metrics port and probed by its image's HEALTHCHECK).</summary>
public sealed class WorkerHealthTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_starting_worker_is_live_but_not_ready_until_its_first_heartbeat_and_then_dead_once_the_start_grace_is_over()
    {
        var clock = new ManualClock();
        var health = new WorkerHealth(clock);
        Assert.Equal(("live", true), (health.Live(StaleAfter).Status, health.Live(StaleAfter).Ok));
        Assert.False(health.Ready(StaleAfter).Ok);

        clock.Now += TimeSpan.FromSeconds(21);
        health.HeartbeatFailed("connection refused");
        var dead = health.Live(StaleAfter);
        Assert.Equal("not_live", dead.Status);
        Assert.Contains("connection refused", dead.Detail);
        Assert.Equal("not_ready", health.Ready(StaleAfter).Status);
    }

    [Fact]
    public void Heartbeats_keep_a_worker_live_its_model_decides_ready_and_a_stale_heartbeat_makes_it_not_live()
    {
        var clock = new ManualClock();
        var health = new WorkerHealth(clock);
        health.HeartbeatSucceeded(ready: false, "model package /m does not exist");
        Assert.True(health.Live(StaleAfter).Ok);
        Assert.Equal(("not_ready", "model package /m does not exist"), (health.Ready(StaleAfter).Status, health.Ready(StaleAfter).Detail));

        clock.Now += TimeSpan.FromSeconds(5);
        health.HeartbeatSucceeded(ready: true, "tora-t2v on CPU");
        Assert.Equal(("ready", true), (health.Ready(StaleAfter).Status, health.Ready(StaleAfter).Ok));

        clock.Now += TimeSpan.FromSeconds(19);
        Assert.True(health.Live(StaleAfter).Ok);
        clock.Now += TimeSpan.FromSeconds(2);
        health.HeartbeatFailed("the database is shutting down");
        Assert.False(health.Live(StaleAfter).Ok);
        Assert.False(health.Ready(StaleAfter).Ok);
        Assert.Contains("the database is shutting down", health.Ready(StaleAfter).Detail);
    }
}
