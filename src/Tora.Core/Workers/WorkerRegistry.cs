using Npgsql;

namespace Tora.Core.Workers;

/// <summary>A worker process as last announced.</summary>
/// <param name="Name">Unique worker name (host:pid:device).</param>
/// <param name="Model">The model it serves.</param>
/// <param name="Queue">Its Hangfire queue.</param>
/// <param name="Ready">Whether its model is usable.</param>
/// <param name="Detail">What is loaded, or why nothing is.</param>
/// <param name="Device">The GPU (or CPU) it runs on.</param>
/// <param name="HeartbeatAt">Last heartbeat.</param>
public sealed record WorkerInfo(string Name, string Model, string Queue, bool Ready, string Detail, string Device, DateTimeOffset HeartbeatAt);

/// <summary>Worker heartbeats in the <c>workers</c> table: workers write, the API reads (health, models).</summary>
public sealed class WorkerRegistry(NpgsqlDataSource dataSource)
{
    /// <summary>A worker whose last heartbeat is older than this is considered gone.</summary>
    public static readonly TimeSpan LiveWindow = TimeSpan.FromSeconds(30);

    /// <summary>Inserts or refreshes a worker's row.</summary>
    public async Task HeartbeatAsync(WorkerInfo w, DateTimeOffset startedAt, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO workers (name, model, queue, ready, detail, device, started_at, heartbeat_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, now())
            ON CONFLICT (name) DO UPDATE SET model = $2, queue = $3, ready = $4, detail = $5, device = $6, heartbeat_at = now()
            """);
        foreach (var v in new object[] { w.Name, w.Model, w.Queue, w.Ready, w.Detail, w.Device, startedAt })
            cmd.Parameters.Add(new() { Value = v });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Removes a worker's row (clean shutdown).</summary>
    public async Task RemoveAsync(string name, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("DELETE FROM workers WHERE name = $1");
        cmd.Parameters.Add(new() { Value = name });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Workers with a heartbeat inside <see cref="LiveWindow"/>.</summary>
    public async Task<IReadOnlyList<WorkerInfo>> LiveAsync(CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "SELECT name, model, queue, ready, detail, device, heartbeat_at FROM workers WHERE heartbeat_at > now() - $1 ORDER BY name");
        cmd.Parameters.Add(new() { Value = LiveWindow });
        var list = new List<WorkerInfo>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
            list.Add(new WorkerInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetBoolean(3), r.GetString(4), r.GetString(5),
                r.GetFieldValue<DateTimeOffset>(6)));
        return list;
    }
}
