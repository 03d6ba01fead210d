using Npgsql;

namespace Tora.Core.Database;

/// <summary>Reading every row of a query into a list, written once for the stores.</summary>
internal static class CommandReading
{
    /// <summary>Runs <paramref name="command"/> and maps each row with <paramref name="read"/>, in the order the rows come.</summary>
    public static async Task<List<T>> ReadAllAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) rows.Add(read(reader));
        return rows;
    }
}
