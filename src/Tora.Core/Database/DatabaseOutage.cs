using Npgsql;

namespace Tora.Core.Database;

/// <summary>
/// Tells a database outage (PostgreSQL stopped, crashed, restarting, unreachable, out of connections, or a connection
/// lost mid-command) from every other database error. An outage is the service's condition, not the request's fault:
/// the API answers it with 503 and <c>Retry-After</c> (nothing was accepted, so the client may retry — with the same
/// Idempotency-Key for a create), and background loops wait and try again.
/// </summary>
public static class DatabaseOutage
{
    /// <summary>How long a client is asked to wait before retrying (<c>Retry-After</c>): a restart takes seconds.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(2);

    /// <summary>The stable problem code of the 503.</summary>
    public const string Code = "database_unavailable";

    /// <summary>
    /// True when <paramref name="exception"/> (or one it wraps: Hangfire and the framework wrap provider errors) says the
    /// database could not be reached or dropped the connection.
    /// </summary>
    public static bool IsOutage(Exception? exception)
    {
        for (var (e, depth) = (exception, 0); e is not null && depth < 10; e = e.InnerException, depth++)
        {
            switch (e)
            {
                // The server answered: only its connection-level states are an outage, not a constraint or syntax error.
                case PostgresException p:
                    return IsOutageState(p.SqlState) || p.IsTransient;
                // Connect refused or timed out, stream broken (socket or I/O error inside), pool exhausted: Npgsql marks these transient.
                case NpgsqlException { IsTransient: true }:
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// SQL states of an unavailable server: class 08 (connection exception), 57P01 admin_shutdown (fast stop),
    /// 57P02 crash_shutdown (immediate stop, or another backend crashed), 57P03 cannot_connect_now (starting up or
    /// shutting down), 53300 too_many_connections.
    /// </summary>
    public static bool IsOutageState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal) || sqlState is "57P01" or "57P02" or "57P03" or "53300";
}
