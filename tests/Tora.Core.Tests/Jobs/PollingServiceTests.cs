using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tora.Core.Jobs;

namespace Tora.Core.Tests.Jobs;

/// <summary>The one background loop under the outbox dispatchers and the deadline sweeper.</summary>
public sealed class PollingServiceTests
{
    private sealed class CountingLogger : ILogger
    {
        public int Warnings;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) Interlocked.Increment(ref Warnings);
        }
    }

    /// <summary>Fails its first two passes, then counts passes; waits 5 ms between them.</summary>
    private sealed class FlakyLoop(ILogger logger) : PollingService(logger)
    {
        public int Passes;
        public readonly TaskCompletionSource FifthPass = new(TaskCreationOptions.RunContinuationsAsynchronously);
        protected override string Activity => "flaky work";
        protected override TimeSpan RetryDelay => TimeSpan.FromMilliseconds(5);
        protected override Task RunPassAsync(CancellationToken ct)
        {
            var n = Interlocked.Increment(ref Passes);
            if (n <= 2) throw new InvalidOperationException("the database is away");
            if (n == 5) FifthPass.TrySetResult();
            return Task.CompletedTask;
        }
        protected override Task WaitAsync(CancellationToken ct) => Task.Delay(5, ct);
    }

    [Fact]
    public async Task A_failed_pass_is_logged_and_the_loop_goes_on_until_stopped()
    {
        var logger = new CountingLogger();
        using var loop = new FlakyLoop(logger);
        await loop.StartAsync(CancellationToken.None);
        await loop.FifthPass.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await loop.StopAsync(CancellationToken.None);
        Assert.Equal(2, logger.Warnings);
        Assert.True(loop.ExecuteTask!.IsCompletedSuccessfully);
        var passes = loop.Passes;
        await Task.Delay(50);
        Assert.Equal(passes, loop.Passes);
    }

    [Fact]
    public async Task Stopping_while_waiting_ends_the_loop_without_an_error()
    {
        using var loop = new FlakyLoop(NullLogger.Instance);
        await loop.StartAsync(CancellationToken.None);
        await loop.StopAsync(CancellationToken.None);
        Assert.True(loop.ExecuteTask!.IsCompleted && !loop.ExecuteTask.IsFaulted);
    }
}
