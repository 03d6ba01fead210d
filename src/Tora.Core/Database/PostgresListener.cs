using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tora.Core.Database;

/// <summary>
/// Holds one <c>LISTEN</c> connection for a channel until stopped, replacing it when it
/// drops. The API's event hub and key cache both need this: a notification is only seen while listening, so each
/// (re)start of listening is reported through <c>onListening</c>, and a quiet connection is probed so a silently dropped
/// one is noticed within <c>probeInterval</c>.
/// </summary>
public static class PostgresListener
{
    /// <summary>Listens on <paramref name="channel"/> and calls <paramref name="onNotification"/> with each payload.</summary>
    /// <param name="dataSource">Where the connection comes from.</param>
    /// <param name="channel">The channel name (a trusted identifier).</param>
    /// <param name="onNotification">Called with each payload, on the connection's thread.</param>
    /// <param name="onListening">Called after each successful <c>LISTEN</c> (what happened while not listening was missed).</param>
    /// <param name="onFailure">Called when the connection failed, before reconnecting in 1 s.</param>
    /// <param name="probeInterval">How long a quiet connection waits before a <c>SELECT 1</c> probe.</param>
    /// <param name="logger">Where a failure is logged.</param>
    /// <param name="stoppingToken">Stops listening.</param>
    public static async Task RunAsync(
        NpgsqlDataSource dataSource, string channel, Action<string> onNotification, Action onListening, Action onFailure,
        TimeSpan probeInterval, ILogger logger, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => onNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                onListening();
                try
                {
                    while (!stoppingToken.IsCancellationRequested)
                    {
                        if (await connection.WaitAsync(probeInterval, stoppingToken)) continue;
                        await using var probe = new NpgsqlCommand("SELECT 1", connection);
                        await probe.ExecuteScalarAsync(stoppingToken);
                    }
                }
                finally
                {
                    // The pool does not reset connections (NoResetOnClose): stop listening before this one goes back.
                    try
                    {
                        await using var unlisten = new NpgsqlCommand("UNLISTEN *", connection);
                        await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
                    }
                    catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
                    {
                        // Broken connection: nothing to undo.
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                onFailure();
                logger.LogWarning(e, "LISTEN {Channel} failed; reconnecting in 1 s", channel);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);
            }
        }
    }
}
