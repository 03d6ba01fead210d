using Npgsql;
using Tora.Core.Database;

namespace Tora.Core.Jobs;

/// <summary>A generation chosen to be handed to the workers now.</summary>
/// <param name="Id">The generation.</param>
/// <param name="Queue">Its model's queue.</param>
public sealed record Release(Guid Id, string Queue);

/// <summary>What one planning pass decided.</summary>
/// <param name="Releases">The generations to hand to the workers now.</param>
/// <param name="FullQueues">
/// Queues that still hold unreleased generations but have no room left: a newly accepted generation of one of these
/// cannot be released before a worker takes one, so it needs no pass of its own.
/// </param>
public sealed record ReleasePlan(IReadOnlyList<Release> Releases, IReadOnlySet<string> FullQueues);

/// <summary>
/// Decides which queued generations go to the workers next (docs in README "Fair scheduling"): each model queue
/// holds at most one released-but-unclaimed generation per live worker (at least one), and the next one is the
/// first generation of the tenant with the lowest pass. Stride scheduling: a release adds 1/weight to the tenant's
/// pass and moves the queue's clock to the pass it was released at; a tenant whose pass is behind the clock (it
/// was idle) starts from the clock. With equal weights that is round-robin across the tenants with queued work,
/// FIFO within a tenant, so a burst of one tenant delays another's first generation by at most one per worker.
/// </summary>
public sealed class FairScheduler(LimitOptions? limits)
{
    /// <summary>
    /// Picks the releases for every queue with free room, locks their rows and records the new passes, all in
    /// <paramref name="tx"/>; the caller creates the jobs, marks the rows dispatched and commits.
    /// </summary>
    public async Task<ReleasePlan> PlanAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        var heads = await HeadsAsync(connection, tx, ct);
        if (heads.Count == 0) return new ReleasePlan([], new HashSet<string>());
        var room = await RoomAsync(connection, tx, heads.Keys, ct);
        var releases = new List<Release>();
        var full = new HashSet<string>();
        foreach (var (queue, tenants) in heads)
        {
            var free = room.TryGetValue(queue, out var r) ? r : 1;
            var released = free > 0 ? await PlanQueueAsync(connection, tx, queue, tenants, free, ct) : [];
            releases.AddRange(released);
            if (released.Count >= free) full.Add(queue);
        }
        return new ReleasePlan(releases, full);
    }

    private async Task<List<Release>> PlanQueueAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string queue, Dictionary<string, Guid> heads, int free, CancellationToken ct)
    {
        var (clock, passes) = await PassesAsync(connection, tx, queue, ct);
        var active = limits?.HasRunningCaps == true ? await ActiveAsync(connection, tx, heads.Keys, ct) : [];
        var candidates = new Dictionary<string, (double Pass, Guid Head)>();
        foreach (var (tenant, head) in heads)
        {
            var cap = limits?.MaxRunningFor(tenant) ?? 0;
            if (cap > 0 && active.GetValueOrDefault(tenant) >= cap) continue;
            candidates[tenant] = (Math.Max(passes.TryGetValue(tenant, out var p) ? p : clock, clock), head);
        }
        var releases = new List<Release>();
        var changed = new Dictionary<string, double>();
        while (releases.Count < free && candidates.Count > 0)
        {
            var (tenant, (pass, head)) = candidates.MinBy(c => (c.Value.Pass, c.Value.Head));
            var (picked, next) = await LockNextAsync(connection, tx, queue, tenant, head, ct);
            if (picked is { } id)
            {
                releases.Add(new Release(id, queue));
                clock = pass;
                pass += 1 / (limits?.WeightFor(tenant) ?? 1);
                changed[tenant] = pass;
                active[tenant] = active.GetValueOrDefault(tenant) + 1;
            }
            var cap = limits?.MaxRunningFor(tenant) ?? 0;
            if (next is { } n && (cap <= 0 || active.GetValueOrDefault(tenant) < cap)) candidates[tenant] = (pass, n);
            else candidates.Remove(tenant);
        }
        if (changed.Count > 0) await SavePassesAsync(connection, tx, queue, clock, changed, ct);
        return releases;
    }

    /// <summary>Each queue's tenants with queued outbox rows and their oldest one (a loose index scan: one probe per pair).</summary>
    private static async Task<Dictionary<string, Dictionary<string, Guid>>> HeadsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH RECURSIVE heads AS (
                (SELECT queue, tenant, id FROM generations WHERE dispatched_at IS NULL AND status = 'queued' ORDER BY queue, tenant, id LIMIT 1)
                UNION ALL
                SELECT n.queue, n.tenant, n.id FROM heads h, LATERAL (
                    SELECT queue, tenant, id FROM generations
                    WHERE dispatched_at IS NULL AND status = 'queued' AND (queue, tenant) > (h.queue, h.tenant)
                    ORDER BY queue, tenant, id LIMIT 1) n)
            SELECT queue, tenant, id FROM heads
            """, connection, tx);
        var heads = new Dictionary<string, Dictionary<string, Guid>>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var queue = reader.GetString(0);
            if (!heads.TryGetValue(queue, out var tenants)) heads[queue] = tenants = [];
            tenants[reader.GetString(1)] = reader.GetGuid(2);
        }
        return heads;
    }

    /// <summary>How long a released generation may stay unclaimed while a worker of its queue is idle before it stops holding a slot.</summary>
    public static readonly TimeSpan StuckAfter = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Free room per queue: live workers (at least one) minus released generations no worker has claimed yet. While
    /// every worker is busy those wait their turn and all count; while a worker is idle, one left unclaimed for
    /// <see cref="StuckAfter"/> is taken to be stuck (its job fetched by a worker that died before claiming it, which
    /// Hangfire hands out again only after the invisibility timeout) and no longer holds back the queue.
    /// </summary>
    /// <remarks>
    /// Counted only for the queues with work to release, one queue at a time (a lateral join), so every count is an
    /// index range of that queue whatever the other queues hold and whatever plan the statement is cached with.
    /// </remarks>
    private static async Task<Dictionary<string, int>> RoomAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, IEnumerable<string> queues, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT q.queue, greatest(w.n, 1) - CASE WHEN x.n < w.n THEN r.fresh ELSE r.n END
            FROM unnest($3::text[]) AS q(queue)
            CROSS JOIN LATERAL (SELECT count(*) AS n FROM workers WHERE queue = q.queue AND heartbeat_at > now() - $1) w
            CROSS JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE dispatched_at > now() - $2) AS fresh FROM generations
                                WHERE queue = q.queue AND dispatched_at IS NOT NULL AND status = 'queued' AND attempts = 0) r
            CROSS JOIN LATERAL (SELECT count(*) AS n FROM generations WHERE queue = q.queue AND status = 'running') x
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = Workers.WorkerRegistry.LiveWindow });
        cmd.Parameters.Add(new() { Value = StuckAfter });
        cmd.Parameters.Add(new() { Value = queues.ToArray() });
        var room = new Dictionary<string, int>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) room[reader.GetString(0)] = (int)reader.GetInt64(1);
        return room;
    }

    private static async Task<(double Clock, Dictionary<string, double> Passes)> PassesAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string queue, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT NULL, clock FROM fair_queues WHERE queue = $1
            UNION ALL SELECT tenant, pass FROM fair_shares WHERE queue = $1
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = queue });
        var clock = 0.0;
        var passes = new Dictionary<string, double>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (reader.IsDBNull(0)) clock = reader.GetDouble(1);
            else passes[reader.GetString(0)] = reader.GetDouble(1);
        }
        return (clock, passes);
    }

    /// <summary>Generations of each tenant handed to workers (released or running), for the running caps.</summary>
    private static async Task<Dictionary<string, long>> ActiveAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IEnumerable<string> tenants, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT tenant, count(*) FROM generations
            WHERE tenant = ANY($1) AND dispatched_at IS NOT NULL AND status IN ('queued', 'running') GROUP BY tenant
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = tenants.ToArray() });
        var active = new Dictionary<string, long>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) active[reader.GetString(0)] = reader.GetInt64(1);
        return active;
    }

    /// <summary>Locks the tenant's oldest unreleased generation from <paramref name="from"/> on, and finds the one after it.</summary>
    private static async Task<(Guid? Picked, Guid? Next)> LockNextAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string queue, string tenant, Guid from, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT id FROM generations
            WHERE queue = $1 AND tenant = $2 AND id >= $3 AND dispatched_at IS NULL AND status = 'queued'
            ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = queue });
        cmd.Parameters.Add(new() { Value = tenant });
        cmd.Parameters.Add(new() { Value = from });
        var ids = await cmd.ReadAllAsync(r => r.GetGuid(0), ct);
        return (ids.Count > 0 ? ids[0] : null, ids.Count > 1 ? ids[1] : null);
    }

    private static async Task SavePassesAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string queue, double clock, Dictionary<string, double> passes, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            WITH c AS (INSERT INTO fair_queues (queue, clock) VALUES ($1, $2) ON CONFLICT (queue) DO UPDATE SET clock = $2)
            INSERT INTO fair_shares (queue, tenant, pass) SELECT $1, t, p FROM unnest($3::text[], $4::float8[]) AS x(t, p)
            ON CONFLICT (queue, tenant) DO UPDATE SET pass = excluded.pass
            """, connection, tx);
        cmd.Parameters.Add(new() { Value = queue });
        cmd.Parameters.Add(new() { Value = clock });
        cmd.Parameters.Add(new() { Value = passes.Keys.ToArray() });
        cmd.Parameters.Add(new() { Value = passes.Values.ToArray() });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
