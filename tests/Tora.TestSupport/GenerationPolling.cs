using System.Net.Http.Json;
using System.Text.Json;

namespace Tora.TestSupport;

/// <summary>Following generations through the public API until they reach a state (finished, a step, a phase).</summary>
public static class GenerationPolling
{
    /// <summary>The pause between two reads when the caller names none.</summary>
    public static readonly TimeSpan DefaultPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>Whether a generation's <c>status</c> is final (neither queued nor running).</summary>
    public static bool IsTerminal(JsonElement generation) => generation.GetProperty("status").GetString() is not ("queued" or "running");

    /// <summary>
    /// Polls <paramref name="location"/> until the generation leaves queued/running; after <paramref name="timeout"/>
    /// fails with the generation and what <paramref name="diagnose"/> says about it (its outbox and job state, logs).
    /// </summary>
    public static Task<JsonElement> WaitForTerminalAsync(HttpClient client, string location, TimeSpan timeout, Func<Guid, Task<string>>? diagnose = null,
        TimeSpan? poll = null) =>
        WaitUntilAsync(client, location, IsTerminal, "generation finished", timeout, diagnose, poll);

    /// <summary>
    /// Polls <paramref name="location"/> until <paramref name="condition"/> holds for the generation and returns it; after
    /// <paramref name="timeout"/> fails with <paramref name="what"/>, the generation and what <paramref name="diagnose"/> says about it.
    /// </summary>
    public static async Task<JsonElement> WaitUntilAsync(HttpClient client, string location, Func<JsonElement, bool> condition, string what,
        TimeSpan timeout, Func<Guid, Task<string>>? diagnose = null, TimeSpan? poll = null)
    {
        var held = false;
        var g = await Wait.ForAsync(() => client.GetFromJsonAsync<JsonElement>(location), g => held = condition(g), timeout, poll ?? DefaultPoll);
        if (held) return g;
        var why = diagnose is null ? "" : "\n" + await diagnose(g.GetProperty("id").GetGuid());
        throw new TimeoutException($"{what}: not within {timeout}, generation {g.GetProperty("status").GetString()}: {g}{why}");
    }

    /// <summary>
    /// Reads each of <paramref name="ids"/> with <paramref name="read"/> (which may observe every state it sees) until all
    /// are terminal, and returns them in the order of <paramref name="ids"/>; after <paramref name="timeout"/> fails with
    /// how many are unfinished and what <paramref name="diagnose"/> says about those.
    /// </summary>
    public static async Task<IReadOnlyList<JsonElement>> WaitForTerminalAsync(IReadOnlyList<Guid> ids, Func<Guid, Task<JsonElement>> read,
        TimeSpan timeout, Func<IReadOnlyList<Guid>, Task<string>>? diagnose = null, TimeSpan? poll = null)
    {
        var done = new Dictionary<Guid, JsonElement>();
        List<Guid> Unfinished() => ids.Where(id => !done.ContainsKey(id)).ToList();
        var finished = await Wait.ForAsync(async () =>
        {
            foreach (var id in Unfinished())
            {
                var g = await read(id);
                if (IsTerminal(g)) done[id] = g;
            }
            return done.Count == ids.Count;
        }, all => all, timeout, poll ?? DefaultPoll);
        if (finished) return ids.Select(id => done[id]).ToList();
        var unfinished = Unfinished();
        var why = diagnose is null ? "" : "\n" + await diagnose(unfinished);
        throw new TimeoutException($"{unfinished.Count} of {ids.Count} generations not finished within {timeout}: {string.Join(", ", unfinished)}{why}");
    }
}
