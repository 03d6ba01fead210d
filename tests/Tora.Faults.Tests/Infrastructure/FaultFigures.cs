using System.Text.Json;
using Xunit.Abstractions;

namespace Tora.Faults.Tests;

/// <summary>
/// The size of the bounded load each fault test sends, and the figures it reports. CI runs the short variant
/// (scale 1); <c>bench/faults/soak.sh</c> sets <c>TORA_FAULT_SCALE</c> for the full soak and collects the figures
/// written to <c>TORA_FAULT_FIGURES</c> (one JSON object per line) into docs/reliability.md's table.
/// </summary>
public static class FaultLoad
{
    /// <summary>The load multiplier (<c>TORA_FAULT_SCALE</c>, default 1).</summary>
    public static int Scale { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("TORA_FAULT_SCALE"), out var s) && s >= 1 ? s : 1;

    /// <summary><paramref name="ciCount"/> requests times <see cref="Scale"/>.</summary>
    public static int Requests(int ciCount) => ciCount * Scale;
}

/// <summary>One row of the reliability table: what a fault test sent and what became of it.</summary>
/// <param name="Fault">The fault injected, in words.</param>
/// <param name="Sent">Requests sent.</param>
/// <param name="Accepted">Requests answered 2xx (generations accepted).</param>
/// <param name="Completed">Accepted generations that reached their expected terminal state.</param>
/// <param name="Lost">Accepted generations missing, never finished, or without their result.</param>
/// <param name="Duplicated">Extra results or terminal events (blobs, rows, deliveries beyond one per generation).</param>
/// <param name="ServerErrors">Answers with a 5xx status other than the documented 503 of an outage.</param>
/// <param name="Note">Measured details (timings, status counts).</param>
public sealed record FaultFigures(string Fault, int Sent, int Accepted, int Completed, int Lost, int Duplicated, int ServerErrors, string Note)
{
    /// <summary>Writes the row to the test output and appends it to <c>TORA_FAULT_FIGURES</c> when set.</summary>
    public void Report(ITestOutputHelper output)
    {
        var json = JsonSerializer.Serialize(this, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
        output.WriteLine(json);
        if (Environment.GetEnvironmentVariable("TORA_FAULT_FIGURES") is { Length: > 0 } path)
            lock (typeof(FaultFigures)) File.AppendAllText(path, json + "\n");
    }
}
