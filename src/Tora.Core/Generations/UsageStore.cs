using Npgsql;

namespace Tora.Core.Generations;

/// <summary>One tenant's use of one model on one day (UTC, by when the generations were accepted).</summary>
/// <param name="Tenant">The tenant.</param>
/// <param name="Day">The UTC day the generations were accepted on.</param>
/// <param name="Model">The model.</param>
/// <param name="Generations">How many generations, by their current status.</param>
/// <param name="GpuSeconds">Worker time: the recorded worker time of each finished run, else its running time.</param>
/// <param name="GpuSecondsByPhase">Worker time of succeeded runs by pipeline phase (as the worker recorded it).</param>
/// <param name="VideoSeconds">Seconds of video produced (frames / fps of each generation that produced a video).</param>
public sealed record UsageRow(
    string Tenant, DateOnly Day, string Model, IReadOnlyDictionary<string, long> Generations,
    double GpuSeconds, IReadOnlyDictionary<string, double> GpuSecondsByPhase, double VideoSeconds);

/// <summary>Usage per tenant, day and model, read from the generation records (what has not been deleted).</summary>
public sealed class UsageStore(NpgsqlDataSource dataSource)
{
    /// <summary>Usage of generations accepted in [<paramref name="from"/>, <paramref name="to"/>), of one tenant or all (null).</summary>
    public async Task<IReadOnlyList<UsageRow>> ReadAsync(string? tenant, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        // One pass: per (tenant, day, model) the status counts, worker time, video seconds and the phase sums of the
        // timings objects (keys ending in _ms, except the whole-run worker_ms).
        await using var cmd = dataSource.CreateCommand("""
            WITH g AS (
                SELECT tenant, (created_at AT TIME ZONE 'UTC')::date AS day, model, status, timings,
                       coalesce((timings ->> 'worker_ms')::float8 / 1000, extract(epoch FROM finished_at - started_at)::float8, 0) AS gpu,
                       CASE WHEN video_bytes IS NOT NULL
                            THEN (input ->> 'num_frames')::float8 / nullif((input ->> 'fps')::float8, 0) ELSE 0 END AS video
                FROM generations
                WHERE created_at >= $1 AND created_at < $2 AND ($3::text IS NULL OR tenant = $3))
            SELECT tenant, day, model,
                   (SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*) AS n FROM g s
                        WHERE s.tenant = k.tenant AND s.day = k.day AND s.model = k.model GROUP BY status) c)::text,
                   (SELECT coalesce(sum(gpu), 0) FROM g s WHERE s.tenant = k.tenant AND s.day = k.day AND s.model = k.model),
                   (SELECT coalesce(jsonb_object_agg(phase, seconds), '{}') FROM (
                        SELECT left(e.key, -3) AS phase, sum(e.value::float8) / 1000 AS seconds
                        FROM g s, jsonb_each_text(s.timings) e
                        WHERE s.tenant = k.tenant AND s.day = k.day AND s.model = k.model AND s.status = 'succeeded'
                          AND e.key LIKE '%\_ms' AND e.key <> 'worker_ms'
                        GROUP BY 1) p)::text,
                   (SELECT coalesce(sum(video), 0) FROM g s WHERE s.tenant = k.tenant AND s.day = k.day AND s.model = k.model)
            FROM (SELECT DISTINCT tenant, day, model FROM g) k
            ORDER BY day, tenant, model
            """);
        cmd.Parameters.Add(new() { Value = from });
        cmd.Parameters.Add(new() { Value = to });
        cmd.Parameters.Add(new() { Value = (object?)tenant ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var rows = new List<UsageRow>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new UsageRow(reader.GetString(0), reader.GetFieldValue<DateOnly>(1), reader.GetString(2),
                System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, long>>(reader.GetString(3))!,
                Math.Round(reader.GetDouble(4), 3),
                System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, double>>(reader.GetString(5))!.ToDictionary(p => p.Key, p => Math.Round(p.Value, 3)),
                Math.Round(reader.GetDouble(6), 3)));
        }
        return rows;
    }
}
