using System.CommandLine;
using Npgsql;
using Tora.Core;
using Tora.Core.Database;
using Tora.Core.Tenancy;

namespace Tora.Cli;

/// <summary><c>tora keys create --tenant NAME [--admin]</c>: creates an API key and prints it once.</summary>
public static class KeysCommands
{
    /// <summary>The <c>keys</c> command group.</summary>
    public static Command Create()
    {
        var tenant = new Option<string>("--tenant") { Description = "Tenant that owns the key (created when missing)", Required = true };
        var admin = new Option<bool>("--admin") { Description = "The key may also open the Hangfire dashboard (/hangfire)" };
        var database = new Option<string?>("--database")
        {
            Description = "PostgreSQL connection string (default: ConnectionStrings__Tora or TORA_DATABASE)",
        };
        var create = new Command("create", "Create an API key for a tenant and print it (only its hash is stored)") { tenant, admin, database };
        create.SetAction(async (parse, ct) =>
        {
            try
            {
                return await CreateKeyAsync(parse, tenant, admin, database, ct);
            }
            catch (CliException e)
            {
                // Reported here so the one-line contract holds whatever the invocation's exception handling does.
                parse.InvocationConfiguration.Error.WriteLine($"tora: {e.Message}");
                return e.ExitCode;
            }
        });
        return new Command("keys", "Manage API keys") { create };
    }

    private static async Task<int> CreateKeyAsync(ParseResult parse, Option<string> tenant, Option<bool> admin, Option<string?> database, CancellationToken ct)
    {
        {
            var connectionString = parse.GetValue(database)
                ?? Environment.GetEnvironmentVariable("ConnectionStrings__Tora")
                ?? Environment.GetEnvironmentVariable("TORA_DATABASE")
                ?? throw new CliException("no database: pass --database or set TORA_DATABASE to a PostgreSQL connection string");
            var name = parse.GetValue(tenant)!;
            if (!ApiKeyStore.IsValidTenantName(name))
                throw new CliException($"tenant name '{name}' is invalid: use 1-64 lowercase letters, digits, '-' or '_'");
            try
            {
                await using var dataSource = ServiceCollectionExtensions.CreateDataSource(connectionString, "tora-cli");
                await DatabaseMigrator.MigrateAsync(dataSource, ct);
                var key = await new ApiKeyStore(dataSource).CreateAsync(name, parse.GetValue(admin), ct);
                parse.InvocationConfiguration.Output.WriteLine(key.Key);
                return 0;
            }
            catch (Exception e) when (e is NpgsqlException or ArgumentException)
            {
                throw new CliException($"could not create the key: {e.Message}");
            }
        }
    }
}
