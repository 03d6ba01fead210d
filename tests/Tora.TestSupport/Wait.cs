namespace Tora.TestSupport;

/// <summary>Polling until a condition holds, failing with a message that says what did not happen.</summary>
public static class Wait
{
    /// <summary>Waits until <paramref name="done"/> holds, failing with <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> done, TimeSpan timeout, Func<string> what, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not within {timeout}: {what()}");
            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <inheritdoc cref="UntilAsync(Func{Task{bool}}, TimeSpan, Func{string}, TimeSpan?)"/>
    public static Task UntilAsync(Func<bool> done, TimeSpan timeout, Func<string> what, TimeSpan? poll = null) =>
        UntilAsync(() => Task.FromResult(done()), timeout, what, poll);
}
