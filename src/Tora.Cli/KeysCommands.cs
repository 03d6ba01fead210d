using System.CommandLine;
using System.Globalization;
using Npgsql;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Tenancy;

namespace Tora.Cli;

/// <summary>
/// <c>tora keys create|list|revoke</c>: the API key lifecycle straight on the database (the same as the admin API,
/// for the first key and for operators with database access).
/// </summary>
public static class KeysCommands
{
    /// <summary>The <c>keys</c> command group.</summary>
    public static Command Create()
    {
        var database = new Option<string?>("--database")
        {
            Description = "PostgreSQL connection string (default: ConnectionStrings__Tora or TORA_DATABASE)",
            Recursive = true,
        };

        var tenant = new Option<string>("--tenant") { Description = "Tenant that owns the key (created when missing)", Required = true };
        var admin = new Option<bool>("--admin") { Description = "An admin key: manages keys, reads every tenant's usage, opens the Hangfire dashboard (/hangfire)" };
        var name = new Option<string?>("--name") { Description = "A label for the key (at most 100 characters)" };
        var expiresInDays = new Option<int?>("--expires-in-days") { Description = "Days until the key stops authenticating (default: never)" };
        var create = new Command("create", "Create an API key for a tenant and print it (only its hash is stored)") { tenant, admin, name, expiresInDays };
        create.SetAction((parse, ct) => RunAsync(parse, database, async (keys, output) =>
        {
            var t = parse.GetValue(tenant)!;
            if (!ApiKeyStore.IsValidTenantName(t))
                throw new CliException($"tenant name '{t}' is invalid: use 1-64 lowercase letters, digits, '-' or '_'");
            var label = parse.GetValue(name);
            if (label is { Length: > 100 }) throw new CliException("--name must be at most 100 characters");
            var days = parse.GetValue(expiresInDays);
            if (days is < 1 or > 3650) throw new CliException("--expires-in-days must be between 1 and 3650");
            var key = await keys.CreateAsync(t, parse.GetValue(admin), label, days is { } d ? DateTimeOffset.UtcNow.AddDays(d) : null, ct);
            output.WriteLine(key.Key);
        }, "could not create the key", ct));

        var listTenant = new Option<string?>("--tenant") { Description = "Only this tenant's keys (default: every tenant's)" };
        var list = new Command("list", "List API keys (id, tenant, prefix, name, admin, created, expires, last used, revoked); never a secret") { listTenant };
        list.SetAction((parse, ct) => RunAsync(parse, database, async (keys, output) =>
        {
            var rows = await keys.ListAsync(parse.GetValue(listTenant), ct);
            output.WriteLine(string.Join('\t', "id", "tenant", "prefix", "name", "admin", "created_at", "expires_at", "last_used_at", "revoked_at"));
            foreach (var k in rows)
                output.WriteLine(string.Join('\t', k.Id, k.Tenant, k.Prefix, k.Name ?? "-", k.IsAdmin ? "yes" : "no",
                    Time(k.CreatedAt), Time(k.ExpiresAt), Time(k.LastUsedAt), Time(k.RevokedAt)));
        }, "could not list the keys", ct));

        var id = new Argument<string>("id") { Description = "The key's id (from 'tora keys list')" };
        var revoke = new Command("revoke", "Revoke an API key: every API instance refuses it within 5 seconds") { id };
        revoke.SetAction((parse, ct) => RunAsync(parse, database, async (keys, output) =>
        {
            var text = parse.GetValue(id)!;
            if (!Guid.TryParse(text, out var keyId)) throw new CliException($"'{text}' is not a key id (a UUID from 'tora keys list')");
            if (!await keys.RevokeAsync(keyId, ct)) throw new CliException($"no API key has id {keyId}", 1);
            output.WriteLine($"revoked {keyId}");
        }, "could not revoke the key", ct));

        return new Command("keys", "Manage API keys") { create, list, revoke, database };
    }

    private static string Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "-";

    private static async Task<int> RunAsync(ParseResult parse, Option<string?> database, Func<ApiKeyStore, TextWriter, Task> action, string failure, CancellationToken ct)
    {
        try
        {
            var connectionString = parse.GetValue(database)
                ?? Environment.GetEnvironmentVariable("ConnectionStrings__Tora")
                ?? Environment.GetEnvironmentVariable("TORA_DATABASE")
                ?? throw new CliException("no database: pass --database or set TORA_DATABASE to a PostgreSQL connection string");
            try
            {
                await using var dataSource = ServiceCollectionExtensions.CreateDataSource(connectionString, "tora-cli");
                await DatabaseMigrator.MigrateAsync(dataSource, ct);
                await action(new ApiKeyStore(dataSource), parse.InvocationConfiguration.Output);
                return 0;
            }
            catch (Exception e) when (e is NpgsqlException or ArgumentException)
            {
                throw new CliException($"{failure}: {e.Message}");
            }
        }
        catch (CliException e)
        {
            // Reported here so the one-line contract holds whatever the invocation's exception handling does.
            parse.InvocationConfiguration.Error.WriteLine($"tora: {e.Message}");
            return e.ExitCode;
        }
    }
}
