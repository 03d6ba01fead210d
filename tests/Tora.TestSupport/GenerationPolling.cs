using System.Net.Http.Json;
using System.Text.Json;

namespace Tora.TestSupport;

/// <summary>Following a generation through the public API until it is finished.</summary>
public static class GenerationPolling
{
    /// <summary>Whether a generation's <c>status</c> is final (neither queued nor running).</summary>
    public static bool IsTerminal(JsonElement generation) => generation.GetProperty("status").GetString() is not ("queued" or "running");

    /// <summary>
    /// Polls <paramref name="location"/> until the generation leaves queued/running; after <paramref name="timeout"/>
    /// fails with the generation and what <paramref name="diagnose"/> says about it (its outbox and job state).
    /// </summary>
    public static async Task<JsonElement> WaitForTerminalAsync(HttpClient client, string location, TimeSpan timeout, Func<Guid, Task<string>>? diagnose = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var g = await client.GetFromJsonAsync<JsonElement>(location);
            if (IsTerminal(g)) return g;
            if (DateTime.UtcNow > deadline)
            {
                var why = diagnose is null ? "" : "\n" + await diagnose(g.GetProperty("id").GetGuid());
                throw new TimeoutException($"generation still {g.GetProperty("status").GetString()} after {timeout}: {g}{why}");
            }
            await Task.Delay(50);
        }
    }
}
